"""A backfill's helper processes: its CPU-bound Python stages, extraction and the gate's checks, on
every core.

Decoding partner files (CP949 text, Excel, JSON) and Great Expectations' pandas validation hold the
GIL: however many threads a stage gives them, one process works on about one core (measured: 1.3–1.6
of 2 cores busy over a backfill's extraction and gate). A backfill's run therefore hands them to
processes of its own, as many as the machine has cores (at most `MAX_PROCESSES`):

- extraction: a few landing files per call (`panro.extract`'s `_process_many`); the run's process
  keeps the ledger, as with threads;
- the gate: one feed per call (`panro.gate.wap.check_feed`), sending back per batch its failures at
  positions in the batch, its samples (personal data already masked) and its summary, not its rows;
  the run's process decides and publishes each feed meanwhile, reading again from the raw zone only
  the batches it holds or cuts rows from; then the run's Data Docs, rendered while dbt starts.

The processes fork from multiprocessing's forkserver, which loads the readers and the gate (Great
Expectations, about 3 s of CPU) once for all of them; the command line starts it while Prefect's
temporary server boots (`start_loading`), and a backfill's own process never loads GX. They stop
right after the gate (the one rendering the Data Docs once they are done), giving their memory
back while dbt builds. If they die, the files and feeds
they had not done are done in the run's process, on threads: the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from panro.settings import DataDirs
from panro.subprocess_life import exit_with, pool_processes

if TYPE_CHECKING:
    import duckdb

    from panro.gate.docs import DocsJob
    from panro.gate.gx import GxRun
    from panro.gate.wap import FeedJob, _Audit

log = logging.getLogger("panro.helpers")
T = TypeVar("T")


class HelperDied(RuntimeError):
    """A helper process ended while it worked for the run (killed, out of memory)."""


def _warm_up() -> None:
    """A helper's start, forked from the forkserver with the readers and GX loaded: it ends with its
    parent, the forkserver, which ends with the run's process (a forked helper exits through
    `os._exit`, so Python does not collect its objects at exit anyway).

    A helper is one of a process per core: Arrow's thread pool (CSV decoding, conversions) and
    DuckDB's (its reads, `_check`) would each start a thread per core in every helper, contending
    with the other helpers for the same cores. Each helper works on one thread."""
    import pyarrow as pa

    exit_with(os.getppid())
    pa.set_cpu_count(1)


# in the helper: the GX context of the gate run it checks for, and its DuckDB connection
_run: tuple[tuple[str, dt.datetime], GxRun] | None = None
_con: duckdb.DuckDBPyConnection | None = None


def _check(dirs: DataDirs, run_id: str, run_time: dt.datetime, keep_results: bool, job: FeedJob
           ) -> tuple[list[_Audit], dict[str, list[dict[str, Any]]], list[tuple[str, str]]]:
    """In the helper: check one feed for gate run `run_id`; its audits, and the suites and the
    (suite, label) of the results its validations added to the run's GX store."""
    global _run, _con
    import duckdb

    from panro.gate.gx import GxRun
    from panro.gate.wap import check_feed

    if _run is None or _run[0] != (run_id, run_time):   # each gate run (`audit` call) has a time of its own
        if _run is not None:
            _run[1].close()
        _run = ((run_id, run_time), GxRun(dirs, run_id, keep_results=keep_results, run_time=run_time))
    if _con is None:
        _con = duckdb.connect(config={"threads": 1})   # one thread: see `_warm_up`
        _con.execute("set TimeZone = 'UTC'")
    gxr = _run[1]
    _, before = gxr.stored()
    audits = check_feed(gxr, _con, job)
    for a in audits:
        a.table = None   # the run's process reads again the few batches whose rows it needs
    suites, results = gxr.stored()
    return audits, suites, results[len(before):]


def _render(job: DocsJob) -> Path:
    """In the helper: the run's Data Docs."""
    return job.build()


# the forkserver's exit first (it must not take seconds once the run is over), then what helpers use
_PRELOAD = ["panro.forkserver_exit", "panro.extract", "panro.gate.gx", "panro.gate.wap"]
MAX_PROCESSES = 4


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def start_loading() -> None:
    """Start the process the helpers fork from, which loads the readers and the gate (GX) once for all
    of them: now, while the run's process waits for Prefect's temporary server."""
    import multiprocessing.forkserver

    _context()
    multiprocessing.forkserver.ensure_running()


class Helpers:
    """A run's helper processes, started now, stopped by `close()`: they extract files (`submit`),
    check feeds for the gate (`check`) and render its Data Docs (`render`)."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or max(1, min(MAX_PROCESSES, os.cpu_count() or 1))
        self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=_context(),
                                         initializer=_warm_up)
        for _ in range(self.processes):
            self._pool.submit(int)  # the processes start now, not at the first call

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` in a helper; a dead helper raises BrokenProcessPool (here or from the future)."""
        return self._pool.submit(fn, *args)

    def check(self, dirs: DataDirs, run_id: str, run_time: dt.datetime, keep_results: bool, job: FeedJob
              ) -> tuple[list[_Audit], dict[str, list[dict[str, Any]]], list[tuple[str, str]]]:
        try:
            return self._pool.submit(_check, dirs, run_id, run_time, keep_results, job).result()
        except BrokenProcessPool as e:
            raise HelperDied(f"a helper process died while it checked {job.contract.name}") from e

    def render(self, job: DocsJob) -> Future[Path] | None:
        """Start rendering the run's Data Docs in a helper process (None if it cannot take it)."""
        try:
            return self._pool.submit(_render, job)
        except (BrokenProcessPool, RuntimeError):
            return None

    def rendered(self, rendering: Future[Path]) -> Path | None:
        """The Data Docs' index once rendered; None if the helper could not (the gate renders them itself)."""
        try:
            return rendering.result()
        except Exception as e:
            log.warning("the helpers could not render the Data Docs (%s: %s); the run's process will",
                        type(e).__name__, e)
            return None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in pool_processes(self._pool) if p.pid is not None]

    def close(self) -> None:
        """Stop the helpers once idle; their memory goes back as they exit (the run does not wait).
        Work already given is done first: the Data Docs rendering the run joins later, or, after a
        failure, a few files in vain (written atomically, and recorded by nobody)."""
        self._pool.shutdown(wait=False)

    def __enter__(self) -> Helpers:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
