"""The quarantine folder of a batch (`<lake>/quarantine/<file name>@<checksum12>/`): its layout, its
manifest and reasons, personal data masked — written by the gate (a held batch, a published batch's
rejected rows) and by `panro quarantine hold`, read by `panro quarantine list | show | release`
(`panro.quarantine`, which describes the files).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from panro.domain.contracts import FeedContract
from panro.lake import storage
from panro.lake.batches import raw_schema
from panro.lake.ledger import Batch, now_utc
from panro.settings import DataDirs

MANIFEST_FILE = "batch.json"
REASONS_FILE = "reasons.txt"
VALIDATION_FILE = "validation.json"
REJECTED_FILE = "rejected_rows.parquet"
BATCH_FILE = "batch.parquet"
HELD = "held"


class QuarantineError(ValueError):
    """An id that names no quarantined batch, or a release that cannot be done."""


# -- layout (written by the gate) ------------------------------------------------------------------

def quarantine_id(batch: Batch) -> str:
    """`<file name>@<checksum12>`: short, typeable, unique per delivered file version."""
    return f"{batch.file_name}@{batch.checksum[:12]}"


def folder(dirs: DataDirs, qid: str) -> Path:
    return dirs.quarantine / qid


def write_json(path: Path, doc: dict[str, Any]) -> None:
    storage.write_text(path, json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")


def read_manifest(where: Path) -> dict[str, Any]:
    path = where / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def reasons_text(m: dict[str, Any]) -> str:
    delivered, failing = m.get("rows_delivered", 0), m.get("rows_rejected", 0)
    rows = (f"{delivered:,} rows delivered, all held ({failing:,} fail a row rule)" if m["status"] == HELD
            else f"{delivered:,} rows delivered, {failing:,} rejected")
    head = (f"{m['partner']}/{m['feed']} {m['file_name']} (business date {m.get('business_date')}) — "
            f"{m['status']}: {rows}")
    lines = [head, f"batch {m['batch_id']}", ""]
    lines += [f"- {r}" for r in m.get("reasons", [])] or ["- (no failed critical expectation)"]
    if m.get("warnings"):
        lines += ["", "warnings:"] + [f"- {w}" for w in m["warnings"]]
    for h in m.get("history", []):
        lines.append(f"* {h.get('at')} {h.get('action')} by {h.get('who')}: {h.get('reason')}"
                     + (f" → {h['outcome']}" if h.get("outcome") else ""))
    return "\n".join(lines) + "\n"


def write_manifest(where: Path, manifest: dict[str, Any]) -> None:
    write_json(where / MANIFEST_FILE, manifest)
    storage.write_text(where / REASONS_FILE, reasons_text(manifest))


def log_status(where: Path, status: str, entry: dict[str, Any]) -> dict[str, Any]:
    m = read_manifest(where)
    m["status"] = status
    m.setdefault("history", []).append({"at": now_utc().isoformat(), **entry})
    write_manifest(where, m)
    return m


def mark_superseded(dirs: DataDirs, old: Batch, *, by: str) -> None:
    """A newer version of the file was published: the old version's folder is no longer held."""
    where = folder(dirs, quarantine_id(old))
    if (where / MANIFEST_FILE).exists():
        log_status(where, "superseded", {"action": "superseded", "who": "gate", "reason": f"replaced by {by}"})


def mask_pii(table: pa.Table, pii: list[str] | tuple[str, ...]) -> pa.Table:
    """Personal-data columns as `***` (NULL stays NULL): what every quarantine file holds of them."""
    for name in pii:
        if name in table.column_names:
            col = table.column(name)
            masked = pc.if_else(pc.is_null(col), pa.scalar(None, pa.string()), pa.scalar("***", pa.string()))
            table = table.set_column(table.column_names.index(name), name, masked)
    return table


def conform(table: pa.Table, contract: FeedContract) -> pa.Table:
    """Rows in the published schema: the contract's columns (missing ones NULL), lineage, contract order."""
    schema = _schema(contract)
    if table.schema.remove_metadata() == schema:
        return table
    columns = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            try:
                columns.append(col if col.type == f.type else pc.cast(col, f.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise QuarantineError(f"column {f.name!r} cannot be read as {f.type}: {e}") from None
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=schema)


@lru_cache(maxsize=64)
def _schema(contract: FeedContract) -> pa.Schema:
    return raw_schema(contract)
