"""Extraction into the raw zone: landing file → raw batch (Parquet) + ledger entry.

    discover (fsspec) → select (dates, late and corrected files) → cheap (size, mtime) check →
    read + sha256 → decode per contract → raw/<partner>/<feed>/<file>@<sha12>.parquet → ledger
                                          (a feed's files of one run together: `_segments`)

One batch is one version of one delivered file (docs/architecture.md). The same bytes again do
nothing; new bytes under the same name become a new batch, which the gate later publishes in place
of the old one. A file that cannot be decoded is recorded as a `failed` batch with a reason and the
run goes on. Landing files are only ever read.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from fsspec import AbstractFileSystem

from panro.batches import DurableWrites, raw_schema, segment_path, write_parquet_atomic
from panro.contracts import FeedContract, load_contracts
from panro.extract.checksum import same_stat, sha256_hex
from panro.extract.discover import LandingFile, discover, open_landing
from panro.extract.errors import BadFile
from panro.extract.readers import Decoded, decode
from panro.extract.report import ExtractReport, FileResult
from panro.ledger import Batch, Ledger, batch_id, now_utc
from panro.settings import DataDirs

if TYPE_CHECKING:
    from panro.helpers import Helpers

log = logging.getLogger("panro.extract")

KST = dt.timezone(dt.timedelta(hours=9), "KST")
FUTURE = "is after today"            # marks a failure that heals by itself once the date has come
_FLUSH_EVERY = 200                    # ledger rows written per transaction
SEGMENT_FILES = 32                    # files of one feed written as one raw file, at most
SEGMENT_BYTES = 16 * 1024 * 1024      # ... and as many delivered bytes


def today_kst() -> dt.date:
    return dt.datetime.now(KST).date()


# -- lineage ---------------------------------------------------------------------------------------

def with_lineage(contract: FeedContract, decoded: Decoded, *, batch: str, business_date: dt.date | None,
                 file_name: str, checksum: str, loaded_at: dt.datetime) -> pa.Table:
    """The raw batch: the partner's columns (the contract's, then any it does not know), then the
    lineage columns (panro.batches.LINEAGE)."""
    n = decoded.table.num_rows

    def const(value: Any, kind: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, kind), n)

    lineage = [
        const(batch, pa.string()),
        const(contract.partner, pa.string()),
        const(contract.feed, pa.string()),
        const(business_date, pa.date32()),
        const(file_name, pa.string()),
        const(checksum, pa.string()),
        pa.array(decoded.row_numbers, type=pa.int64()),
        const(loaded_at, pa.timestamp("us", tz="UTC")),
    ]
    columns = [decoded.table.column(i) for i in range(decoded.table.num_columns)]
    schema = raw_schema(contract)
    if decoded.new_columns:   # schema drift: kept in the raw zone, after the contract's columns
        added = [decoded.table.schema.field(n) for n in decoded.new_columns]
        schema = pa.schema([*schema][:len(contract.columns)] + added + [*schema][len(contract.columns):])
    return pa.Table.from_arrays([*columns, *lineage], schema=schema)


# -- one file --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Task:
    file: LandingFile
    versions: tuple[Batch, ...]      # every version of this file the ledger knows, oldest first


@dataclass
class _Done:
    result: FileResult
    add: Batch | None = None                         # a new version for the ledger
    update: tuple[str, dict[str, Any]] | None = None  # a known version to change

    def placed(self, path: str) -> _Done:
        """The same, its rows written to the raw file `path`."""
        return _Done(replace(self.result, raw_path=path),
                     replace(self.add, raw_path=path) if self.add is not None else None,
                     (self.update[0], {**self.update[1], "raw_path": path}) if self.update is not None else None)


@dataclass
class _Context:
    dirs: DataDirs
    fs: AbstractFileSystem
    today: dt.date
    loaded_at: dt.datetime


def _reason(f: LandingFile, detail: str) -> str:
    return f"{f.partner}/{f.feed} {f.file_name}: {detail}"


def _heals(version: Batch, today: dt.date) -> bool:
    """A version that failed only for its future date, now that the date has come."""
    return (version.status == "failed" and FUTURE in (version.reason or "")
            and version.business_date is not None and version.business_date <= today)


def _decode(ctx: _Context, f: LandingFile, data: bytes, checksum: str, bid: str
            ) -> tuple[str, pa.Table | None, str | None]:
    """(status, raw batch, reason) of one file version: its rows with their lineage when it decodes."""
    if f.date_problem:
        return "failed", None, _reason(f, f.date_problem)
    assert f.business_date is not None
    if f.business_date > ctx.today:
        return "failed", None, _reason(
            f, f"the business date {f.business_date} in the file name {FUTURE} ({ctx.today}, Asia/Seoul): "
               "a file holds activity of a finished day; expected a date up to today")
    try:
        decoded = decode(f.contract, data)
    except BadFile as e:
        return "failed", None, _reason(f, e.detail)
    except Exception as e:  # a reader's library choked on the bytes: the file is bad, the run goes on
        return "failed", None, _reason(f, f"cannot be decoded as {f.contract.format} ({type(e).__name__}); "
                                          f"expected a {f.contract.format} file per the feed contract")
    table = with_lineage(f.contract, decoded, batch=bid, business_date=f.business_date,
                         file_name=f.file_name, checksum=checksum, loaded_at=ctx.loaded_at)
    return "extracted", table, None


def _process(ctx: _Context, task: _Task) -> tuple[_Done, pa.Table | None]:
    """One file: what the ledger is to learn of it, and its raw batch when it is a new version to write
    (its raw path is set once the segment holding it is written: `_process_segment`)."""
    f = task.file
    data = ctx.fs.cat_file(f.path)
    checksum = sha256_hex(data)
    bid = batch_id(f.partner, f.feed, f.file_name, checksum)
    size = len(data)
    latest = task.versions[-1] if task.versions else None
    known = next((v for v in task.versions if v.checksum == checksum), None)
    seen_at = now_utc()
    base = dict(partner=f.partner, feed=f.feed, file_name=f.file_name, business_date=f.business_date,
                batch_id=bid, checksum=checksum)

    if known is not None and not _heals(known, ctx.today) and (known is latest or known.status == "failed"):
        # the same content as before (touched, copied again): remember its new mtime, do nothing else
        return _Done(FileResult(**base, outcome="unchanged", rows=known.rows_delivered,
                                reason=known.reason if known.status == "failed" else None,
                                raw_path=known.raw_path),
                     update=(bid, {"source_mtime": f.mtime, "size_bytes": size})), None

    status, table, reason = _decode(ctx, f, data, checksum, bid)
    rows = table.num_rows if table is not None else None
    result = FileResult(**base, outcome=status, rows=rows, reason=reason)
    if known is not None:
        # an older version delivered again (or a future-dated file whose day has come): it is
        # the file's current content once more, so it goes through the gate again
        return _Done(result, update=(bid, {
            "status": status, "reason": reason, "rows_delivered": rows, "raw_path": None, "seen_at": seen_at,
            "source_mtime": f.mtime, "size_bytes": size, "source_uri": f.uri, "rows_published": None,
            "rows_rejected": None, "decided_at": None, "decided_by": None, "published_path": None})), table
    return _Done(result, add=Batch(
        batch_id=bid, partner=f.partner, feed=f.feed, file_name=f.file_name, source_uri=f.uri,
        checksum=checksum, size_bytes=size, source_mtime=f.mtime, business_date=f.business_date,
        seen_at=seen_at, status=status, reason=reason, rows_delivered=rows, rows_published=None,
        rows_rejected=None, raw_path=None, decided_at=None, decided_by=None)), table


def _process_segment(ctx: _Context, tasks: list[_Task]) -> list[_Done]:
    """Files of one feed (a segment: `_segments`), one after the other: the rows of every new version
    among them are written together, into one raw file, each version's rows in a run of their own.

    Runs in a helper process (one round trip for them all) or on a thread of the run's process."""
    done: list[_Done] = []
    written: list[tuple[int, pa.Table]] = []
    for task in tasks:
        d, table = _process(ctx, task)
        if table is not None:
            written.append((len(done), table))
        done.append(d)
    # one raw file per schema: the contract's, and each file with columns the contract does not know
    # (schema drift) in a file of its own
    by_schema: dict[pa.Schema, list[tuple[int, pa.Table]]] = {}
    for i, table in written:
        by_schema.setdefault(table.schema, []).append((i, table))
    for group in by_schema.values():
        batches = [(done[i].result.file_name, str(done[i].result.checksum)) for i, _ in group]
        path = segment_path(ctx.dirs, tasks[0].file.contract, batches)
        # made durable with others before the ledger names it (`DurableWrites`)
        write_parquet_atomic(pa.concat_tables([t for _, t in group]), path, sync="later")
        for i, _ in group:
            done[i] = done[i].placed(str(path))
    return done


