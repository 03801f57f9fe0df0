"""Which delivered batches a failing dbt data test found: what an operator needs to unblock the night.

The gate checks each batch on its own; dbt's data tests see the batches together (a key unique across
files, a merchant every fact refers to). A test that fails stops the run before publication, and
would fail again every night until its rows are gone. So a failed build names, for each failing test,
the model it tests and the published batches whose rows it found: the test's own query (compiled by
dbt) gives its failing rows, which are matched back to the model's rows on the columns the two share,
and every model read from the published zone carries each row's `_batch_id`. An operator then holds
those batches back (`panro quarantine hold`), and the next run publishes everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from panro.transform.build import NodeFailure

_SHOWN = 5   # batches named per failing test in a one-line description


@dataclass(frozen=True)
class FoundBatch:
    """A published batch whose rows a failing test found."""

    batch_id: str
    partner: str
    feed: str
    file_name: str
    rows: int            # its rows among the test's failing rows

    @classmethod
    def of(cls, batch_id: str, rows: int) -> FoundBatch:
        """A batch id names its batch: `partner/feed/file_name@checksum12`."""
        partner, feed, rest = [*batch_id.split("/", 2), "", ""][:3]
        file_name = rest.rsplit("@", 1)[0]
        return cls(batch_id, partner, feed, file_name, rows)


@dataclass(frozen=True)
class FailedTest:
    """A dbt node that failed, with the batches behind it when it is a data test on a batch's rows."""

    node: str                    # dbt's name of the test or model
    resource_type: str           # test, model, seed …
    model: str | None            # the model a test is attached to
    message: str
    failing_rows: int | None
    batches: tuple[FoundBatch, ...] = ()
    traced: str | None = None    # why no batch could be named, when none is

    def describe(self) -> str:
        what = f"dbt {self.resource_type} {self.node}"
        if self.model:
            what += f" on {self.model}"
        what += f" failed: {self.message}" if self.message else " failed"
        if self.batches:
            named = "; ".join(f"{b.partner}/{b.feed} {b.file_name} ({b.rows:,} rows, batch {b.batch_id})"
                              for b in self.batches[:_SHOWN])
            more = f" and {len(self.batches) - _SHOWN} more" if len(self.batches) > _SHOWN else ""
            what += f" — its rows come from {named}{more}"
        elif self.traced:
            what += f" — {self.traced}"
        return what

    def to_dict(self) -> dict[str, object]:
        return {"node": self.node, "resource_type": self.resource_type, "model": self.model,
                "message": self.message, "failing_rows": self.failing_rows, "traced": self.traced,
                "batches": [b.__dict__ for b in self.batches]}


def _name(unique_id: str) -> str:
    """`test.panro.<name>.<hash>` or `model.panro.<name>` → `<name>`."""
    parts = unique_id.split(".")
    return parts[2] if len(parts) > 2 else unique_id


def _relation(con: duckdb.DuckDBPyConnection, model: str) -> tuple[str, list[str]] | None:
    found = con.execute("select table_schema from information_schema.tables where table_name = ? "
                        "order by table_schema limit 1", [model]).fetchone()
    if found is None:
        return None
    relation = f'"{found[0]}"."{model}"'
    columns = [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    return relation, columns


def _trace_one(con: duckdb.DuckDBPyConnection, f: NodeFailure) -> tuple[tuple[FoundBatch, ...], str | None]:
    if not f.compiled_code or not f.tested_model:
        return (), "dbt gave no query for it"
    found = _relation(con, f.tested_model)
    if found is None:
        return (), f"{f.tested_model} is not in the work warehouse"
    relation, model_columns = found
    if "_batch_id" not in model_columns:
        return (), f"{f.tested_model} does not carry the batch of its rows"
    query = f.compiled_code.strip().rstrip(";")
    test_columns = [d[0] for d in con.execute(f"select * from ({query}) limit 0").description]
    shared = [c for c in test_columns if c in model_columns]
    if not shared:
        return (), f"the test's rows share no column with {f.tested_model}"
    on = " and ".join(f'm."{c}" is not distinct from t."{c}"' for c in shared)
    rows = con.execute(f"select m._batch_id, count(*) from {relation} m "
                       f"where exists (select 1 from ({query}) t where {on}) "
                       "group by 1 order by 2 desc, 1").fetchall()
    return tuple(FoundBatch.of(bid, n) for bid, n in rows if bid), None


def trace(warehouse: Path, failures: Sequence[NodeFailure]) -> list[FailedTest]:
    """The failed nodes of a dbt build, each data test with the published batches its rows come from.

    Reads the work warehouse once dbt has closed it; a node that cannot be traced says why, and a
    warehouse that cannot be opened leaves every node untraced (the failure itself is still named)."""
    traced: list[FailedTest] = []
    try:
        con = duckdb.connect(str(warehouse), read_only=True) if warehouse.exists() else None
    except duckdb.Error as e:
        con, why = None, f"the work warehouse could not be read: {e}"
    else:
        why = None if con is not None else "there is no work warehouse"
    try:
        for f in failures:
            batches: tuple[FoundBatch, ...] = ()
            reason = why
            if con is not None and f.resource_type == "test":
                try:
                    batches, reason = _trace_one(con, f)
                except duckdb.Error as e:
                    reason = f"its rows could not be traced: {e}"
            elif f.resource_type != "test":
                reason = None
            traced.append(FailedTest(_name(f.unique_id), f.resource_type, f.tested_model, f.message,
                                     f.failing_rows, batches, None if batches else reason))
    finally:
        if con is not None:
            con.close()
    return traced
