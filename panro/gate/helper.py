"""Processes of their own for a backfill's gate checks, so that they run on both cores.

Great Expectations' pandas validation holds the GIL: however many threads the gate gives it, one
process validates on about one core (measured: 1.3–1.5 of 2 cores busy over a backfill's gate,
the rest DuckDB reading the batches). The helper's processes take feeds from the gate's queue
(`panro.gate.wap.audit`, `helper=`), check them exactly as the run's process would
(`wap.check_feed`) and send back what they found: per batch, its failures at positions in the
batch, its samples (personal data already masked) and its summary — not its rows. The run's
process decides and publishes as for any feed; the few batches it must hold or cut rows from are
read again from their raw files. Their GX results go to the run's store, under the run's name, and
one of them renders the Data Docs while the run's process publishes.

The processes fork from multiprocessing's forkserver, which loads the gate (Great Expectations,
about 3 s of CPU) once for all of them; the command line starts it while Prefect's temporary server
boots (`start_loading`), in place of loading GX in the run's process, which a backfill never does.
They stop right after the gate, giving their memory back before dbt builds. If one dies, the feed
it was checking, and any after it, are checked in the run's process: the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from panro.settings import DataDirs
from panro.subprocess_life import exit_with, quick_exit

if TYPE_CHECKING:
    import duckdb

    from panro.gate.docs import DocsJob
    from panro.gate.gx import GxRun
    from panro.gate.wap import FeedJob, _Audit

log = logging.getLogger("panro.gate")


class HelperDied(RuntimeError):
    """The helper process ended while it checked a feed (killed, out of memory)."""


def _warm_up() -> None:
    """A helper's start (forked from the forkserver, GX loaded). Never fails: a check would import it."""
    exit_with(os.getppid())   # the forkserver, which exits with the run's process
    quick_exit()


# in the helper: the GX context of the gate run it checks for, and its DuckDB connection
_run: tuple[str, GxRun] | None = None
_con: duckdb.DuckDBPyConnection | None = None


def _check(dirs: DataDirs, run_id: str, run_time: dt.datetime, keep_results: bool, job: FeedJob
           ) -> tuple[list[_Audit], dict[str, list[dict[str, Any]]], list[tuple[str, str]]]:
    """In the helper: check one feed for gate run `run_id`; its audits, and the suites and the
    (suite, label) of the results its validations added to the run's GX store."""
    global _run, _con
    import duckdb

    from panro.gate.gx import GxRun
    from panro.gate.wap import check_feed

    if _run is None or _run[0] != run_id:
        if _run is not None:
            _run[1].close()
        _run = (run_id, GxRun(dirs, run_id, keep_results=keep_results, run_time=run_time))
    if _con is None:
        _con = duckdb.connect()
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


_PRELOAD = ["panro.gate.gx", "panro.gate.wap"]


def _context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def start_loading() -> None:
    """Start the process the helpers fork from, which loads the gate (GX) once for all of them: now,
    while the run's process waits for Prefect's temporary server."""
    import multiprocessing.forkserver

    _context()
    multiprocessing.forkserver.ensure_running()


class GateHelper:
    """Processes that check feeds for the gate (`check`) and render its Data Docs (`render`),
    started now, stopped by `close()`."""

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=_context(),
                                         initializer=_warm_up)
        for _ in range(processes):
            self._pool.submit(int)  # the processes start (and import GX) now, not at the first check

    def check(self, dirs: DataDirs, run_id: str, run_time: dt.datetime, keep_results: bool, job: FeedJob
              ) -> tuple[list[_Audit], dict[str, list[dict[str, Any]]], list[tuple[str, str]]]:
        try:
            return self._pool.submit(_check, dirs, run_id, run_time, keep_results, job).result()
        except BrokenProcessPool as e:
            raise HelperDied(f"the gate's helper process died while it checked {job.contract.name}") from e

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
            log.warning("the gate's helper could not render the Data Docs (%s: %s); the run's process will",
                        type(e).__name__, e)
            return None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (getattr(self._pool, "_processes", None) or {}).values()]

    def close(self) -> None:
        """Stop the helper once it is idle; its memory goes back as it exits (the run does not wait)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> GateHelper:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