# -- the run ---------------------------------------------------------------------------------------

def _known_versions(ledger: Ledger) -> dict[tuple[str, str, str], list[Batch]]:
    versions: dict[tuple[str, str, str], list[Batch]] = defaultdict(list)
    for b in ledger.batches():
        versions[(b.partner, b.feed, b.file_name)].append(b)
    for vs in versions.values():
        vs.sort(key=lambda b: b.seen_at)
    return versions


def _segments(tasks: list[_Task]) -> list[list[_Task]]:
    """The tasks in segments: consecutive files of one feed (by name, so by date), at most
    `SEGMENT_FILES` files and `SEGMENT_BYTES` delivered bytes each; biggest segments first, so that
    the helpers or threads stay busy to the end.

    A segment's new versions become one raw file: a year's 4,064 files as a few hundred, which the
    extraction writes, the gate reads and dbt's staging reads once each (architecture.md)."""
    by_feed: dict[str, list[_Task]] = defaultdict(list)
    for task in tasks:
        by_feed[task.file.contract.name].append(task)
    segments: list[list[_Task]] = []
    for feed_tasks in by_feed.values():
        segment: list[_Task] = []
        size = 0
        for task in sorted(feed_tasks, key=lambda t: t.file.file_name):
            if segment and (len(segment) >= SEGMENT_FILES or size + task.file.size > SEGMENT_BYTES):
                segments.append(segment)
                segment, size = [], 0
            segment.append(task)
            size += task.file.size
        segments.append(segment)
    return sorted(segments, key=lambda seg: -sum(t.file.size for t in seg))


