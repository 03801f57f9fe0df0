"""Write-audit-publish: every `extracted` batch is validated by its feed's GX suite, then published
(whole, or without the rows a row rule rejects) or held in the quarantine.

How GX runs (the throughput design, issue 3 rule 6)
---------------------------------------------------
Per feed and run, the pending batches that share the contract's schema are read in one go (DuckDB
over their raw Parquet files, only their own rows of a file holding several) into one Arrow-backed
pandas frame, each batch's rows a run of its own found by `_batch_id`, and GX validates
the feed's `rows` expectations once over that union (`check_feed`); a batch whose file has another
schema (renamed, missing or extra columns) is validated in a frame of its own, where the schema
expectation fails (a missing or renamed column: the batch is held) or warns (a column the contract
does not know: schema drift, published without it).
A second, tiny validation covers the `batches` expectations on one summary row per batch (row count,
volume against the feed's recent deliveries, business date). GX counts unexpected rows first; an
expectation that found some is run again for their positions in the frame (`GxRun.validate`); since
each batch's rows are contiguous, positions map to batches with one `searchsorted`, and to rows
through `_row_number`.

A feed's check is a unit of work of its own (`check`: a feed's pending batches in, each batch's
failures at positions in the batch out, no rows), which runs wherever the caller sends it: two
threads of this process by default (`in_threads`), or the flow's task runner (threads, processes,
a Dask cluster: flows/pipeline.py). The process that holds the ledger decides and publishes each
feed as its check comes back.

Decisions (rule 2): a failed critical `batch` expectation holds the batch; critical `row` expectations
reject the rows they flag when those are at most the contract's `row_tolerance` of the batch, and hold
the batch above it; warnings never block and are reported.
"""

from __future__ import annotations

import bisect
import datetime as dt
import importlib.metadata
import logging
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from panro import quarantine as q
from panro.domain.contracts import FeedContract, load_contracts
from panro.gate.docs import DocsJob
from panro.gate.state import write_index
from panro.gate.suites import load_suite, suite_name
from panro.lake import storage
from panro.lake.batches import (
    ensure_published_schemas,
    fsync_path,
    published_dir,
    published_path,
    raw_schema,
    read_batch,
    write_parquet_atomic,
)
from panro.lake.ledger import Batch, Ledger, now_utc
from panro.runtime import faults
from panro.settings import KST_TZ, DataDirs

if TYPE_CHECKING:
    from panro.gate.gx import GxRun

log = logging.getLogger("panro.gate")

OUTCOMES = ("published", "published_with_rejections", "quarantined")
SAMPLES = 3
PUBLISH_THREADS = 4
AUDIT_THREADS = 2


# -- what the gate reports -------------------------------------------------------------------------

@dataclass
class RuleFailure:
    """One failed expectation, as it concerns one batch."""

    rule: str
    severity: str            # critical | warning | info
    unit: str                # row | batch
    reason: str              # the suite's short reason
    expectation_type: str
    columns: list[str]
    count: int               # failing rows of this batch (1 for a batch-level failure)
    rows: int                # rows of the batch
    samples: list[str] = field(default_factory=list)   # "row 5: '123-45-67890'" — personal data masked
    positions: np.ndarray | None = field(default=None, repr=False)   # union positions (row failures)
    detail: str | None = None

    def describe(self, batch: Batch) -> str:
        what = f"{batch.partner}/{batch.feed} {batch.file_name} — {self.rule}: {self.reason}"
        if self.unit == "row":
            what += f" — {self.count:,} of {self.rows:,} rows"
        if self.detail:
            what += f" — {self.detail}"
        if self.samples:
            what += " — e.g. " + "; ".join(self.samples)
        return what

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "unit": self.unit, "reason": self.reason,
                "expectation_type": self.expectation_type, "columns": self.columns, "count": self.count,
                "rows": self.rows, "samples": self.samples, "detail": self.detail}


@dataclass
class BatchOutcome:
    batch_id: str
    partner: str
    feed: str
    file_name: str
    business_date: dt.date | None
    outcome: str                     # published | published_with_rejections | quarantined
    rows_delivered: int
    rows_published: int
    rows_rejected: int
    rows_quarantined: int
    reasons: list[str] = field(default_factory=list)    # why rows were rejected / the batch was held
    warnings: list[str] = field(default_factory=list)
    quarantine_id: str | None = None                    # folder under data/quarantine/ (held or rejections)
    superseded: list[str] = field(default_factory=list)  # older versions this one replaced
    failures: list[dict[str, Any]] = field(default_factory=list)   # every failed expectation (RuleFailure)

    def rules(self, severity: str = "critical") -> set[str]:
        """The rule families that failed at a severity (`critical`, `warning`)."""
        return {f["rule"] for f in self.failures if f["severity"] == severity}

    @property
    def reconciled(self) -> bool:
        return self.rows_delivered == self.rows_published + self.rows_rejected + self.rows_quarantined

    @property
    def reason(self) -> str:
        """The first reason (why it was held or rows were rejected), else the first warning, else ''."""
        return (self.reasons or self.warnings or [""])[0]

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["business_date"] = self.business_date.isoformat() if self.business_date else None
        return d


