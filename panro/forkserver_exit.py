"""Loaded first by the helpers' forkserver (`panro.helpers`), and by nothing else: when the run's
process is gone, the forkserver exits at once and leaves its objects to the operating system.

The forkserver loads the readers and Great Expectations for the helpers it forks. When the run's
process exits, it ends too, with Python's usual finalization: a last collection and the teardown of
every module it loaded, ~0.7 s of CPU after the run is over, with the run's standard output and
error still open (a pipe reading them waited for it). Its children never run exit handlers
(multiprocessing ends them with `os._exit`), so this handler is the forkserver's alone.
"""

import atexit
import os

atexit.register(os._exit, 0)
