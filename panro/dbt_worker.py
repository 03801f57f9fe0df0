"""dbt in a process of its own, started when a run starts and ready by the time the run needs it.

Before its build, a run extracts and audits for seconds (a nightly) to tens of seconds (a backfill),
mostly on one core. Meanwhile the worker imports dbt (about 2 s) and parses the project (2 s
partially, 4 s in full) on the other; the build then starts from that parse
(`panro.transform.parse_ahead`). The build and the docs are the same functions as in-process
(`build_for_run`, `refresh_docs`), called in the worker: same arguments, same `DbtRun` back.

The worker never outlives its run: it is stopped when the run ends, and it exits by itself if
the run's process dies (a crash, `kill -9`), so no orphan keeps writing the work warehouse.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any

from panro import memory, transform
from panro.settings import DataDirs

log = logging.getLogger("panro.dbt_worker")


class WorkerDied(RuntimeError):
    """The dbt worker process ended during a command (killed, out of memory)."""


def _exit_with(parent: int) -> None:
    """In the worker: exit as soon as the process that started it is gone."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _warm_up(dirs: DataDirs, parent: int) -> None:
    """The worker's start: import dbt and parse the project. Never fails: the build would parse anyway."""
    _exit_with(parent)
    # the run waits for this process to end: at its exit, Python would collect every object dbt
    # holds once more (as `panro.cli.entry`, left to the operating system instead)
    atexit.register(gc.freeze)
    try:
        with memory.long_lived():   # dbt and the parsed project: kept for the process's life
            transform.parse_ahead(dirs)
    except Exception:  # the build parses again and reports the problem, if any
        log.debug("dbt parse ahead of the build failed", exc_info=True)


class DbtWorker:
    """One run's dbt process: `build_for_run()` and `refresh_docs()` as in panro.transform."""

    def __init__(self, dirs: DataDirs) -> None:
        self.dirs = dirs
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_warm_up, initargs=(dirs, os.getpid()))
        self._pool.submit(int)  # the process starts (and warms up) now, not at the first command

    @property
    def pid(self) -> int | None:
        """The worker's process id (None once it is gone)."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        return processes[0].pid if processes else None

    def _call(self, fn: Any, what: str) -> Any:
        try:
            return self._pool.submit(fn, self.dirs).result()
        except BrokenProcessPool as e:
            raise WorkerDied(f"the dbt process died during {what} (killed or out of memory?)") from e

    def build_for_run(self) -> transform.DbtRun:
        return self._call(transform.build_for_run, "the build")

    def refresh_docs(self) -> transform.DbtRun | None:
        return self._call(transform.refresh_docs, "dbt docs")

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker: once idle, or at once with `kill` (a run that ends early does not wait for dbt)."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())  # gone after shutdown
        if kill:
            for p in processes:
                p.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DbtWorker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(kill=exc_type is not None)