@dataclass
class GateReport:
    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    batches: list[BatchOutcome]
    data_docs: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    docs_job: DocsJob | None = field(default=None, repr=False)   # Data Docs still to render (docs="later")

    def render_docs_in_background(self) -> threading.Thread | None:
        """Render the Data Docs left for later on a thread of their own (join it before reporting)."""
        job, self.docs_job = self.docs_job, None
        if job is None:
            return None

        def render() -> None:
            try:
                job.build()
            except Exception as e:  # a report, not data: the run goes on, the failure is logged
                log.error("could not build the GX Data Docs: %s: %s", type(e).__name__, e)

        thread = threading.Thread(target=render, name="gx-data-docs", daemon=True)
        thread.start()
        return thread

    def _sum(self, attr: str) -> int:
        return sum(getattr(b, attr) for b in self.batches)

    @property
    def rows_delivered(self) -> int:
        return self._sum("rows_delivered")

    @property
    def rows_published(self) -> int:
        return self._sum("rows_published")

    @property
    def rows_rejected(self) -> int:
        return self._sum("rows_rejected")

    @property
    def rows_quarantined(self) -> int:
        return self._sum("rows_quarantined")

    @property
    def reconciled(self) -> bool:
        """delivered = published + rejected + quarantined, per batch and in total: nothing lost."""
        return all(b.reconciled for b in self.batches) and self.rows_delivered == (
            self.rows_published + self.rows_rejected + self.rows_quarantined)

    @property
    def quarantined(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.outcome == "quarantined"]

    @property
    def warned(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.warnings]

    def counts(self) -> dict[str, int]:
        return {o: sum(b.outcome == o for b in self.batches) for o in OUTCOMES}

    def outcome(self, file_name: str) -> BatchOutcome:
        """The (latest) outcome for a delivered file name."""
        found = [b for b in self.batches if b.file_name == file_name]
        if not found:
            raise KeyError(file_name)
        return found[-1]

    def summary(self) -> str:
        c = self.counts()
        lines = [f"gate {self.run_id}: {len(self.batches)} batches — {c['published']} published, "
                 f"{c['published_with_rejections']} published with rejections, {c['quarantined']} quarantined; "
                 f"rows delivered {self.rows_delivered:,} = published {self.rows_published:,} + rejected "
                 f"{self.rows_rejected:,} + quarantined {self.rows_quarantined:,}"
                 + ("" if self.reconciled else " (NOT RECONCILED)")]
        for b in self.quarantined:
            lines.append(f"  quarantined {b.quarantine_id}: {b.reasons[0] if b.reasons else ''}")
        for b in self.batches:   # schema drift: published without the columns the contract does not know
            lines += [f"  {b.partner}/{b.feed} {b.file_name}: {f['detail']} (kept in the raw zone, not published)"
                      for f in b.failures if f["rule"] == "schema_drift"]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "counts": self.counts(),
                "rows": {"delivered": self.rows_delivered, "published": self.rows_published,
                         "rejected": self.rows_rejected, "quarantined": self.rows_quarantined},
                "reconciled": self.reconciled, "data_docs": str(self.data_docs) if self.data_docs else None,
                "timings": self.timings, "batches": [b.to_dict() for b in self.batches]}


# -- one batch under audit -------------------------------------------------------------------------

@dataclass
class _Audit:
    batch: Batch
    contract: FeedContract
    rows: int = 0
    schema: pa.Schema | None = None
    table: pa.Table | None = None     # the union table of its group
    start: int = 0                    # its rows in that table: [start, stop)
    stop: int = 0
    failures: list[RuleFailure] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)    # could not be audited at all
    summary: dict[str, Any] = field(default_factory=dict)

    def fail(self, failure: RuleFailure) -> None:
        self.failures.append(failure)


def _kst_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(KST_TZ)).date()


def _columns_of(kwargs: dict[str, Any]) -> list[str]:
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    cols += [c for c in kwargs.get("column_list") or [] if c != "_batch_id"]
    return [c for c in cols if c != "_business_date"]


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "∅"
    text = str(value)
    return repr(text[:40] + "…" if len(text) > 40 else text)


def _samples(audit: _Audit, positions: np.ndarray, columns: list[str]) -> list[str]:
    table, pii = audit.table, set(audit.contract.pii_columns)
    take = pa.array(positions[:SAMPLES])
    rownums = table.column("_row_number").take(take).to_pylist() if "_row_number" in table.column_names \
        else [None] * len(take)
    cols = [c for c in columns if c in table.column_names]
    values = {c: (["***"] * len(take) if c in pii else table.column(c).take(take).to_pylist()) for c in cols}
    out = []
    for i, rn in enumerate(rownums):
        shown = ", ".join(f"{c}={_show(values[c][i])}" if len(cols) > 1 else _show(values[c][i]) for c in cols)
        out.append(f"row {rn}: {shown}" if shown else f"row {rn}")
    return out


def _exception(result: Any) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


# -- reading pending batches -----------------------------------------------------------------------

def _signature(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, str(f.type)) for f in schema)


def _read_union(con: duckdb.DuckDBPyConnection, audits: list[_Audit]) -> pa.Table:
    """The rows of the audits' batches, from raw files with one schema: a raw file may hold other
    batches too (a segment), so only these batches' rows are read. Each batch's rows stay in their
    order; `_attach` finds where each batch is."""
    schema = audits[0].schema
    files = list(dict.fromkeys(str(a.batch.raw_path) for a in audits))
    if storage.is_remote(files[0]):   # an object store: two requests a file, where DuckDB through fsspec makes ~20
        ids = [a.batch.batch_id for a in audits] if "_batch_id" in schema.names else None
        table = storage.read_rows(files, "_batch_id", ids)
        return table.cast(schema) if table.schema != schema else table
    relation = con.read_parquet(files)
    if "_batch_id" in schema.names:
        wanted = [duckdb.ConstantExpression(a.batch.batch_id) for a in audits]
        relation = relation.filter(duckdb.ColumnExpression("_batch_id").isin(*wanted))
    table = relation.to_arrow_table()
    return table.cast(schema) if table.schema != schema else table


