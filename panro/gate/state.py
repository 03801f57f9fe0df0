"""The published zone's state: which audited version of each delivered file is visible downstream.

`published_state` lists, per feed, every file in `published/` with the batch it holds (the ledger's
`published` version), its rows and business date, and a fingerprint of the whole zone that changes
exactly when a batch is published, superseded or released — what the transform step can key on to
know whether anything new is visible. `problems` names every disagreement between zone and ledger
(a published batch without its file, a file no published batch explains, two published versions of a
file, row counts that differ, an index that is not the ledger's); an empty list is the
write-audit-publish invariant holding.

`write_index` keeps the zone's table of contents, `published/_index.parquet`: every published batch
with its file, from the ledger. dbt's staging models read it to find the batches they do not hold yet
and the ones no longer published, instead of opening every published file of their feed each night
(macros/batches.sql).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from panro.domain.contracts import FeedContract, load_contracts
from panro.lake import storage
from panro.lake.batches import INDEX_FILE, SCHEMA_FILE, published_dir, published_path, write_published_index
from panro.lake.ledger import Batch, Ledger
from panro.settings import DataDirs


@dataclass(frozen=True)
class PublishedFile:
    partner: str
    feed: str
    file_name: str
    batch_id: str
    business_date: dt.date | None
    rows: int
    path: str


@dataclass
class PublishedState:
    files: list[PublishedFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        text = "\n".join(sorted(f.batch_id for f in self.files))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def feed(self, name: str) -> list[PublishedFile]:
        """The files of `partner/feed`, by business date."""
        return sorted((f for f in self.files if f"{f.partner}/{f.feed}" == name),
                      key=lambda f: (f.business_date or dt.date.min, f.file_name))

    def batch_ids(self) -> set[str]:
        return {f.batch_id for f in self.files}


def _held_batch(meta: pq.FileMetaData) -> str:
    """The batch a published file of its own holds: its key-value metadata, else the `_batch_id`
    column's statistics (a file published as a copy of its raw file carries no metadata of ours)."""
    held = (meta.metadata or {}).get(b"panro.batch_id", b"").decode()
    if held or meta.num_row_groups == 0 or meta.num_rows == 0:
        return held
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if "_batch_id" not in names:
        return ""
    stats = meta.row_group(0).column(names.index("_batch_id")).statistics
    if stats is None or not stats.has_min_max or stats.min != stats.max:
        return ""
    value = stats.min
    return value.decode() if isinstance(value, bytes) else str(value)


def _rows_by_batch(path: Path) -> dict[str, int]:
    """Rows per `_batch_id` of a published file (a linked raw file may hold several batches); a file
    without the column is one batch, named by `_held_batch`."""
    meta = storage.read_metadata(path)
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if "_batch_id" not in names:
        return {_held_batch(meta): meta.num_rows}
    ids = storage.read_table(path, columns=["_batch_id"]).column("_batch_id")
    counts = pc.value_counts(ids).to_pylist()
    return {c["values"]: c["counts"] for c in counts}


def published_file(dirs: DataDirs, contract: FeedContract, batch: Batch) -> Path:
    """Where a published batch's rows are: the ledger says, relative to the published zone (a linked
    raw file, or a file of its own); a ledger from before it said so had one file per file name."""
    if batch.published_path:
        return dirs.published / batch.published_path
    return published_path(dirs, contract, batch.file_name)


def published_state(dirs: DataDirs, ledger: Ledger, contracts: tuple[FeedContract, ...] | None = None,
                    *, check_files: bool = True) -> PublishedState:
    """The published zone as the ledger and the files agree (or not: see `problems`)."""
    state = PublishedState()
    for contract in contracts or load_contracts():
        live = ledger.batches(partner=contract.partner, feed=contract.feed, status="published")
        by_file: dict[str, list[Batch]] = {}
        for b in live:
            by_file.setdefault(b.file_name, []).append(b)
        held: dict[Path, dict[str, int]] = {}     # each published file's rows per batch, read once
        for name, versions in sorted(by_file.items()):
            if len(versions) > 1:
                state.problems.append(f"{contract.name} {name}: {len(versions)} published versions")
            b = versions[-1]
            path = published_file(dirs, contract, b)
            rows = int(b.rows_published or 0)
            if check_files:
                if not path.exists():
                    state.problems.append(f"{contract.name} {name}: published in the ledger, no file {path}")
                    continue
                if path not in held:
                    held[path] = _rows_by_batch(path)
                found = held[path]
                got = found[""] if "" in found else found.get(b.batch_id, 0)   # "": one batch, unnamed
                if rows and not got and found:
                    state.problems.append(f"{contract.name} {name}: {path.name} holds "
                                          f"{', '.join(sorted(found))}, the ledger says {b.batch_id}")
                elif got != rows:
                    state.problems.append(f"{contract.name} {name}: {got} rows in the file, {rows} in the ledger")
            state.files.append(PublishedFile(contract.partner, contract.feed, name, b.batch_id, b.business_date,
                                             rows, str(path)))
        if check_files:
            explained = {storage.zone_path(f.path).name for f in state.files if f.partner == contract.partner
                         and f.feed == contract.feed}
            folder = published_dir(dirs, contract)
            if folder.exists():
                for p in sorted(folder.glob("*.parquet")):
                    if p.name != SCHEMA_FILE and p.name not in explained:
                        state.problems.append(f"{contract.name}: {p.name} is in the published zone but no "
                                              "published batch explains it")
    if check_files:
        state.problems += _index_problems(dirs, state.files)
    return state


def write_index(dirs: DataDirs, ledger: Ledger, contracts: tuple[FeedContract, ...] | None = None) -> Path:
    """Write `published/_index.parquet` from the ledger's published batches (atomically, like a batch),
    then remove the published files no published batch is in any more (every batch of a linked raw
    file replaced by a newer version, a file's version of its own replaced by a linked one).

    The gate rewrites it at the end of every audit, and a release after publishing, each time after
    the ledger is updated: whatever a run was stopped in, the next run's gate writes it afresh before
    dbt reads it. A batch published with no rows is listed too: its file's older rows must go."""
    contracts = contracts or load_contracts()
    files = published_state(dirs, ledger, contracts, check_files=False).files
    index = write_published_index(dirs, ((f.partner, f.feed, f.batch_id, f.path) for f in files))
    live = {str(storage.zone_path(f.path)) for f in files}
    for contract in contracts:
        folder = published_dir(dirs, contract)
        if folder.exists():
            for p in folder.glob("*.parquet"):
                if p.name != SCHEMA_FILE and str(p) not in live:
                    p.unlink(missing_ok=True)
    return index


def _index_problems(dirs: DataDirs, files: list[PublishedFile]) -> list[str]:
    path = dirs.published / INDEX_FILE
    if not path.exists():
        return [f"no index of the published batches ({path})"] if files else []
    listed = set(storage.read_table(path, columns=["batch_id"]).column("batch_id").to_pylist())
    published = {f.batch_id for f in files}
    return ([f"{INDEX_FILE} lists {b}, which is not published" for b in sorted(listed - published)]
            + [f"{INDEX_FILE} leaves out the published batch {b}" for b in sorted(published - listed)])
