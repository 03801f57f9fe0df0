"""What an extraction is to do: the landing discovered, the files to decode selected (the dates asked
for, plus late and corrected files) and grouped into segments, a unit of work per feed.

    discover (fsspec) → select (dates, late and corrected files) → cheap (size, mtime) check → segments

It reads the ledger and writes nothing; the units go to `panro.extract.segments.extract_feed`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from panro import settings
from panro.domain.contracts import FeedContract, load_contracts
from panro.domain.kst import today_kst
from panro.domain.personal import pii_key
from panro.extract.checksum import same_stat
from panro.extract.discover import listing_for_run, open_landing
from panro.extract.report import ExtractReport, FileResult
from panro.extract.segments import ExtractContext, FeedSegments, FileTask, Segment, heals
from panro.lake.ledger import Batch, Ledger, now_utc
from panro.settings import DataDirs

log = logging.getLogger("panro.extract")


def _known_versions(ledger: Ledger) -> dict[tuple[str, str, str], list[Batch]]:
    versions: dict[tuple[str, str, str], list[Batch]] = defaultdict(list)
    for b in ledger.batches():
        versions[(b.partner, b.feed, b.file_name)].append(b)
    for vs in versions.values():
        vs.sort(key=lambda b: b.seen_at)
    return versions


def _segments(tasks: list[FileTask]) -> list[Segment]:
    """The tasks in segments: consecutive files of one feed (by name, so by date), at most
    `settings.SEGMENT_FILES` files and `settings.SEGMENT_BYTES` delivered bytes each; biggest segments first, so that
    the workers stay busy to the end.

    A segment's new versions become one raw file: a year's 4,064 files as a few hundred, which the
    extraction writes, the gate reads and dbt's staging reads once each (docs/decisions/0004-segments.md)."""
    by_feed: dict[str, list[FileTask]] = defaultdict(list)
    for task in tasks:
        by_feed[task.file.contract.name].append(task)
    segments: list[Segment] = []
    for feed_tasks in by_feed.values():
        segment: list[FileTask] = []
        size = 0
        for task in sorted(feed_tasks, key=lambda t: t.file.file_name):
            if segment and (len(segment) >= settings.SEGMENT_FILES or size + task.file.size > settings.SEGMENT_BYTES):
                segments.append(Segment(tuple(segment)))
                segment, size = [], 0
            segment.append(task)
            size += task.file.size
        segments.append(Segment(tuple(segment)))
    return sorted(segments, key=lambda seg: -seg.size)


@dataclass(frozen=True)
class Plan:
    """What an extraction is to do: each feed's segments to decode and write (a unit of work for a
    worker: `extract_feed`, biggest first, so that the workers finish together), and what it already
    knows without them (unmatched, unchanged and deferred files)."""

    context: ExtractContext
    units: list[FeedSegments]
    report: ExtractReport


def plan(dirs: DataDirs, dates: Iterable[dt.date] | None, ledger: Ledger, *, today: dt.date | None = None,
         contracts: tuple[FeedContract, ...] | None = None) -> Plan:
    """Discover the landing files and select those to decode: the files of `dates`, plus every new or
    changed file dated up to max(dates) (dates=None: every file). Reads the ledger, writes nothing."""
    wanted = None if dates is None else set(dates)
    if wanted is not None and not wanted:
        raise ValueError("extract() got no dates; pass dates=None to take every file")
    horizon = max(wanted) if wanted else None
    contracts = contracts if contracts is not None else load_contracts()
    fs, _root = open_landing(dirs.landing_url)
    key = pii_key(dirs.state) if any(c.pii_columns for c in contracts) else None
    ctx = ExtractContext(dirs=dirs, fs=fs, today=today or today_kst(), loaded_at=now_utc(), pii_key=key)
    found, unmatched = listing_for_run(dirs.landing_url, contracts, take=True)   # the run's one listing
    report = ExtractReport()
    for u in unmatched:
        log.warning("landing file fits no contract: %s", u.reason)
        report.files.append(FileResult(u.partner, u.feed, u.file_name, None, "unmatched", reason=u.reason))
    known = _known_versions(ledger)
    tasks: list[FileTask] = []
    for f in found:
        day = f.business_date
        if horizon is not None and day is not None and day > horizon:
            report.deferred += 1
            continue
        versions = known.get(f.key, [])
        latest = versions[-1] if versions else None
        if latest is not None and same_stat(latest, f.size, f.mtime) and not heals(latest, ctx.today):
            if wanted is None or day in wanted:
                report.files.append(FileResult(
                    f.partner, f.feed, f.file_name, day, "unchanged", latest.batch_id,
                    latest.rows_delivered, latest.reason if latest.status == "failed" else None,
                    latest.checksum, latest.raw_path))
            continue
        tasks.append(FileTask(f, tuple(versions)))
    by_feed: dict[str, list[Segment]] = defaultdict(list)
    for segment in _segments(tasks):
        by_feed[segment.files[0].file.contract.name].append(segment)
    units = [FeedSegments(tuple(sorted(segs, key=lambda s: s.files[0].file.file_name))) for segs in by_feed.values()]
    return Plan(ctx, sorted(units, key=lambda u: -u.size), report)