def _attach(audits: list[_Audit], table: pa.Table) -> tuple[pa.Table, list[_Audit]]:
    """Give each audit its rows in the union (the run of rows carrying its `_batch_id`), and check
    their number against the ledger's; the union and the audits in its order come back.

    A raw file without `_batch_id` (written by hand, or by something else than the extractor) is
    one batch, its rows the whole file, files in the order given."""
    if "_batch_id" not in table.column_names:
        start = 0
        for a in audits:
            a.table, a.start, a.stop = table, start, start + a.rows
            start += a.rows
        if table.num_rows != start:
            raise RuntimeError(f"read {table.num_rows} rows, the files' metadata says {start}")
        return table, audits
    encoded = pc.dictionary_encode(table.column("_batch_id")).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts, stops = np.r_[0, cuts], np.r_[cuts, len(codes)]
    if len(codes) and len(np.unique(codes[starts])) != len(starts):
        # a batch's rows not in one run (a parallel read): each batch together, in its row order
        order = pc.sort_indices(table, [("_batch_id", "ascending"), ("_row_number", "ascending")])
        return _attach(audits, table.take(order))
    names = encoded.dictionary.to_pylist()
    runs = {names[codes[b]]: (int(b), int(e)) for b, e in zip(starts, stops, strict=True)} if len(codes) else {}
    for a in audits:
        a.start, a.stop = runs.get(a.batch.batch_id, (table.num_rows, table.num_rows))
        a.table, found = table, a.stop - a.start
        if found != a.rows:
            a.fatal.append(f"lineage: {found:,} rows of {a.batch.batch_id} in its raw file, the ledger "
                           f"recorded {a.rows:,}")
            a.rows = found
    return table, sorted(audits, key=lambda a: (a.start, a.stop))


# Lineage text is constant per file: as pandas categoricals these columns cost next to nothing each time GX
# filters the frame (a row condition, a column with nulls) — Arrow strings would be copied every time.
_CATEGORICAL = ("_batch_id", "_partner", "_feed", "_source_file", "_file_checksum")


def _frame(table: pa.Table) -> pd.DataFrame:
    for name in _CATEGORICAL:
        if name in table.column_names and pa.types.is_string(table.schema.field(name).type):
            table = table.set_column(table.column_names.index(name), name,
                                     pc.dictionary_encode(table.column(name)))
    return table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=False)


# GX validates a pandas frame; a backfill's biggest feed (요기요 orders, 1.2M rows) as one frame, two feeds
# at a time, took the whole pipeline past 3 GB. Whole batches are grouped into frames of at most this many
# rows instead: a few more validations, a bounded peak.
MAX_ROWS_PER_VALIDATION = 400_000


def _chunks(members: list[_Audit], limit: int) -> list[list[_Audit]]:
    """Consecutive groups of whole batches with at most `limit` rows each (a bigger batch stands alone)."""
    chunks: list[list[_Audit]] = []
    rows = 0
    for a in members:
        if chunks and chunks[-1] and rows + a.rows <= limit:
            chunks[-1].append(a)
            rows += a.rows
        else:
            chunks.append([a])
            rows = a.rows
    return chunks


# -- the audit -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedJob:
    """One feed's pending batches and what checking them needs from the run's ledger: everything a
    worker other than the run's process needs to check them (`check`), as plain data."""

    contract: FeedContract
    batches: tuple[Batch, ...]
    published: dict[dt.date, int]    # rows per business date of the feed's published deliveries
    today: dt.date
    max_rows: int                    # rows per GX validation at most (MAX_ROWS_PER_VALIDATION)

    @property
    def rows(self) -> int:
        return sum(b.rows_delivered or 0 for b in self.batches)


def check_feed(gxr: GxRun, con: duckdb.DuckDBPyConnection, job: FeedJob) -> list[_Audit]:
    """Validate one feed's pending batches. Each audit comes back on its own: its failures at
    positions in its batch, its rows (when they could be read) as a table of their own."""
    audits = [_Audit(b, job.contract) for b in job.batches]
    cursor = con.cursor()
    try:
        _FeedAudit(gxr, cursor, job, audits).run()
    finally:
        cursor.close()
    for a in audits:
        _detach(a)
    return audits


@dataclass(frozen=True)
class CheckRun:
    """What every feed check of one gate run shares: plain data, sent along with each."""

    dirs: DataDirs
    run_id: str
    run_time: dt.datetime     # GX's key for the run's results, in whichever process validates
    keep_results: bool        # store the results for the Data Docs (not in a dry run)


@dataclass
class FeedCheck:
    """One feed checked: each batch's audit (failures at positions in the batch, personal data in
    samples masked, no rows), and what its validations stored for the run's Data Docs."""

    feed: str
    audits: list[_Audit]
    suites: dict[str, list[dict[str, Any]]]
    results: list[tuple[str, str]]     # (suite, label) of each result stored
    seconds: float


