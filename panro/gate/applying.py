"""Applying the gate's decisions: publish each batch (its raw file linked as it is, or its kept rows
written in the contract's schema), write the quarantine folder of a held batch or of a published
batch's rejected rows, mark the older versions of a file superseded, then record it all in the ledger
at once — after every file, and its rename, is durable.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from panro.gate import quarantine_files as q
from panro.gate.deciding import Decision, row_reasons
from panro.gate.outcomes import BatchAudit, BatchOutcome, columns_of
from panro.gate.suites import load_suite, suite_name
from panro.lake import storage
from panro.lake.batches import fsync_path, published_dir, published_path, write_parquet_atomic
from panro.lake.ledger import Batch, Ledger, now_utc
from panro.runtime import faults
from panro.settings import DataDirs

PUBLISH_THREADS = 4


def _validation_doc(a: BatchAudit, d: Decision, run_id: str) -> dict[str, Any]:
    try:
        doc = load_suite(a.contract)
    except FileNotFoundError:      # a feed without a contract or suite
        doc = {"name": suite_name(a.contract), "expectations": []}
    failed = {(f.expectation_type, tuple(f.columns), f.reason): f for f in a.failures}
    results = []
    for item in doc["expectations"]:
        f = failed.get((item["type"], tuple(columns_of(item["kwargs"])), item["meta"]["reason"]))
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


def _write_quarantine(dirs: DataDirs, a: BatchAudit, d: Decision, run_id: str, decided_at: dt.datetime) -> str:
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
            rejected = rejected.append_column("_reasons", pa.array(row_reasons(a, d.rejected),
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


def _link_atomic(src: Path, dst: Path) -> None:
    """Publish a batch whose every row passed: its raw file already is the published file, byte for byte.

    A hard link (no bytes copied: raw files are written once, under a name their batches give them,
    and never changed in place; a raw file of several batches is linked once for them all), an fsynced
    copy where the zones cannot share a file, or the object store's own copy (`panro.lake.storage.link`)."""
    storage.link(src, dst)


def _publish_table(a: BatchAudit, keep: np.ndarray | None) -> pa.Table:
    rows = a.table.slice(a.start, a.stop - a.start) if keep is None else a.table.take(pa.array(keep))
    return q.conform(rows, a.contract)


def apply_decisions(dirs: DataDirs, ledger: Ledger, decisions: list[Decision], run_id: str, decided_by: str,
                    reason_prefix: str | None, *, dry_run: bool = False) -> list[BatchOutcome]:
    """Publish or hold each decided batch (oldest version of a file first), then update the ledger at once.

    Published files are written by a small thread pool (each write is fsync-bound); the ledger is
    updated in one statement per field set only after every file, and its rename, is durable.
    """
    decided_at = now_utc()
    updates: dict[str, dict[str, object]] = defaultdict(dict)
    status: dict[str, str] = {}
    versions: dict[tuple[str, str], dict[str, list[Batch]]] = {}
    writes: dict[Path, tuple[BatchAudit, np.ndarray | None, bool]] = {}   # a linked raw file: once
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

    def write(item: tuple[Path, tuple[BatchAudit, np.ndarray | None, bool]]) -> None:
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