def _run(ctx: _Context, ledger: Ledger, tasks: list[_Task], workers: int,
         helpers: Helpers | None = None) -> list[FileResult]:
    """Process the tasks in segments (`_segments`) on the helpers' processes or on a thread pool;
    write ledger entries in batches as results come in.

    Raw files are written without a sync of their own; before a ledger transaction records new ones,
    they and the renames that put them in place are made durable together (`DurableWrites`): the
    ledger never names a raw batch a crash could lose."""
    results: list[FileResult] = []
    adds: list[Batch] = []
    updates: list[tuple[str, dict[str, Any]]] = []

    def flush() -> None:
        written.sync()
        ledger.add_many(adds)
        ledger.update_many(updates)
        adds.clear()
        updates.clear()

    def record(done: _Done) -> None:
        if done.result.outcome == "extracted" and done.result.raw_path:   # its raw file is new
            written.add(Path(done.result.raw_path))
        results.append(done.result)
        if done.add is not None:
            adds.append(done.add)
        if done.update is not None:
            updates.append(done.update)
        if done.result.outcome == "failed":
            log.warning("extract failed: %s", done.result.reason)
        if len(adds) + len(updates) >= _FLUSH_EVERY:
            flush()

    segments = _segments(tasks)
    with DurableWrites(ctx.dirs.raw) as written:   # the raw files written since the last transaction
        try:
            if helpers is not None and len(tasks) > 1:
                segments = _in_processes(ctx, segments, helpers, record)
            if workers <= 1 or len(segments) <= 1:
                for segment in segments:
                    for done in _process_segment(ctx, segment):
                        record(done)
            elif segments:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:
                    queue = iter(segments)
                    running: set[Future[list[_Done]]] = set()
                    for segment in queue:  # keep a bounded number of segments in flight (memory)
                        running.add(pool.submit(_process_segment, ctx, segment))
                        if len(running) >= workers * 2:
                            break
                    while running:
                        finished, running = wait(running, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            for done in fut.result():
                                record(done)
                            nxt = next(queue, None)
                            if nxt is not None:
                                running.add(pool.submit(_process_segment, ctx, nxt))
        finally:
            flush()  # what was written to raw/ is in the ledger even when a later file errs
        return results


def _in_processes(ctx: _Context, segments: list[list[_Task]], helpers: Helpers, record: Callable[[_Done], None]
                  ) -> list[list[_Task]]:
    """Process the segments on the helpers, one per call; the segments left undone if they died.

    A segment a dying helper was writing is simply done again: its raw file is written atomically
    under a name its batches give it, and only the run's process writes the ledger."""
    queue = deque(segments)
    running: dict[Future[list[_Done]], list[_Task]] = {}
    segment: list[_Task] = []
    try:
        while queue or running:
            while queue and len(running) < 2 * helpers.processes:   # a bounded number in flight (memory)
                segment = queue.popleft()
                running[helpers.submit(_process_segment, ctx, segment)] = segment
                segment = []
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                segment = running.pop(fut)
                for done in fut.result():
                    record(done)
                segment = []
    except BrokenProcessPool:
        left = ([segment] if segment else []) + list(running.values()) + list(queue)
        log.warning("a helper process died during extraction: its %d file(s) not yet done are extracted "
                    "in the run's process", sum(len(seg) for seg in left))
        return left
    return []


def extract(dirs: DataDirs, dates: Iterable[dt.date] | None = None, *, today: dt.date | None = None,
            contracts: tuple[FeedContract, ...] | None = None, ledger: Ledger | None = None,
            workers: int | None = None, helpers: Helpers | None = None) -> ExtractReport:
    """Extract the landing files of `dates`, plus every new or changed file dated up to max(dates).

    dates=None takes every file. `today` (default: today in Asia/Seoul) bounds business dates: a file
    dated later fails. Bad files are recorded as `failed` batches, never raised; I/O errors on the
    landing or raw zone are raised (the run can be retried: extraction is idempotent). `ledger`: the
    caller's open ledger (left open), else dirs.ledger_path is opened and closed. `workers`: threads
    over files (default: the CPU count, at most 8). `helpers`: a backfill's processes
    (`panro.helpers`), which decode local landing files instead of threads; files a dead helper
    left undone go to the threads.
    """
    started = time.perf_counter()
    wanted = None if dates is None else set(dates)
    if wanted is not None and not wanted:
        raise ValueError("extract() got no dates; pass dates=None to take every file")
    horizon = max(wanted) if wanted else None
    contracts = contracts if contracts is not None else load_contracts()
    fs, root = open_landing(dirs.landing_url)
    ctx = _Context(dirs=dirs, fs=fs, today=today or today_kst(), loaded_at=now_utc())
    own_ledger = ledger is None
    ledger = ledger if ledger is not None else Ledger(dirs.ledger_path)
    try:
        found, unmatched = discover(fs, root, contracts)
        report = ExtractReport()
        for u in unmatched:
            log.warning("landing file fits no contract: %s", u.reason)
            report.files.append(FileResult(u.partner, u.feed, u.file_name, None, "unmatched", reason=u.reason))
        known = _known_versions(ledger)
        tasks: list[_Task] = []
        for f in found:
            day = f.business_date
            if horizon is not None and day is not None and day > horizon:
                report.deferred += 1
                continue
            versions = known.get(f.key, [])
            latest = versions[-1] if versions else None
            if latest is not None and same_stat(latest, f.size, f.mtime) and not _heals(latest, ctx.today):
                if wanted is None or day in wanted:
                    report.files.append(FileResult(
                        f.partner, f.feed, f.file_name, day, "unchanged", latest.batch_id,
                        latest.rows_delivered, latest.reason if latest.status == "failed" else None,
                        latest.checksum, latest.raw_path))
                continue
            tasks.append(_Task(f, tuple(versions)))
        local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
        report.files.extend(_run(ctx, ledger, tasks, workers or min(8, os.cpu_count() or 2),
                                 helpers if local else None))
    finally:
        if own_ledger:
            ledger.close()
    order = {"unmatched": 0}
    report.files.sort(key=lambda r: (order.get(r.outcome, 1), r.partner, r.feed,
                                     r.business_date or dt.date.min, r.file_name))
    report.seconds = time.perf_counter() - started
    log.info("extract: %s", report.summary())
    return report