def check(run: CheckRun, job: FeedJob) -> FeedCheck:
    """Check one feed's pending batches, in whichever process runs it (a thread of the run's, a
    worker of a process pool or a Dask cluster). It needs the raw zone and the state folder (where
    GX stores the results) at the same paths as the run; its GX context is its own, made for it
    (a few milliseconds) and let go after it, with the frames it validated."""
    from panro.gate.gx import GxRun

    started = time.perf_counter()
    gxr = GxRun(run.dirs, run.run_id, keep_results=run.keep_results, run_time=run.run_time)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        storage.register(con, run.dirs.raw)   # a raw zone on an object store: read through fsspec
        audits = check_feed(gxr, con, job)
        suites, results = gxr.stored()
    finally:
        con.close()
        gxr.close()
    for a in audits:
        a.table = None    # the run's process reads again the few batches whose rows it needs
    return FeedCheck(job.contract.name, audits, suites, results, round(time.perf_counter() - started, 3))


FeedChecker = Callable[[CheckRun, list[FeedJob]], Iterable[FeedCheck]]


def in_threads(threads: int | None = None) -> FeedChecker:
    """Check feeds on threads of this process (the library's default; a flow maps `check` over its
    task runner instead); each feed as soon as it is checked. GX's bookkeeping holds the GIL: a
    second thread fills the first one's gaps (DuckDB's reads, Arrow's and NumPy's kernels)."""
    def run(check_run: CheckRun, jobs: list[FeedJob]) -> Iterator[FeedCheck]:
        with ThreadPoolExecutor(max(1, threads or AUDIT_THREADS), thread_name_prefix="gate") as pool:
            futures = [pool.submit(check, check_run, job) for job in jobs]
            try:
                for fut in as_completed(futures):
                    yield fut.result()
            finally:
                for fut in futures:
                    fut.cancel()
    return run


def _detach(a: _Audit) -> None:
    """From the frame a batch was validated in to the batch itself: positions count from its first row."""
    if a.table is not None:
        a.table = a.table.slice(a.start, a.stop - a.start)
    for f in a.failures:
        if f.positions is not None:
            f.positions = f.positions - a.start
    a.start, a.stop = 0, a.rows


def _read_rows(a: _Audit) -> None:
    """The rows of a checked batch (a check sends back none), read again from its raw file (in its row
    order) where the gate needs them: to hold it, to keep its rejected rows apart, or to publish it in
    the contract's schema."""
    if a.table is None and a.schema is not None:
        a.table = read_batch(str(a.batch.raw_path), a.batch.batch_id).cast(a.schema)


