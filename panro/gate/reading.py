"""Reading pending batches for the gate: a feed's batches of one schema read in one go (DuckDB over
their raw Parquet files, only their own rows of a file holding several), each batch's rows found as a
run of the union by `_batch_id` (`attach`), grouped into frames of at most `panro.settings.VALIDATION_ROWS`
rows (`validation_chunks`), handed to GX as a pandas frame (`pandas_frame`); and, after a check, a
batch's own rows again (`detach`, `read_rows`).
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from panro.domain.contracts import FeedContract
from panro.gate.outcomes import BatchAudit
from panro.lake import storage
from panro.lake.batches import raw_schema, read_batch


def signature(schema: pa.Schema) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, str(f.type)) for f in schema)


def read_union(con: duckdb.DuckDBPyConnection, audits: list[BatchAudit]) -> pa.Table:
    """The rows of the audits' batches, from raw files with one schema: a raw file may hold other
    batches too (a segment), so only these batches' rows are read. Each batch's rows stay in their
    order; `attach` finds where each batch is."""
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


def attach(audits: list[BatchAudit], table: pa.Table) -> tuple[pa.Table, list[BatchAudit]]:
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
        return attach(audits, table.take(order))
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


def pandas_frame(table: pa.Table) -> pd.DataFrame:
    for name in _CATEGORICAL:
        if name in table.column_names and pa.types.is_string(table.schema.field(name).type):
            table = table.set_column(table.column_names.index(name), name,
                                     pc.dictionary_encode(table.column(name)))
    return table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=False)


def validation_chunks(members: list[BatchAudit], limit: int) -> list[list[BatchAudit]]:
    """Consecutive groups of whole batches with at most `limit` rows each (a bigger batch stands alone)."""
    chunks: list[list[BatchAudit]] = []
    rows = 0
    for a in members:
        if chunks and chunks[-1] and rows + a.rows <= limit:
            chunks[-1].append(a)
            rows += a.rows
        else:
            chunks.append([a])
            rows = a.rows
    return chunks


@lru_cache(maxsize=64)
def contract_signature(contract: FeedContract) -> tuple[tuple[str, str], ...]:
    return signature(raw_schema(contract))


def detach(a: BatchAudit) -> None:
    """From the frame a batch was validated in to the batch itself: positions count from its first row."""
    if a.table is not None:
        a.table = a.table.slice(a.start, a.stop - a.start)
    for f in a.failures:
        if f.positions is not None:
            f.positions = f.positions - a.start
    a.start, a.stop = 0, a.rows


def read_rows(a: BatchAudit) -> None:
    """The rows of a checked batch (a check sends back none), read again from its raw file (in its row
    order) where the gate needs them: to hold it, to keep its rejected rows apart, or to publish it in
    the contract's schema."""
    if a.table is None and a.schema is not None:
        a.table = read_batch(str(a.batch.raw_path), a.batch.batch_id).cast(a.schema)
