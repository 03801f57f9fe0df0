"""Publishing: analysts see the old marts or the new ones, never a mix, and are never blocked."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from panro.publish.warehouse import PublishError, last_publication, publish
from panro.settings import DataDirs


def build_work_warehouse(dirs: DataDirs, value: int) -> None:
    """A stand-in for dbt's output: a work warehouse with a marts schema and a private staging schema."""
    dirs.work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(dirs.work_warehouse))
    con.execute("create schema if not exists marts; create schema if not exists staging")
    con.execute("create or replace table marts.mart_program_kpis as select 2023 as year, 'ALL' as partner_code, "
                f"'merchants_reached' as kpi_code, {value}::double as value")
    con.execute(f"create or replace table marts.dim_partner as select 'kakao' as partner_code, {value} as n")
    con.execute("create or replace table staging.stg_kt__kdeal_stores as select '홍길동' as owner_name")
    con.close()


def kpi(path) -> float:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select value from marts.mart_program_kpis").fetchone()[0]
    finally:
        con.close()


def test_publish_copies_only_the_marts_schema_to_the_warehouse_and_parquet(dirs: DataDirs) -> None:
    build_work_warehouse(dirs, 1)
    pub = publish(dirs, "run-1")
    assert pub.tables == {"dim_partner": 1, "mart_program_kpis": 1}
    con = duckdb.connect(str(dirs.warehouse), read_only=True)
    schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
    con.close()
    assert schemas == {"marts"}, "staging (which once held personal data) must not reach analysts"
    assert sorted(p.name for p in dirs.marts.glob("*.parquet")) == ["dim_partner.parquet", "mart_program_kpis.parquet"]
    assert json.loads((dirs.marts / "_publication.json").read_text())["run_id"] == "run-1"
    assert pq.read_table(dirs.marts / "mart_program_kpis.parquet").column("value").to_pylist() == [1.0]
    assert last_publication(dirs)[0] == "run-1"


def test_a_reader_holding_the_warehouse_open_blocks_nothing_and_keeps_its_snapshot(dirs: DataDirs) -> None:
    build_work_warehouse(dirs, 1)
    publish(dirs, "run-1")
    reader = duckdb.connect(str(dirs.warehouse), read_only=True)
    old_parquet = open(dirs.marts / "mart_program_kpis.parquet", "rb")  # noqa: SIM115
    try:
        build_work_warehouse(dirs, 2)
        publish(dirs, "run-2")  # must not fail with a lock error
        assert reader.execute("select value from marts.mart_program_kpis").fetchone()[0] == 1.0
        assert pq.read_table(old_parquet).column("value").to_pylist() == [1.0]
    finally:
        reader.close()
        old_parquet.close()
    assert kpi(dirs.warehouse) == 2.0
    assert pq.read_table(dirs.marts / "mart_program_kpis.parquet").column("value").to_pylist() == [2.0]


def test_a_failed_publication_leaves_the_previous_one_untouched(dirs: DataDirs) -> None:
    build_work_warehouse(dirs, 1)
    publish(dirs, "run-1")
    con = duckdb.connect(str(dirs.work_warehouse))
    con.execute("drop schema marts cascade")
    con.close()
    with pytest.raises(PublishError, match="no tables in schema 'marts'"):
        publish(dirs, "run-2")
    assert kpi(dirs.warehouse) == 1.0
    assert last_publication(dirs)[0] == "run-1"
    assert not [p for p in dirs.warehouse.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(list((dirs.root / "marts_versions").iterdir())) == 1


def test_old_parquet_versions_are_pruned_but_the_previous_one_is_kept(dirs: DataDirs) -> None:
    for i in range(4):
        build_work_warehouse(dirs, i)
        publish(dirs, f"run-{i}")
    assert len(list((dirs.root / "marts_versions").iterdir())) == 2
