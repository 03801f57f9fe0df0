"""Checking a feed's pending batches with GX (issue 3 rule 6).

Per feed and run, the pending batches that share the contract's schema are validated together: GX
runs the feed's `rows` expectations once over their union (`check_feed`); a batch whose file has
another schema (renamed, missing or extra columns) is validated in a frame of its own, where the
schema expectation fails (a missing or renamed column) or warns (a column the contract does not know:
schema drift). A second, tiny validation covers the `batches` expectations on one summary row per
batch (row count, volume against the feed's recent deliveries, business date). GX counts unexpected
rows first; an expectation that found some is run again for their positions in the frame
(`GxRun.validate`); since each batch's rows are contiguous, positions map to batches with one
`searchsorted`, and to rows through `_row_number`.

A feed's check is a unit of work of its own (`check`: a `FeedJob` in, a `FeedCheck` out — each
batch's failures at positions in the batch, no rows), which runs wherever the caller sends it: two
threads of this process by default (`in_threads`), or the flow's task runner (threads, processes, a
Dask cluster: flows/stages.py). Great Expectations is imported only where a check runs.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from panro.domain.contracts import FeedContract
from panro.domain.personal import mask
from panro.gate.outcomes import BatchAudit, RuleFailure, columns_of
from panro.gate.reading import attach, detach, pandas_frame, read_union, signature, validation_chunks
from panro.gate.suites import load_suite, suite_name
from panro.lake import storage
from panro.lake.batches import raw_schema
from panro.lake.ledger import Batch
from panro.settings import DataDirs

if TYPE_CHECKING:
    from panro.gate.gx import GxRun


SAMPLES = 3
AUDIT_THREADS = 2


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "∅"
    text = mask(str(value))   # a phone number typed into any column is not quoted (panro.domain.personal)
    return repr(text[:40] + "…" if len(text) > 40 else text)


def _samples(audit: BatchAudit, positions: np.ndarray, columns: list[str]) -> list[str]:
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


@dataclass(frozen=True)
class FeedJob:
    """One feed's pending batches and what checking them needs from the run's ledger: everything a
    worker other than the run's process needs to check them (`check`), as plain data."""

    contract: FeedContract
    batches: tuple[Batch, ...]
    published: dict[dt.date, int]    # rows per business date of the feed's published deliveries
    today: dt.date
    max_rows: int                    # rows per GX validation at most (panro.settings.VALIDATION_ROWS)

    @property
    def rows(self) -> int:
        return sum(b.rows_delivered or 0 for b in self.batches)


def check_feed(gxr: GxRun, con: duckdb.DuckDBPyConnection, job: FeedJob) -> list[BatchAudit]:
    """Validate one feed's pending batches. Each audit comes back on its own: its failures at
    positions in its batch, no rows (each frame's rows are let go once it is validated)."""
    audits = [BatchAudit(b, job.contract) for b in job.batches]
    cursor = con.cursor()
    try:
        _FeedAudit(gxr, cursor, job, audits).run()
    finally:
        cursor.close()
    for a in audits:
        detach(a)   # failures at positions in its own batch
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
    audits: list[BatchAudit]
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
    # no rows come back (`check_feed` let each frame's go): the run's process reads again the few
    # batches whose rows it needs
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


class _FeedAudit:
    def __init__(self, gxr: GxRun, con: duckdb.DuckDBPyConnection, job: FeedJob, audits: list[BatchAudit]) -> None:
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
            # a batch's own rows in a file of several: as extracted (checked once read, `attach`)
            a.rows = (a.batch.rows_delivered or 0) if "_batch_id" in a.schema.names else meta.num_rows
        readable = [a for a in self.audits if a.schema is not None]
        # rows per business date of the feed's current deliveries: published versions, then pending ones
        self.history = {**self.published, **{a.batch.business_date: a.rows for a in readable
                                             if a.batch.business_date is not None}}
        self._days = sorted(self.history)
        groups: dict[tuple, list[BatchAudit]] = defaultdict(list)
        for a in readable:
            groups[signature(a.schema)].append(a)
        contract_sig = signature(raw_schema(self.contract))
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
            for part, chunk in enumerate(validation_chunks(members, self.max_rows)):
                table, chunk = attach(chunk, read_union(self.con, chunk))
                self._validate_rows(chunk, table, label if part == 0 else f"{label}-{part}",
                                    schema_failed=bool(mistyped))
                del table
                for a in chunk:   # its rows let go with the frame: a feed's peak is one frame's, not the feed's
                    a.table = None
        self._validate_batches(readable)

    def _mistyped(self, schema: pa.Schema) -> list[str]:
        """Columns whose Parquet type is not the contract's raw type (the column set is GX's to judge)."""
        expected = raw_schema(self.contract)
        return [f"{f.name} is {f.type}, the contract says {expected.field(f.name).type}"
                for f in schema if f.name in expected.names and f.type != expected.field(f.name).type]

    def _validate_rows(self, members: list[BatchAudit], table: pa.Table, label: str, *, schema_failed: bool) -> None:
        suite, ids = self.gxr.suite(self.name, self.row_items)
        result = self.gxr.validate(suite, pandas_frame(table), asset=self.name, label=label)
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
                    "reason": meta["reason"], "expectation_type": item["type"], "columns": columns_of(kwargs)}
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

    def _validate_batches(self, audits: list[BatchAudit]) -> None:
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
