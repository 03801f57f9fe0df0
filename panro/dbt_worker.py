"""dbt in a process of its own, started before a run needs it and ready by the time it does.

Before its build, a run extracts and audits for seconds (a nightly) to tens of seconds (a backfill).
Meanwhile the worker imports dbt (about 3 s) as it starts, and parses the project once the run
holds its data directory's lock (`parse_ahead`: the parse writes dbt's target folder, which belongs
to the lock's holder); the build then starts from that parse (`panro.transform.parse_ahead`). The
worker serves one data directory (`panro.transform.serve_from`), so a new data directory's first
parse starts from the project's last one: about 1 s, where a parse in full takes 4 s. The build
and the docs are the same functions as in-process (`build_for_run`, `refresh_docs`), called in the
worker: same arguments, same `DbtRun` back.

The command line starts the worker even earlier (`start_early`), while Prefect's temporary server
boots and the run's process has nothing else to do; the flow then takes it over (`for_run`).

The worker never outlives its run: it is stopped when the run ends, and it exits by itself if
the run's process dies (a crash, `kill -9`), so no orphan keeps writing the work warehouse.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, TypeVar

from panro import memory, transform
from panro.settings import DataDirs
from panro.subprocess_life import exit_with, pool_processes, quick_exit

log = logging.getLogger("panro.dbt_worker")
T = TypeVar("T")


class WorkerDied(RuntimeError):
    """The dbt worker process ended during a command (killed, out of memory)."""


def _warm_up(dirs: DataDirs, parent: int) -> None:
    """The worker's start: import dbt. Never fails: the first command would import it anyway."""
    exit_with(parent)
    transform.serve_from(dirs)   # this process runs dbt for `dirs` and nothing else
    quick_exit()   # the run waits for this process to end: dbt's objects are left to the OS
    try:
        with memory.long_lived():   # dbt's modules: kept for the process's life
            import dbt.adapters.duckdb
            import dbt.cli.main  # noqa: F401
    except Exception:  # the command that needs dbt imports it again and reports the problem
        log.debug("importing dbt ahead of the run failed", exc_info=True)


def _parse(dirs: DataDirs) -> bool:
    """In the worker: parse the project for the next build. Never fails: the build would parse anyway."""
    try:
        with memory.long_lived():   # the parsed project: kept until the build, then the docs
            return transform.parse_ahead(dirs)
    except Exception:  # the build parses again and reports the problem, if any
        log.debug("dbt parse ahead of the build failed", exc_info=True)
        return False


def _nothing(dirs: DataDirs) -> None:
    """In the worker: a command that does nothing (it runs once those given before it are done)."""


class DbtWorker:
    """One run's dbt process: `parse_ahead()`, then `build_for_run()` and `refresh_docs_in_background()`,
    which run panro.transform's `build_for_run` and `refresh_docs` there. Commands run one after the
    other, in the order given."""

    def __init__(self, dirs: DataDirs) -> None:
        self.dirs = dirs
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_warm_up, initargs=(dirs, os.getpid()))
        self._pool.submit(int)  # the process starts (and imports dbt) now, not at the first command

    @property
    def pid(self) -> int | None:
        """The worker's process id (None once it is gone)."""
        processes = pool_processes(self._pool)
        return processes[0].pid if processes else None

    def _call(self, fn: Any, what: str) -> Any:
        return self._result(self._pool.submit(fn, self.dirs), what)

    @staticmethod
    def _result(future: Future[T], what: str) -> T:
        try:
            return future.result()
        except BrokenProcessPool as e:
            raise WorkerDied(f"the dbt process died during {what} (killed or out of memory?)") from e

    def wait_ready(self) -> None:
        """Return once the process has started (dbt imported) and done every command given before."""
        self._call(_nothing, "its start")

    def parse_ahead(self) -> None:
        """Parse the project now, in the background, for the build to start from (under the run's lock)."""
        self._pool.submit(_parse, self.dirs)

    def build_for_run(self) -> transform.DbtRun:
        return self._call(transform.build_for_run, "the build")

    def refresh_docs_in_background(self) -> Callable[[], transform.DbtRun | None]:
        """Start `refresh_docs` in the dbt process; call what this returns for its result."""
        future = self._pool.submit(transform.refresh_docs, self.dirs)
        return lambda: self._result(future, "dbt docs")

    @property
    def alive(self) -> bool:
        """The process is running and takes commands (not killed, not closed)."""
        processes = pool_processes(self._pool)
        return bool(processes) and all(p.is_alive() for p in processes) and not getattr(self._pool, "_broken", False)

    def close(self, *, kill: bool = False) -> None:
        """Stop the worker: once idle, or at once with `kill` (a run that ends early does not wait for dbt)."""
        processes = pool_processes(self._pool)
        if kill:
            for p in processes:
                p.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DbtWorker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(kill=exc_type is not None)


# -- started before the run ------------------------------------------------------------------------

_early: DbtWorker | None = None
_early_lock = threading.Lock()


def start_early(dirs: DataDirs) -> DbtWorker:
    """Start the dbt process for a run about to start on `dirs`, before the run itself (the command
    line, while Prefect's temporary server boots). It only imports dbt until a run takes it over
    (`for_run`); one that no run takes stops when this process exits."""
    global _early
    with _early_lock:
        if _early is None:
            _early = DbtWorker(dirs)
            atexit.register(_close_unclaimed)
        return _early


def for_run(dirs: DataDirs) -> DbtWorker:
    """The run's dbt process: the one started early for these `dirs` if it is still alive, else a new one."""
    global _early
    with _early_lock:
        early, _early = _early, None
    if early is not None:
        if early.dirs == dirs and early.alive:
            return early
        early.close(kill=True)
    return DbtWorker(dirs)


def _close_unclaimed() -> None:
    global _early
    with _early_lock:
        early, _early = _early, None
    if early is not None:
        early.close(kill=True)