class _FeedAudit:
    def __init__(self, gxr: GxRun, con: duckdb.DuckDBPyConnection, job: FeedJob, audits: list[_Audit]) -> None:
        self.gxr, self.con, self.contract, self.audits = gxr, con, job.contract, audits
        self.today, self.published, self.max_rows = job.today, job.published, job.max_rows
        self.history: dict[dt.date, int] = {}
        doc = load_suite(job.contract)
        items = doc["expectations"]
        self.volume = doc["meta"].get("volume", {})
        self.row_items = [i for i in items if i["meta"].get("scope", "rows") == "rows"]
        self.batch_items = [i for i in items if i["meta"].get("scope") == "batches"]
        self.name = suite_name(job.contract)

    def run(self) -> None:
        files: dict[str, pq.FileMetaData | None] = {}     # the raw files, each read once (a segment's batches)
        for a in self.audits:
            path = a.batch.raw_path
            if path and path not in files:
                files[path] = storage.metadata_or_none(path)
            meta = files.get(path) if path else None
            if meta is None:
                a.rows = a.batch.rows_delivered or 0
                a.fatal.append(f"the raw batch file is missing ({a.batch.raw_path})")
                continue
            a.schema = meta.schema.to_arrow_schema().remove_metadata()
            # a batch's own rows in a file of several: as extracted (checked once read, `_attach`)
            a.rows = (a.batch.rows_delivered or 0) if "_batch_id" in a.schema.names else meta.num_rows
        readable = [a for a in self.audits if a.schema is not None]
        # rows per business date of the feed's current deliveries: published versions, then pending ones
        self.history = {**self.published, **{a.batch.business_date: a.rows for a in readable
                                             if a.batch.business_date is not None}}
        self._days = sorted(self.history)
        groups: dict[tuple, list[_Audit]] = defaultdict(list)
        for a in readable:
            groups[_signature(a.schema)].append(a)
        contract_sig = _signature(raw_schema(self.contract))
        ordered = sorted(groups.items(), key=lambda kv: kv[0] != contract_sig)
        for n, (sig, members) in enumerate(ordered):
            label = "pending" if sig == contract_sig else f"schema-drift-{n}"
            mistyped = self._mistyped(members[0].schema)
            for a in members:
                if mistyped:
                    a.fail(RuleFailure(rule="schema", severity="critical", unit="batch",
                                       reason="a column has another type than the contract's",
                                       expectation_type="parquet schema", columns=[], count=1, rows=a.rows,
                                       detail=", ".join(mistyped)))
            for part, chunk in enumerate(_chunks(members, self.max_rows)):
                table, chunk = _attach(chunk, _read_union(self.con, chunk))
                self._validate_rows(chunk, table, label if part == 0 else f"{label}-{part}",
                                    schema_failed=bool(mistyped))
        self._validate_batches(readable)

    def _mistyped(self, schema: pa.Schema) -> list[str]:
        """Columns whose Parquet type is not the contract's raw type (the column set is GX's to judge)."""
        expected = raw_schema(self.contract)
        return [f"{f.name} is {f.type}, the contract says {expected.field(f.name).type}"
                for f in schema if f.name in expected.names and f.type != expected.field(f.name).type]

    def _validate_rows(self, members: list[_Audit], table: pa.Table, label: str, *, schema_failed: bool) -> None:
        suite, ids = self.gxr.suite(self.name, self.row_items)
        result = self.gxr.validate(suite, _frame(table), asset=self.name, label=label)
        starts = np.array([a.start for a in members] + [members[-1].stop])
        outcomes = []
        for r in result.results:
            item = self.row_items[ids[str(r.expectation_config.id)]]
            outcomes.append((item, r))
            if item["meta"]["rule"] == "schema" and not r.success:
                schema_failed = True
        for item, r in outcomes:
            meta, kwargs = item["meta"], item["kwargs"]
            if r.success:
                continue
            error = _exception(r)
            if (error is not None or meta["rule"] == "schema_drift") and schema_failed:
                continue  # a column the schema expectation already reports as missing (or new)
            base = {"rule": meta["rule"], "severity": item.get("severity", "critical"), "unit": meta["unit"],
                    "reason": meta["reason"], "expectation_type": item["type"], "columns": _columns_of(kwargs)}
            if error is not None:
                for a in members:
                    a.fail(RuleFailure(**{**base, "severity": "critical", "unit": "batch"}, count=1, rows=a.rows,
                                       detail=f"could not be evaluated: {error}"))
                continue
            idx = r.result.get("unexpected_index_list")
            if idx is None:  # a table-level expectation: concerns every batch of the frame
                detail = None
                observed = set(r.result.get("observed_value") or [])
                expected = set(kwargs["column_set"])
                if meta["rule"] == "schema":
                    detail = (f"missing {sorted(expected - observed)}, unexpected {sorted(observed - expected)}")
                elif meta["rule"] == "schema_drift":
                    detail = f"new column(s) {sorted(observed - expected)}"
                for a in members:
                    a.fail(RuleFailure(**base, count=1, rows=a.rows, detail=detail))
                continue
            positions = np.sort(np.asarray(idx, dtype=np.int64))
            cuts = np.searchsorted(positions, starts)
            for k, a in enumerate(members):
                mine = positions[cuts[k]:cuts[k + 1]]
                if len(mine):
                    a.fail(RuleFailure(**base, count=len(mine), rows=a.rows, positions=mine,
                                       samples=_samples(a, mine, base["columns"])))
        self.gxr.store(self.name, label, result, self.contract.pii_columns)

    def _median_before(self, day: dt.date | None) -> float | None:
        if day is None:
            return None
        n = int(self.volume.get("history", 14))
        end = bisect.bisect_left(self._days, day)
        past = [self.history[d] for d in self._days[max(0, end - n):end]]
        if len(past) < min(3, n):
            return None
        median = float(statistics.median(past))
        return median if median >= float(self.volume.get("min_median_rows", 1)) else None

    def _validate_batches(self, audits: list[_Audit]) -> None:
        if not audits:
            return
        rows = []
        for a in audits:
            median = self._median_before(a.batch.business_date)
            d = a.batch.business_date
            a.summary = {
                "_batch_id": a.batch.batch_id, "_source_file": a.batch.file_name,
                "_business_date": d, "row_count": a.rows, "recent_median_rows": median,
                "row_count_vs_recent": (a.rows / median) if median else None,
                "business_date_days_ahead": (d - self.today).days if d else None,
            }
            rows.append(a.summary)
        frame = pd.DataFrame(rows).astype({"row_count_vs_recent": "float64", "recent_median_rows": "float64",
                                           "business_date_days_ahead": "float64", "row_count": "int64"})
        name = f"{self.name}.batches"
        suite, ids = self.gxr.suite(name, self.batch_items)
        result = self.gxr.validate(suite, frame, asset=name, label="pending")
        for r in result.results:
            if r.success:
                continue
            item = self.batch_items[ids[str(r.expectation_config.id)]]
            meta = item["meta"]
            error = _exception(r)
            failing = range(len(audits)) if error else r.result.get("unexpected_index_list") or []
            for pos in failing:
                a = audits[int(pos)]
                s = a.summary
                detail = (f"could not be evaluated: {error}" if error else
                          f"{s['row_count']:,} rows vs a recent median of {s['recent_median_rows']:,.0f} "
                          f"({s['row_count_vs_recent']:.2f}×)" if meta["rule"] == "volume" else
                          f"business date {s['_business_date']} is after today {self.today}"
                          if meta["rule"] == "future" else None)
                severity = "critical" if error else item.get("severity", "critical")
                a.fail(RuleFailure(rule=meta["rule"], severity=severity, unit="batch", reason=meta["reason"],
                                   expectation_type=item["type"], columns=[], count=1, rows=a.rows, detail=detail))
        self.gxr.store(name, "pending", result, [])


@dataclass
class _Decision:
    audit: _Audit
    outcome: str
    rejected: np.ndarray            # union positions of rejected rows
    reasons: list[str]
    warnings: list[str]

    @property
    def published_whole(self) -> bool:
        """Published with every row, in the contract's schema: its raw file is published as it is (a
        link, `_apply`), and its rows need not be read again."""
        a = self.audit
        return (self.outcome != "quarantined" and not len(self.rejected) and a.schema is not None
                and _signature(a.schema) == _contract_signature(a.contract))


