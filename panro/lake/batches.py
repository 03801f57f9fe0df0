"""Raw and published batches on disk: their schema (source columns + lineage) and atomic writes.

raw/<partner>/<feed>/<file_name>@<checksum12>.parquet   the rows of one delivered file version, or
raw/<partner>/<feed>/<file_name>+<n>@<hash12>.parquet    of several, written together (a segment)
published/<partner>/<feed>/<raw file name>              a raw file whose batches are published whole (a link)
published/<partner>/<feed>/<file_name>.parquet          a version published without its rejected rows
published/<partner>/<feed>/_schema.parquet              zero rows; keeps an empty feed readable
published/_index.parquet                                 every published batch with its file (gate.state.write_index)

Every name is final and given by what the file holds (its batches), so a file is written once under it,
never renamed or changed in place on an object store (panro.lake.storage).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from panro.domain.contracts import FeedContract
from panro.lake import storage
from panro.settings import DataDirs

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "int": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
}

# Lineage carried by every raw and published row.
LINEAGE = pa.schema([
    ("_batch_id", pa.string()),
    ("_partner", pa.string()),
    ("_feed", pa.string()),
    ("_business_date", pa.date32()),
    ("_source_file", pa.string()),
    ("_file_checksum", pa.string()),
    ("_row_number", pa.int64()),       # 1-based: data row of a CSV/Excel sheet, line of JSON Lines, record index
    ("_loaded_at", pa.timestamp("us", tz="UTC")),
])
SCHEMA_FILE = "_schema.parquet"
INDEX_FILE = "_index.parquet"
INDEX_SCHEMA = pa.schema([
    ("feed", pa.string()),       # partner/feed, as the dbt source names it: source('partner', 'feed')
    ("batch_id", pa.string()),
    ("path", pa.string()),       # the file holding the batch's rows (maybe others' too), relative to published/
])


def raw_schema(contract: FeedContract) -> pa.Schema:
    """The columns of a raw batch: the partner's own columns in contract order, then lineage."""
    fields = [pa.field(c.name, ARROW_TYPES[c.type]) for c in contract.columns]
    return pa.schema(fields + list(LINEAGE))


def raw_path(dirs: DataDirs, contract: FeedContract, file_name: str, checksum: str) -> Path:
    """The raw file of one version of a delivered file, written on its own."""
    return dirs.raw / contract.partner / contract.feed / f"{file_name}@{checksum[:12]}.parquet"


def segment_path(dirs: DataDirs, contract: FeedContract, versions: Sequence[tuple[str, str]]) -> Path:
    """The raw file of several versions of delivered files of one feed, written together (a segment),
    each given as (file name, checksum): named for its first file, the number of the others and a hash
    of them all, so the same versions give the same name. One version: its own name (`raw_path`)."""
    first, checksum = versions[0]
    if len(versions) == 1:
        return raw_path(dirs, contract, first, checksum)
    digest = hashlib.sha256("\n".join(f"{name}@{sha}" for name, sha in versions).encode()).hexdigest()
    return dirs.raw / contract.partner / contract.feed / f"{first}+{len(versions) - 1}@{digest[:12]}.parquet"


@lru_cache(maxsize=256)   # called for every batch the gate publishes (paths are slow to build)
def published_dir(dirs: DataDirs, contract: FeedContract) -> Path:
    return dirs.published / contract.partner / contract.feed


def published_path(dirs: DataDirs, contract: FeedContract, file_name: str, checksum: str | None = None) -> Path:
    """The file of its own of a batch published without its rejected rows (or accepted by a person):
    named for its version, so that a newer version never overwrites a file the index still names
    (a run stopped before its ledger update leaves the old one published). Without a checksum, the
    name such a file had before (a ledger that does not say where a batch is, files put by hand)."""
    if checksum is None:
        return published_dir(dirs, contract) / f"{file_name}.parquet"
    return published_dir(dirs, contract) / f"{file_name}@{checksum[:12]}.own.parquet"


# Parquet as the pipeline writes it: snappy, dictionaries only on the lineage text (one value per
# file), column statistics only for `_batch_id`, which names the batch a file holds (gate.state
# reads it); every reader (the gate, dbt's staging) reads whole files — a batch file is one row
# group — so other statistics would skip nothing. Snappy, not zstd: a batch file is small, and
# zstd's fixed cost per column chunk (a compression context each) made writing a year's 4,064
# files cost ~0.35 ms more per file; a year's raw zone is 109 MB instead of 64 MB
# (docs/decisions/0005-batch-file-format.md).
Sync = Literal["file", "file_and_folder"]
_DICTIONARY_COLUMNS = [f.name for f in LINEAGE if pa.types.is_string(f.type)]
_STATISTICS_COLUMNS = ["_batch_id"]


def write_parquet_atomic(table: pa.Table, path: Path, *, sync: Sync = "file") -> None:
    """Write next to the target, then rename: a reader sees the old file or the new, never half. On an
    object store: one object under its final name, visible whole or not at all (`panro.lake.storage.put_parquet`).

    `sync` says what is made durable here: "file", its bytes before the rename (a writer of a few
    files then fsyncs their folders, the renames, once before it records them: `fsync_path`);
    "file_and_folder", the rename too, for a writer of one file (a raw segment, wherever a worker
    wrote it)."""
    options = {"compression": "snappy", "use_dictionary": _DICTIONARY_COLUMNS,
               "write_statistics": _STATISTICS_COLUMNS}
    if storage.is_remote(path):
        storage.put_parquet(table, path, **options)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, **options)
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync == "file_and_folder":
        fsync_path(path.parent)


def read_batch(path: str | Path, batch_id: str) -> pa.Table:
    """The rows of one batch, in their order, from the raw file holding them: a segment holds several
    batches' rows; a file without `_batch_id` (written by hand) is that batch's alone."""
    table = storage.read_table(path).replace_schema_metadata(None)
    if "_batch_id" not in table.column_names:
        return table
    return table.filter(pc.equal(table.column("_batch_id"), batch_id))


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder: the renames made in it (nothing to do on an object store: an object is
    there once its PUT has returned, and there are no renames)."""
    if storage.is_remote(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_published_schemas(dirs: DataDirs, contracts: tuple[FeedContract, ...]) -> None:
    """Give every contracted feed a zero-row schema file, so dbt can read a feed nobody delivered yet."""
    for contract in contracts:
        path = published_dir(dirs, contract) / SCHEMA_FILE
        schema = raw_schema(contract)
        if not path.exists() or storage.read_schema(path) != schema:
            write_parquet_atomic(schema.empty_table(), path)


def write_published_index(dirs: DataDirs, batches: Iterable[tuple[str, str, str, str]]) -> Path:
    """Write `published/_index.parquet`: one row per published batch, given as (partner, feed,
    batch_id, the path of the published file holding its rows).

    dbt's staging models read it to find the batches they do not hold yet, and the files to read
    them from (dbt_project/macros/batches.sql); a file may hold several batches' rows."""
    rows = sorted((f"{partner}/{feed}", batch_id, storage.zone_path(path).relative_to(dirs.published).as_posix())
                  for partner, feed, batch_id, path in batches)
    table = pa.Table.from_pylist([dict(zip(INDEX_SCHEMA.names, r, strict=True)) for r in rows], schema=INDEX_SCHEMA)
    path = dirs.published / INDEX_FILE
    write_parquet_atomic(table, path)
    return path
