"""A failing dbt data test is traced to the published batches whose rows it found (panro.transform.failures)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from panro.transform.build import NodeFailure
from panro.transform.failures import FoundBatch, trace

A = "zigzag/sales/zigzag_sales_20230503.parquet@aaaaaaaaaaaa"
B = "zigzag/sales/zigzag_sales_20230504.parquet@bbbbbbbbbbbb"
UNIQUE = ("select _source_file, store_id, count(*) as rows_per_key from \"work\".\"staging\".\"stg_zigzag__sales\" "
          "group by _source_file, store_id having count(*) > 1")


def _warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "work.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema staging; create schema marts")
    con.execute("create table staging.stg_zigzag__sales as select * from (values "
                f"('{A}', 'zigzag_sales_20230503.parquet', 'S1'), ('{B}', 'zigzag_sales_20230504.parquet', 'S1'), "
                f"('{B}', 'zigzag_sales_20230504.parquet', 'S1'), ('{B}', 'zigzag_sales_20230504.parquet', 'S2'), "
                f"('{B}', 'zigzag_sales_20230504.parquet', 'S2')) t(_batch_id, _source_file, store_id)")
    con.execute("create table marts.mart_sales as select 'zigzag' as partner_code, 1 as n union all select 'zigzag', 2")
    con.close()
    return path


def _test(model: str, sql: str) -> NodeFailure:
    return NodeFailure(f"test.panro.the_test_on_{model}.abc", "test", "fail", "Got 2 results", compiled_code=sql,
                       tested_model=model, failing_rows=2)


def test_a_failing_test_names_the_batches_whose_rows_it_found(tmp_path: Path) -> None:
    sql = UNIQUE.replace('"work".', "")
    (failed,) = trace(_warehouse(tmp_path), [_test("stg_zigzag__sales", sql)])
    assert failed.batches == (FoundBatch(B, "zigzag", "sales", "zigzag_sales_20230504.parquet", 4),)
    assert failed.traced is None
    line = failed.describe()
    assert "the_test_on_stg_zigzag__sales" in line and "zigzag/sales zigzag_sales_20230504.parquet" in line
    assert B in line and A not in line


def test_a_test_on_a_table_without_batches_says_why_none_is_named(tmp_path: Path) -> None:
    sql = "select partner_code, count(*) as n from marts.mart_sales group by 1 having count(*) > 1"
    (failed,) = trace(_warehouse(tmp_path), [_test("mart_sales", sql)])
    assert failed.batches == () and "does not carry the batch of its rows" in failed.traced
    assert "does not carry the batch" in failed.describe()


def test_a_model_that_failed_to_build_is_named_as_it_is(tmp_path: Path) -> None:
    model = NodeFailure("model.panro.int_x", "model", "error", "Binder Error: no column y")
    (failed,) = trace(_warehouse(tmp_path), [model])
    assert (failed.node, failed.resource_type, failed.batches, failed.traced) == ("int_x", "model", (), None)
    assert failed.describe() == "dbt model int_x failed: Binder Error: no column y"


def test_without_a_work_warehouse_the_failures_are_still_named(tmp_path: Path) -> None:
    (failed,) = trace(tmp_path / "missing.duckdb", [_test("stg_zigzag__sales", UNIQUE)])
    assert failed.node == "the_test_on_stg_zigzag__sales" and failed.traced == "there is no work warehouse"
