"""A feed's new landing files decoded and written as raw segment files: extraction's unit of work.

    read + sha256 → decode per contract → pseudonymise → lineage → raw/<partner>/<feed>/<segment>.parquet

`extract_feed` takes a feed's segments (`FeedSegments`, chosen by panro.extract.planning) and returns,
as plain data, what the ledger is to learn of each file (`FileDone`): it runs wherever the run's task
runner puts it (a thread, a process, a Dask worker), and never touches the ledger. A file that cannot
be decoded comes back `failed` with its reason. Landing files are only ever read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
from fsspec import AbstractFileSystem

from panro.domain.contracts import FeedContract
from panro.domain.personal import PiiKey, pseudonymise
from panro.extract.checksum import sha256_hex, sha256_stream
from panro.extract.decoded import Decoded
from panro.extract.discover import LandingFile
from panro.extract.errors import BadFile, over
from panro.extract.limits import MB
from panro.extract.readers import decode
from panro.extract.report import FileResult
from panro.lake.batches import raw_schema, segment_path, write_parquet_atomic
from panro.lake.ledger import Batch, batch_id, now_utc
from panro.settings import DataDirs

FUTURE = "is after today"            # marks a failure that heals by itself once the date has come


# -- lineage ---------------------------------------------------------------------------------------

def with_lineage(contract: FeedContract, decoded: Decoded, *, batch: str, business_date: dt.date | None,
                 file_name: str, checksum: str, loaded_at: dt.datetime) -> pa.Table:
    """The raw batch: the partner's columns (the contract's, then any it does not know), then the
    lineage columns (panro.lake.batches.LINEAGE)."""
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
class FileTask:
    """One landing file to decode, with what the ledger knows of it."""

    file: LandingFile
    versions: tuple[Batch, ...]      # every version of this file the ledger knows, oldest first


@dataclass
class FileDone:
    """What the ledger is to learn of one file: plain data, sent back by the worker that did it."""

    result: FileResult
    add: Batch | None = None                         # a new version for the ledger
    update: tuple[str, dict[str, Any]] | None = None  # a known version to change

    def placed(self, path: str) -> FileDone:
        """The same, its rows written to the raw file `path`."""
        return FileDone(replace(self.result, raw_path=path),
                     replace(self.add, raw_path=path) if self.add is not None else None,
                     (self.update[0], {**self.update[1], "raw_path": path}) if self.update is not None else None)


@dataclass(frozen=True)
class ExtractContext:
    """What every segment of one extraction shares (sent along with each)."""

    dirs: DataDirs
    fs: AbstractFileSystem
    today: dt.date
    loaded_at: dt.datetime
    pii_key: PiiKey | None = None   # personal-data columns become keyed pseudonyms (panro.domain.personal)


def _reason(f: LandingFile, detail: str) -> str:
    return f"{f.partner}/{f.feed} {f.file_name}: {detail}"


def heals(version: Batch, today: dt.date) -> bool:
    """A version that failed only for its future date, now that the date has come."""
    return (version.status == "failed" and FUTURE in (version.reason or "")
            and version.business_date is not None and version.business_date <= today)


def _decode(ctx: ExtractContext, f: LandingFile, data: bytes, checksum: str, bid: str
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
    pii = [(c.name, c.phone) for c in f.contract.columns if c.pii]
    if pii:   # minimised at the door: no zone holds the values in clear
        if ctx.pii_key is None:
            return "failed", None, _reason(f, "the feed has personal-data columns and the extraction has no PII "
                                              "key (PANRO_PII_KEY): nothing was written")
        decoded = replace(decoded, table=pseudonymise(decoded.table, pii, ctx.pii_key))
    table = with_lineage(f.contract, decoded, batch=bid, business_date=f.business_date,
                         file_name=f.file_name, checksum=checksum, loaded_at=ctx.loaded_at)
    return "extracted", table, None


def _process(ctx: ExtractContext, task: FileTask, data: bytes | None = None) -> tuple[FileDone, pa.Table | None]:
    """One file (its bytes, when they were fetched already): what the ledger is to learn of it, and its raw
    batch when it is a new version to write (its raw path is set once the segment holding it is written:
    `extract_segment`)."""
    f = task.file
    limit = f.contract.limits.max_file_bytes
    try:
        if data is not None:   # fetched with its segment (an object store)
            checksum, size = sha256_hex(data), len(data)
        elif f.size > limit:   # never held in memory: hashed in chunks, then failed with the limit
            checksum, size = sha256_stream(ctx.fs, f.path)
            data = b""
        else:
            data = ctx.fs.cat_file(f.path)
            checksum, size = sha256_hex(data), len(data)
    except (PermissionError, IsADirectoryError, NotADirectoryError, FileNotFoundError) as e:
        # this file, not the night: reported as not extracted, with why (a later run reads it once readable)
        return FileDone(FileResult(f.partner, f.feed, f.file_name, f.business_date, "unmatched", reason=_reason(
            f, f"cannot be read ({type(e).__name__}): not extracted; the other files go on"))), None
    bid = batch_id(f.partner, f.feed, f.file_name, checksum)
    latest = task.versions[-1] if task.versions else None
    known = next((v for v in task.versions if v.checksum == checksum), None)
    seen_at = now_utc()
    base = dict(partner=f.partner, feed=f.feed, file_name=f.file_name, business_date=f.business_date,
                batch_id=bid, checksum=checksum)

    if known is not None and not heals(known, ctx.today) and (known is latest or known.status == "failed"):
        # the same content as before (touched, copied again): remember its new mtime, do nothing else
        return FileDone(FileResult(**base, outcome="unchanged", rows=known.rows_delivered,
                                reason=known.reason if known.status == "failed" else None,
                                raw_path=known.raw_path),
                     update=(bid, {"source_mtime": f.mtime, "size_bytes": size})), None

    if size > limit:
        status, table, reason = "failed", None, _reason(f, str(over(
            "max_file_mb", f"the file has {size / MB:,.1f} MB", f"{f.contract.limits.max_file_mb:g} MB")))
    else:
        status, table, reason = _decode(ctx, f, data, checksum, bid)
    rows = table.num_rows if table is not None else None
    result = FileResult(**base, outcome=status, rows=rows, reason=reason)
    if known is not None:
        # an older version delivered again (or a future-dated file whose day has come): it is
        # the file's current content once more, so it goes through the gate again
        return FileDone(result, update=(bid, {
            "status": status, "reason": reason, "rows_delivered": rows, "raw_path": None, "seen_at": seen_at,
            "source_mtime": f.mtime, "size_bytes": size, "source_uri": f.uri, "rows_published": None,
            "rows_rejected": None, "decided_at": None, "decided_by": None, "published_path": None})), table
    return FileDone(result, add=Batch(
        batch_id=bid, partner=f.partner, feed=f.feed, file_name=f.file_name, source_uri=f.uri,
        checksum=checksum, size_bytes=size, source_mtime=f.mtime, business_date=f.business_date,
        seen_at=seen_at, status=status, reason=reason, rows_delivered=rows, rows_published=None,
        rows_rejected=None, raw_path=None, decided_at=None, decided_by=None)), table


@dataclass(frozen=True)
class Segment:
    """Files of one feed, decoded one after the other and written together as one raw file."""

    files: tuple[FileTask, ...]

    @property
    def size(self) -> int:
        return sum(t.file.size for t in self.files)

    @property
    def label(self) -> str:
        first, last = self.files[0].file, self.files[-1].file
        more = f" … {last.file_name} ({len(self.files)} files)" if len(self.files) > 1 else ""
        return f"{first.contract.name} {first.file_name}{more}"


def _fetch(fs: AbstractFileSystem, paths: list[str]) -> dict[str, bytes]:
    """The bytes of a segment's files on an object store, fetched together: s3fs asks for them at once
    (one GET each, no HEAD), where one after the other each would wait for the store's answer. A local
    landing is read file by file, as it is decoded ({})."""
    if len(paths) < 2 or not getattr(fs, "async_impl", False):
        return {}
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    options = {"max_concurrency": 1} if "s3" in protocols else {}   # s3fs: no HEAD for the size first
    # a file that cannot be fetched is read again on its own, and fails alone (`_process`)
    return {p: b for p, b in fs.cat(paths, on_error="return", **options).items() if isinstance(b, bytes)}


def extract_segment(ctx: ExtractContext, segment: Segment) -> list[FileDone]:
    """Decode a segment's files; the rows of every new version among them are written together,
    into one raw file, each version's rows in a run of their own. Returns what the ledger is to
    learn of each file (no rows).

    The raw file and its rename are durable before it returns, so the ledger, written by the
    process that holds it once the result is back, never names a file a crash could lose, wherever
    it was written (a thread, a process, a Dask worker)."""
    done: list[FileDone] = []
    written: list[tuple[int, pa.Table]] = []
    fetched = _fetch(ctx.fs, [task.file.path for task in segment.files   # a file over its size limit never is
                              if task.file.size <= task.file.contract.limits.max_file_bytes])
    for task in segment.files:
        d, table = _process(ctx, task, fetched.pop(task.file.path, None))
        if table is not None:
            written.append((len(done), table))
        done.append(d)
    # one raw file per schema: the contract's, and each file with columns the contract does not know
    # (schema drift) in a file of its own; durable before this returns (the ledger names it next)
    by_schema: dict[pa.Schema, list[tuple[int, pa.Table]]] = {}
    for i, table in written:
        by_schema.setdefault(table.schema, []).append((i, table))
    for group in by_schema.values():
        batches = [(done[i].result.file_name, str(done[i].result.checksum)) for i, _ in group]
        path = segment_path(ctx.dirs, segment.files[0].file.contract, batches)
        write_parquet_atomic(pa.concat_tables([t for _, t in group]), path, sync="file_and_folder")
        for i, _ in group:
            done[i] = done[i].placed(str(path))
    return done


@dataclass(frozen=True)
class FeedSegments:
    """A feed's segments of one run: extraction's unit of work (one task run), sent as plain data
    to wherever the run's task runner puts it. A unit per feed, not per segment: a task run in
    another process costs Prefect ~0.3 s of its own (measured: docs/decisions/0023-task-runners.md),
    more than a segment's work."""

    segments: tuple[Segment, ...]

    @property
    def feed(self) -> str:
        return self.segments[0].files[0].file.contract.name

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def label(self) -> str:
        files = sum(len(s.files) for s in self.segments)
        return f"{self.feed} ({files} file{'s' if files != 1 else ''}, {len(self.segments)} raw)"


def extract_feed(ctx: ExtractContext, unit: FeedSegments) -> list[FileDone]:
    """A feed's segments, one after the other (`extract_segment`): what the ledger is to learn."""
    return [done for segment in unit.segments for done in extract_segment(ctx, segment)]