def _decide(a: _Audit) -> _Decision:
    b, tol = a.batch, a.contract.row_tolerance
    crit = [f for f in a.failures if f.severity == "critical"]
    held = [f for f in crit if f.unit == "batch"]
    row_fail = [f for f in crit if f.unit == "row"]
    warnings = [f.describe(b) for f in a.failures if f.severity != "critical"]
    rejected = (np.unique(np.concatenate([f.positions for f in row_fail])) if row_fail
                else np.zeros(0, dtype=np.int64))
    reasons = [f"{b.partner}/{b.feed} {b.file_name} — {m}" for m in a.fatal] + [f.describe(b) for f in held]
    share = len(rejected) / a.rows if a.rows else 0.0
    if row_fail and share > tol:
        reasons.append(f"{b.partner}/{b.feed} {b.file_name} — row rules reject {len(rejected):,} of {a.rows:,} rows "
                       f"({share:.1%}), above the tolerance of {tol:.0%}: the whole batch is held")
    reasons += [f.describe(b) for f in row_fail]
    if a.fatal or held or share > tol:
        return _Decision(a, "quarantined", rejected, reasons, warnings)
    return _Decision(a, "published_with_rejections" if len(rejected) else "published", rejected, reasons, warnings)


def _row_reasons(a: _Audit, rejected: np.ndarray) -> list[list[str]]:
    by_pos: dict[int, list[str]] = {int(p): [] for p in rejected}
    for f in a.failures:
        if f.severity == "critical" and f.unit == "row" and f.positions is not None:
            for p in f.positions.tolist():
                if p in by_pos:
                    by_pos[p].append(f"{f.rule}: {f.reason}")
    return [by_pos[int(p)] for p in rejected]


def _validation_doc(a: _Audit, d: _Decision, run_id: str) -> dict[str, Any]:
    try:
        doc = load_suite(a.contract)
    except FileNotFoundError:      # a feed without a contract or suite
        doc = {"name": suite_name(a.contract), "expectations": []}
    failed = {(f.expectation_type, tuple(f.columns), f.reason): f for f in a.failures}
    results = []
    for item in doc["expectations"]:
        f = failed.get((item["type"], tuple(_columns_of(item["kwargs"])), item["meta"]["reason"]))
        kwargs = {k: (v if not (isinstance(v, list) and len(v) > 20) else f"<{len(v)} values>")
                  for k, v in item["kwargs"].items()}
        results.append({"expectation_type": item["type"], "kwargs": kwargs, "severity": item.get("severity"),
                        "meta": item["meta"], "success": f is None,
                        "result": ({"unexpected_count": f.count, "element_count": f.rows, "samples": f.samples,
                                    "detail": f.detail} if f else {"element_count": a.rows})})
    return {"suite": doc["name"], "gx_version": _gx_version(), "run_id": run_id, "batch_id": a.batch.batch_id,
            "evaluated_at": now_utc().isoformat(), "outcome": d.outcome, "success": not a.failures and not a.fatal,
            "fatal": a.fatal,
            "statistics": {"evaluated_expectations": len(results),
                           "unsuccessful_expectations": sum(not r["success"] for r in results)},
            "results": results}


def _write_quarantine(dirs: DataDirs, a: _Audit, d: _Decision, run_id: str, decided_at: dt.datetime) -> str:
    """The quarantine folder of a held batch, or of a published batch's rejected rows."""
    b, pii = a.batch, a.contract.pii_columns
    qid = q.quarantine_id(b)
    folder = q.folder(dirs, qid)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (q.BATCH_FILE, q.REJECTED_FILE):      # left by an earlier audit of the same batch
        (folder / stale).unlink(missing_ok=True)
    if a.table is not None:
        if d.outcome == "quarantined":
            write_parquet_atomic(q.mask_pii(a.table.slice(a.start, a.stop - a.start), pii), folder / q.BATCH_FILE)
        if len(d.rejected):
            rejected = q.mask_pii(a.table.take(pa.array(d.rejected)), pii)
            rejected = rejected.append_column("_reasons", pa.array(_row_reasons(a, d.rejected),
                                                                   pa.list_(pa.string())))
            write_parquet_atomic(rejected, folder / q.REJECTED_FILE)
    q.write_json(folder / q.VALIDATION_FILE, _validation_doc(a, d, run_id))
    manifest = {
        "id": qid, "batch_id": b.batch_id, "partner": b.partner, "feed": b.feed, "file_name": b.file_name,
        "business_date": b.business_date.isoformat() if b.business_date else None, "checksum": b.checksum,
        "status": "held" if d.outcome == "quarantined" else "rows_rejected", "outcome": d.outcome,
        "rows_delivered": a.rows, "rows_rejected": len(d.rejected), "run_id": run_id,
        "decided_at": decided_at.isoformat(), "reasons": d.reasons, "warnings": d.warnings,
        "failures": [f.to_dict() for f in a.failures], "history": q.read_manifest(folder).get("history", []),
    }
    q.write_manifest(folder, manifest)
    return qid


@lru_cache(maxsize=1)
def _gx_version() -> str:
    return importlib.metadata.version("great_expectations")


@lru_cache(maxsize=64)
def _contract_signature(contract: FeedContract) -> tuple[tuple[str, str], ...]:
    return _signature(raw_schema(contract))


