"""Extraction into the raw zone: landing file → raw batch (Parquet) + ledger entry.

    plan (panro.extract.planning: discover, select, segments) →
    each feed's segments decoded and written (panro.extract.segments, on threads or a task runner) →
    the ledger, here, as their results come back (`Recorder`)

One batch is one version of one delivered file (docs/architecture.md). The same bytes again do
nothing; new bytes under the same name become a new batch, which the gate later publishes in place
of the old one. A file that cannot be decoded is recorded as a `failed` batch with a reason and the
run goes on. Landing files are only ever read.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from panro import settings
from panro.domain.contracts import FeedContract
from panro.extract.planning import plan
from panro.extract.report import ExtractReport, FileResult
from panro.extract.segments import ExtractContext, FeedSegments, FileDone, extract_feed
from panro.lake.ledger import Batch, Ledger
from panro.settings import DataDirs

log = logging.getLogger("panro.extract")


class Recorder:
    """Takes the units' results in as they come back, in the process that holds the ledger:
    writes its entries in transactions of up to `settings.LEDGER_FLUSH_ROWS` (each raw file they name is durable
    already: `extract_segment`), and the rest when closed, even after an error."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.results: list[FileResult] = []
        self._adds: list[Batch] = []
        self._updates: list[tuple[str, dict[str, Any]]] = []

    def record(self, done: list[FileDone]) -> None:
        for d in done:
            self.results.append(d.result)
            if d.add is not None:
                self._adds.append(d.add)
            if d.update is not None:
                self._updates.append(d.update)
            if d.result.outcome == "failed":
                log.warning("extract failed: %s", d.result.reason)
        if len(self._adds) + len(self._updates) >= settings.LEDGER_FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        self.ledger.add_many(self._adds)
        self.ledger.update_many(self._updates)
        self._adds.clear()
        self._updates.clear()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()   # what was written to raw/ is in the ledger even when a later unit failed


FeedRunner = Callable[[ExtractContext, list[FeedSegments]], Iterable[list[FileDone]]]


def in_threads(workers: int | None = None) -> FeedRunner:
    """Run the units on a pool of threads of this process (the library's default; a flow maps them
    over its task runner instead); their results in the order they finish."""
    def run(ctx: ExtractContext, units: list[FeedSegments]) -> Iterator[list[FileDone]]:
        n = workers or settings.WORKERS
        if n <= 1 or len(units) <= 1:
            for unit in units:
                yield extract_feed(ctx, unit)
            return
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="extract") as pool:
            futures = [pool.submit(extract_feed, ctx, unit) for unit in units]
            try:
                for fut in as_completed(futures):
                    yield fut.result()
            finally:
                for fut in futures:
                    fut.cancel()
    return run


def extract(dirs: DataDirs, dates: Iterable[dt.date] | None = None, *, today: dt.date | None = None,
            contracts: tuple[FeedContract, ...] | None = None, ledger: Ledger | None = None,
            workers: int | None = None, run_feeds: FeedRunner | None = None) -> ExtractReport:
    """Extract the landing files of `dates`, plus every new or changed file dated up to max(dates).

    dates=None takes every file. `today` (default: today in Asia/Seoul) bounds business dates: a file
    dated later fails. Bad files are recorded as `failed` batches, never raised; I/O errors on the
    landing or raw zone are raised (the run can be retried: extraction is idempotent). `ledger`: the
    caller's open ledger (left open), else dirs.ledger_path is opened and closed. `run_feeds`:
    where each feed's segments are decoded and written (default: `in_threads(workers)`, threads
    over feeds, the CPU count at most 8); the ledger is written here, as their results come back.
    """
    started = time.perf_counter()
    own_ledger = ledger is None
    ledger = ledger if ledger is not None else Ledger(dirs.ledger_path)
    try:
        work = plan(dirs, dates, ledger, today=today, contracts=contracts)
        runner = run_feeds or in_threads(workers)
        with Recorder(ledger) as recorder:
            if work.units:
                for done in runner(work.context, work.units):
                    recorder.record(done)
    finally:
        if own_ledger:
            ledger.close()
    report = work.report
    report.files.extend(recorder.results)
    order = {"unmatched": 0}
    report.files.sort(key=lambda r: (order.get(r.outcome, 1), r.partner, r.feed,
                                     r.business_date or dt.date.min, r.file_name))
    report.seconds = time.perf_counter() - started
    log.info("extract: %s", report.summary())
    return report
