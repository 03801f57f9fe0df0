"""Publishing the marts to analysts: a new warehouse file and a new Parquet folder, swapped in atomically.

Analysts open `warehouse/panro.duckdb` read-only and read `marts/<table>.parquet`. A run builds
everything in its private work warehouse; only after dbt's tests pass does `publish` copy the
`marts` schema into a fresh DuckDB file and rename it over the old one. A reader holding the old
file keeps reading the old inode (and its lock is on that inode, so it blocks nothing); the next
reader opens the new file. `marts` is a symlink to a versioned folder, swapped with one rename.
Nothing is ever half-written where an analyst can see it.

The warehouse file is written in DuckDB 1.4's storage format (`STORAGE_VERSION`): DuckDB 2.x writes
a newer one by default, which the DuckDB CLI on PyPI (1.5), DBeaver and most BI tools' drivers
refuse to open. Every table and column keeps the comment dbt gave it in the work warehouse (the
yml descriptions, `persist_docs`), and each Parquet file carries the same descriptions in its
metadata: the table's under `description`, each column's in its Arrow field's `description`, and
all of them as JSON under `panro.column_descriptions` for readers that see only the file's keys.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from panro.runtime import faults
from panro.settings import DataDirs

MARTS_SCHEMA = "marts"
# the oldest DuckDB whose storage the published file keeps to (1.4 and later, 2.x included, read it)
STORAGE_VERSION = "v1.4.0"
PUBLICATION_TABLE = "_publication"


class PublishError(RuntimeError):
    """The work warehouse cannot be published (nothing was changed for analysts)."""


@dataclass(frozen=True)
class Publication:
    run_id: str
    published_at: dt.datetime
    warehouse: Path
    marts_dir: Path
    tables: dict[str, int]  # table → rows


def _mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = 'work' and table_schema = ? and table_type = 'BASE TABLE' order by 1",
        [MARTS_SCHEMA],
    ).fetchall()
    return [r[0] for r in rows]


_PUBLICATION_COMMENTS = {
    f"table pub.{MARTS_SCHEMA}.{PUBLICATION_TABLE}": "발행 — the run that published these tables, and when.",
    f"column pub.{MARTS_SCHEMA}.{PUBLICATION_TABLE}.run_id":
        "실행 ID — the pipeline run (its Prefect flow run id) that published them.",
    f"column pub.{MARTS_SCHEMA}.{PUBLICATION_TABLE}.published_at": "발행 시각 — when they were published.",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Described:
    """A table's comment and its columns' (None where dbt gave none)."""

    table: str | None
    columns: dict[str, str | None]


def _copy_comments(con: duckdb.DuckDBPyConnection, name: str) -> Described:
    """The comments of a work mart (dbt's `persist_docs`), set on its published copy; returned."""
    row = con.execute("select comment from duckdb_tables() where database_name = 'work' and schema_name = ? "
                      "and table_name = ?", [MARTS_SCHEMA, name]).fetchone()
    table_comment = (row[0] or "").strip() or None if row else None
    columns = {c: (comment or "").strip() or None for c, comment in con.execute(
        "select column_name, comment from duckdb_columns() where database_name = 'work' and schema_name = ? "
        "and table_name = ? order by column_index", [MARTS_SCHEMA, name]).fetchall()}
    target = f'pub.{MARTS_SCHEMA}."{name}"'
    if table_comment:
        con.execute(f"comment on table {target} is {_literal(table_comment)}")
    for column, comment in columns.items():
        if comment:
            con.execute(f'comment on column {target}."{column}" is {_literal(comment)}')
    return Described(table_comment, columns)


def _write_parquet(table: pa.Table, target: Path, described: Described) -> None:
    """A mart as Parquet, with its descriptions in the file's metadata (see the module's doc)."""
    fields = [f.with_metadata({"description": described.columns[f.name]}) if described.columns.get(f.name) else f
              for f in table.schema]
    metadata = {"panro.column_descriptions": json.dumps(
        {k: v for k, v in described.columns.items() if v}, ensure_ascii=False)}
    if described.table:
        metadata["description"] = described.table
    schema = pa.schema(fields, metadata=metadata)
    pq.write_table(table.cast(schema), target, compression="zstd")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(dirs: DataDirs, run_id: str) -> Publication:
    """Copy the work warehouse's marts to the analysts' warehouse and Parquet folder, atomically."""
    if not dirs.work_warehouse.exists():
        raise PublishError(f"no work warehouse at {dirs.work_warehouse}: run dbt first")
    published_at = dt.datetime.now(dt.UTC)
    dirs.warehouse.parent.mkdir(parents=True, exist_ok=True)
    for stale in dirs.warehouse.parent.glob(f".{dirs.warehouse.name}.*.tmp*"):  # left by a killed run
        stale.unlink(missing_ok=True)
    previous = dirs.marts.resolve() if dirs.marts.is_symlink() else None
    tmp_db = dirs.warehouse.with_name(f".{dirs.warehouse.name}.{uuid.uuid4().hex}.tmp")
    versions = dirs.root / "marts_versions"
    version_dir = versions / f"{published_at:%Y%m%dT%H%M%S}_{run_id[:8]}_{uuid.uuid4().hex[:6]}"
    version_dir.mkdir(parents=True)
    tables: dict[str, int] = {}
    try:
        con = duckdb.connect()
        try:
            con.execute("set TimeZone = 'UTC'")
            con.execute(f"attach '{dirs.work_warehouse}' as work (read_only)")
            con.execute(f"attach '{tmp_db}' as pub (storage_version '{STORAGE_VERSION}')")
            names = _mart_tables(con)
            if not names:
                raise PublishError(f"the work warehouse has no tables in schema {MARTS_SCHEMA!r}")
            con.execute(f"create schema pub.{MARTS_SCHEMA}")
            for name in names:
                con.execute(f'create table pub.{MARTS_SCHEMA}."{name}" as select * from work.{MARTS_SCHEMA}."{name}"')
                described = _copy_comments(con, name)
                rows = con.sql(f'select * from pub.{MARTS_SCHEMA}."{name}"').to_arrow_table()
                tables[name] = rows.num_rows
                _write_parquet(rows, version_dir / f"{name}.parquet", described)
            con.execute(
                f"create table pub.{MARTS_SCHEMA}.{PUBLICATION_TABLE} as select ?::varchar as run_id, "
                "?::timestamptz as published_at", [run_id, published_at])
            for target, comment in _PUBLICATION_COMMENTS.items():
                con.execute(f"comment on {target} is {_literal(comment)}")
            con.execute("detach work")
            (version_dir / "_publication.json").write_text(
                json.dumps({"run_id": run_id, "published_at": published_at.isoformat(), "tables": tables}),
                encoding="utf-8")
            con.execute("checkpoint pub")
            con.execute("detach pub")
        finally:
            con.close()
        with tmp_db.open("rb") as f:
            os.fsync(f.fileno())
        # The swap: one rename for the Parquet folder's link, one for the warehouse. Each is atomic;
        # a crash between them leaves both complete (Parquet already new, warehouse still old), and the
        # next run publishes both again.
        _swap_link(dirs.marts, version_dir)
        faults.checkpoint("publish.swap")
        os.replace(tmp_db, dirs.warehouse)
        _fsync_dir(dirs.warehouse.parent)
    except BaseException:
        tmp_db.unlink(missing_ok=True)
        Path(f"{tmp_db}.wal").unlink(missing_ok=True)
        if not (dirs.marts.is_symlink() and dirs.marts.resolve() == version_dir.resolve()):
            shutil.rmtree(version_dir, ignore_errors=True)
        raise
    _prune_versions(versions, keep={version_dir, previous})
    return Publication(run_id, published_at, dirs.warehouse, dirs.marts, tables)


def _swap_link(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} is a real folder, not the link this pipeline maintains; move it away")
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}.lnk")
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


def _prune_versions(versions: Path, keep: set[Path | None]) -> None:
    """Keep the live version and the one before it (a reader may still be on it); drop the rest,
    including folders a killed run left behind."""
    keep_resolved = {p.resolve() for p in keep if p is not None}
    for p in versions.iterdir():
        if p.is_dir() and p.resolve() not in keep_resolved:
            shutil.rmtree(p, ignore_errors=True)


def last_publication(dirs: DataDirs) -> tuple[str, dt.datetime] | None:
    """The run id and time of the current publication, or None before the first."""
    if not dirs.warehouse.exists():
        return None
    con = duckdb.connect(str(dirs.warehouse), read_only=True)
    try:
        row = con.execute(f"select run_id, published_at from {MARTS_SCHEMA}.{PUBLICATION_TABLE}").fetchone()
    finally:
        con.close()
    return (row[0], row[1]) if row else None