def _link_atomic(src: Path, dst: Path) -> None:
    """Publish a batch whose every row passed: its raw file already is the published file, byte for byte.

    A hard link (no bytes copied: raw files are written once, under a name their batches give them,
    and never changed in place; a raw file of several batches is linked once for them all), an fsynced
    copy where the zones cannot share a file, or the object store's own copy (`panro.lake.storage.link`)."""
    storage.link(src, dst)


def _publish_table(a: _Audit, keep: np.ndarray | None) -> pa.Table:
    rows = a.table.slice(a.start, a.stop - a.start) if keep is None else a.table.take(pa.array(keep))
    return q.conform(rows, a.contract)


def _apply(dirs: DataDirs, ledger: Ledger, decisions: list[_Decision], run_id: str, decided_by: str,
           reason_prefix: str | None, *, dry_run: bool = False) -> list[BatchOutcome]:
    """Publish or hold each decided batch (oldest version of a file first), then update the ledger at once.

    Published files are written by a small thread pool (each write is fsync-bound); the ledger is
    updated in one statement per field set only after every file, and its rename, is durable.
    """
    decided_at = now_utc()
    updates: dict[str, dict[str, object]] = defaultdict(dict)
    status: dict[str, str] = {}
    versions: dict[tuple[str, str], dict[str, list[Batch]]] = {}
    writes: dict[Path, tuple[_Audit, np.ndarray | None, bool]] = {}   # a linked raw file: once
    outcomes = []
    for d in sorted(decisions, key=lambda d: (d.audit.batch.partner, d.audit.batch.feed,
                                              d.audit.batch.file_name, d.audit.batch.seen_at)):
        a, b = d.audit, d.audit.batch
        qid = None
        if d.outcome == "quarantined" or len(d.rejected):
            qid = q.quarantine_id(b) if dry_run else _write_quarantine(dirs, a, d, run_id, decided_at)
        out = BatchOutcome(batch_id=b.batch_id, partner=b.partner, feed=b.feed, file_name=b.file_name,
                           business_date=b.business_date, outcome=d.outcome, rows_delivered=a.rows,
                           rows_published=0, rows_rejected=0, rows_quarantined=0, reasons=d.reasons,
                           warnings=d.warnings, quarantine_id=qid,
                           failures=[f.to_dict() for f in a.failures]
                           + [{"rule": "unreadable", "severity": "critical", "unit": "batch", "reason": m}
                              for m in a.fatal])
        fields: dict[str, object] = {"rows_delivered": a.rows, "decided_at": decided_at, "decided_by": decided_by}
        if d.outcome == "quarantined":
            out.rows_quarantined = a.rows
            fields |= {"status": "quarantined", "rows_published": 0, "rows_rejected": 0,
                       "reason": "; ".join(d.reasons)[:2000]}
        else:
            keep = None
            if len(d.rejected):
                mask = np.ones(a.rows, dtype=bool)
                mask[d.rejected - a.start] = False
                keep = np.flatnonzero(mask) + a.start
            whole = d.published_whole
            if whole:   # every row as in its raw file: published as that file (with the other batches it holds)
                target = published_dir(dirs, a.contract) / Path(str(b.raw_path)).name
            else:       # a file of its own, named for its version (a newer one never overwrites it)
                target = published_path(dirs, a.contract, b.file_name, b.checksum)
            writes[target] = (a, None if whole else keep, whole)
            out.rows_rejected = len(d.rejected)
            out.rows_published = a.rows - out.rows_rejected
            note = "; ".join(([reason_prefix] if reason_prefix else []) + d.warnings + d.reasons)
            fields |= {"status": "published", "rows_published": out.rows_published,
                       "rows_rejected": out.rows_rejected, "reason": note[:2000] or None,
                       "published_path": target.relative_to(dirs.published).as_posix()}
            feed = (b.partner, b.feed)
            if feed not in versions:
                versions[feed] = defaultdict(list)
                for v in ledger.batches(partner=b.partner, feed=b.feed):
                    versions[feed][v.file_name].append(v)
            for old in versions[feed][b.file_name]:
                if old.batch_id != b.batch_id and status.get(old.batch_id, old.status) in ("published", "quarantined"):
                    status[old.batch_id] = "superseded"
                    updates[old.batch_id]["status"] = "superseded"
                    out.superseded.append(old.batch_id)
                    if not dry_run:
                        q.mark_superseded(dirs, old, by=b.batch_id)
        status[b.batch_id] = str(fields["status"])
        updates[b.batch_id] = {**fields, **updates[b.batch_id]}  # a later "superseded" wins
        outcomes.append(out)

    def write(item: tuple[Path, tuple[_Audit, np.ndarray | None, bool]]) -> None:
        path, (a, keep, whole) = item
        if whole:
            _link_atomic(storage.zone_path(str(a.batch.raw_path)), path)   # its raw file as it is: the same bytes
            return
        table = _publish_table(a, keep)
        write_parquet_atomic(table.replace_schema_metadata({"panro.batch_id": a.batch.batch_id}), path)

    if dry_run:
        return outcomes
    for folder in {path.parent for path in writes}:
        folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(PUBLISH_THREADS) as pool:
        list(pool.map(write, writes.items()))
    for folder in {path.parent for path in writes}:
        fsync_path(folder)   # the renames, before the ledger says the files are there
    faults.checkpoint("gate.apply")   # a run killed here leaves files that no ledger entry names (tests)
    ledger.update_many(list(updates.items()))
    return outcomes


