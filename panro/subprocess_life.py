"""The life of a run's helper processes (the dbt process, panro.helpers, the temporary Prefect server
of panro.ephemeral): they end with the run.

- `exit_with(parent)`: the process exits as soon as the run's process is gone (a crash, `kill -9`),
  so no orphan keeps working on the run's files.
- `quick_exit()`: at its exit, the process leaves its objects to the operating system instead of
  collecting them once more (seconds for dbt's or Great Expectations' objects; see `panro.cli.entry`).
- `pool_processes(pool)`: in the run's process, the processes of a process pool.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.process import BaseProcess


def exit_with(parent: int, *, grace: float | None = None) -> None:
    """In a helper process: exit as soon as the process that started it is gone. With `grace`, it
    is first asked to stop (SIGTERM: a server's graceful stop) and given that many seconds."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        if grace is not None:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def quick_exit() -> None:
    """In a helper process: skip the collection of every live object at exit (the run waits for it)."""
    atexit.register(gc.freeze)


def pool_processes(pool: ProcessPoolExecutor) -> list[BaseProcess]:
    """The pool's processes (none before the first task or after shutdown). The standard library
    keeps them in a private attribute; without it, none are known, which callers treat as gone."""
    return list((getattr(pool, "_processes", None) or {}).values())
