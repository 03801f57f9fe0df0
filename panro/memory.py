"""The run's memory: objects loaded for good kept out of the collector's way; memory the run no
longer needs given back to the operating system, between stages.

Importing Prefect, pandas and Great Expectations, or parsing the dbt project, creates hundreds of
thousands of objects that live as long as the process. Python's collector scans every one of them
at each full collection, several times while they load and at every one after: seconds of CPU per
run. `long_lived` loads them with the collector paused, then sets them aside (`gc.freeze`); later
collections scan only what the run creates.

A backfill's gate holds gigabytes of frames; freed, they stay in the allocators' pools (Arrow's,
glibc's) and the process keeps its size while the next stage, dbt in its own process, needs room.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys
import threading
from collections.abc import Iterator

_pausing = threading.Lock()
_paused = 0                 # long_lived blocks running (threads may load at the same time)
_was_enabled = True         # the collector's state before the first of them


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Load objects that live as long as the process (imports, a parsed project) with the collector
    paused, then freeze everything tracked so far. Reference counting frees what dies meanwhile; the
    collector resumes once the last concurrent `long_lived` block ends, as it was before the first.

    The price: a reference cycle that became garbage before the freeze (in the block, or on another
    thread meanwhile) is frozen too, and stays until the process exits. Imports leave few: the
    collections during a whole import of the pipeline found about 10,000 such objects."""
    global _paused, _was_enabled
    with _pausing:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pausing:
            gc.freeze()
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


def give_back() -> None:
    """Collect garbage, then return the free pages of Arrow's pool and of glibc's heap (Linux)."""
    import pyarrow as pa  # here: the command line imports this module before `long_lived` pauses the collector

    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        libc = ctypes.util.find_library("c")
        if libc:
            with contextlib.suppress(OSError, AttributeError):  # not glibc: musl has no malloc_trim
                ctypes.CDLL(libc).malloc_trim(0)