def _published_history(ledger: Ledger, contract: FeedContract) -> dict[dt.date, int]:
    """Rows per business date of the feed's published deliveries (the volume rule's history)."""
    rows: dict[dt.date, int] = {}
    for b in ledger.batches(partner=contract.partner, feed=contract.feed, status="published"):
        n = b.rows_delivered if b.rows_delivered is not None else (b.rows_published or 0) + (b.rows_rejected or 0)
        if b.business_date is not None:
            rows[b.business_date] = n
    return rows


def audit(dirs: DataDirs, ledger: Ledger, *, run_id: str, contracts: tuple[FeedContract, ...] | None = None,
          batch_ids: list[str] | None = None, decided_by: str = "gate", reason: str | None = None,
          today: dt.date | None = None, dry_run: bool = False, docs: Literal["now", "later"] = "now",
          check_feeds: FeedChecker | None = None) -> GateReport:
    """Audit every `extracted` batch (or only `batch_ids`): publish, reject rows, or quarantine.

    Returns the per-batch outcomes with reconciliation totals; Data Docs are built once, at the end,
    into `dirs.reports / "data_docs"` — or, with docs="later", left to the caller
    (`GateReport.docs_job`, `GateReport.render_docs_in_background`). Other partners' batches go on
    whatever one batch does. `dry_run`: decide only — nothing is published, held, recorded in the
    ledger or stored. `check_feeds`: where the feeds are checked (default: `in_threads()`); the
    decisions, the publication and the ledger stay in this process, and are the same wherever the
    checks ran.
    """
    started, clock = now_utc(), time.perf_counter()
    contracts = tuple(contracts or load_contracts())
    if not dry_run:
        ensure_published_schemas(dirs, contracts)
    pending = ledger.batches(status="extracted")
    if batch_ids is not None:
        pending = [b for b in pending if b.batch_id in set(batch_ids)]
    by_name = {c.name: c for c in contracts}
    today = today or _kst_today()
    timings: dict[str, float] = {}
    if not pending:
        if not dry_run:
            write_index(dirs, ledger, contracts)   # as of the ledger, whatever an earlier run was stopped in
        return GateReport(run_id, started, now_utc(), [], None, timings)
    check_run = CheckRun(dirs, run_id, now_utc(), keep_results=not dry_run)
    docs_job = DocsJob(dirs, run_id, check_run.run_time)
    orphans: list[_Decision] = []  # batches of a feed without a contract
    by_feed: dict[str, list[Batch]] = defaultdict(list)
    for b in pending:
        by_feed[b.feed_name].append(b)
    jobs: list[FeedJob] = []
    for feed, batches in by_feed.items():
        contract = by_name.get(feed)
        if contract is None:
            for b in batches:
                orphan = _Audit(b, _orphan_contract(b), rows=b.rows_delivered or 0)
                orphan.fatal.append(f"no contract for feed {feed}")
                orphans.append(_Decision(orphan, "quarantined", np.zeros(0, np.int64),
                                         [f"{feed} {b.file_name} — no contract for feed {feed}"], []))
            continue
        jobs.append(FeedJob(contract, tuple(batches), _published_history(ledger, contract), today,
                            MAX_ROWS_PER_VALIDATION))
    jobs.sort(key=lambda j: -j.rows)   # biggest feeds first, so the workers finish together

    def settle(decided: list[_Decision]) -> list[BatchOutcome]:
        """Publish or hold one feed's decided batches (on the publisher's thread)."""
        for d in decided:
            if not d.published_whole:   # held, cut, or published in the contract's schema
                _read_rows(d.audit)
        return _apply(dirs, ledger, decided, run_id, decided_by, reason, dry_run=dry_run)

    # A feed is published as soon as it is decided, one feed at a time, while the workers check the
    # next ones: the run's process would otherwise wait for them, then publish a year's 4,000
    # batches alone (~1.5 s). Every feed's batches are recorded together once in place.
    settled: list[Future[list[BatchOutcome]]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="gate-publish") as publisher:
        if orphans:
            settled.append(publisher.submit(settle, orphans))
        if jobs:
            for checked in (check_feeds or in_threads())(check_run, jobs):
                timings[checked.feed] = checked.seconds
                docs_job.add(checked.suites, checked.results)
                settled.append(publisher.submit(settle, [_decide(a) for a in checked.audits]))
        timings["checks"] = round(time.perf_counter() - clock, 3)
        t = time.perf_counter()
        outcomes = sorted((o for f in settled for o in f.result()), key=lambda o: (o.partner, o.feed))
    if not dry_run:
        write_index(dirs, ledger, contracts)
    timings["publish"] = round(time.perf_counter() - t, 3)   # what was left to publish after the checks
    t = time.perf_counter()
    index, later = None, None
    if docs_job.results and not dry_run:
        if docs == "later":
            index, later = dirs.data_docs / "index.html", docs_job
        else:
            index = docs_job.build()
    timings["data_docs"] = round(time.perf_counter() - t, 3)
    timings["total"] = round(time.perf_counter() - clock, 3)
    return GateReport(run_id, started, now_utc(), outcomes, index, timings, docs_job=later)


def _orphan_contract(b: Batch) -> FeedContract:
    return FeedContract(partner=b.partner, feed=b.feed, description="", file_pattern=r"(?P<date>.*)",
                        date_format="%Y%m%d", format="csv", encoding="utf-8", delimiter=",", sheet=None,
                        records=None, document_fields=(), kind="events", key=(), columns=())
