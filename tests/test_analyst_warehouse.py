"""What an analyst opens: the published warehouse reads in the DuckDB CLI from PyPI and in the Python
package, says what every table and column means (in the file and in the Parquet marts), names its codes
in Korean, and the saved example queries run on it."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from panro.settings import REPO_ROOT, DataDirs

DUCKDB_CLI = Path(sys.executable).parent / "duckdb"   # the `duckdb-cli` package `make setup` installs
QUERIES = sorted((REPO_ROOT / "docs" / "queries").glob("*.sql"))
# a column's description starts with its Korean name (the Excel export's header), then " — "
LABELLED = re.compile(r"^[^—]*[가-힣][^—]* — \S")


def cli(warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert DUCKDB_CLI.exists(), f"no DuckDB CLI at {DUCKDB_CLI}: `make setup` installs it (duckdb-cli)"
    return subprocess.run([str(DUCKDB_CLI), "-readonly", str(warehouse), *args], capture_output=True,
                          text=True, timeout=60)


def test_the_duckdb_cli_from_pypi_is_a_1x_reader() -> None:
    """The point of the test below: the CLI analysts get is older than the DuckDB the pipeline writes with."""
    assert DUCKDB_CLI.exists(), f"no DuckDB CLI at {DUCKDB_CLI}: `make setup` installs it (duckdb-cli)"
    version = subprocess.run([str(DUCKDB_CLI), "-version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("v1."), version.stdout
    assert duckdb.__version__.startswith("2.")


def test_the_published_warehouse_opens_in_the_duckdb_cli_from_pypi(small_publication: DataDirs) -> None:
    done = cli(small_publication.warehouse, "-csv", "-c",
               "select kpi_code, platform_name_ko, value from marts.mart_program_kpis "
               "where year = 2023 and partner_code = 'ALL' and kpi_code = 'merchants_reached'")
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(io.StringIO(done.stdout))) == [["kpi_code", "platform_name_ko", "value"],
                                                          ["merchants_reached", "전체", "10.0"]]


def test_the_published_warehouse_opens_in_the_python_package_read_only(small_publication: DataDirs) -> None:
    con = duckdb.connect(str(small_publication.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from marts.dim_merchant").fetchone() == (10,)
        assert con.execute("select run_id from marts._publication").fetchone() == ("small-run",)
    finally:
        con.close()


def test_every_published_table_and_column_says_what_it_means(small_publication: DataDirs) -> None:
    con = duckdb.connect(str(small_publication.warehouse), read_only=True)
    try:
        tables = dict(con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'")
                      .fetchall())
        columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                              "where schema_name = 'marts'").fetchall()
    finally:
        con.close()
    assert {"mart_program_kpis", "mart_support_reach", "dim_merchant", "_publication"} <= set(tables)
    assert all(tables.values()), [t for t, c in tables.items() if not c]
    assert len(columns) > 80
    unlabelled = [(t, c, comment) for t, c, comment in columns if not LABELLED.match(comment or "")]
    assert unlabelled == []
    comments = {(t, c): comment for t, c, comment in columns}
    assert comments[("mart_program_kpis", "kpi_code")].startswith("KPI 코드 — ")
    assert tables["mart_support_reach"].startswith("지원 도달 — ") and "do not add" in tables["mart_support_reach"]


def test_the_parquet_marts_carry_the_same_descriptions(small_publication: DataDirs) -> None:
    con = duckdb.connect(str(small_publication.warehouse), read_only=True)
    try:
        tables = dict(con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts' "
                                  "and table_name not like '\\_%' escape '\\'").fetchall())
        columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                              "where schema_name = 'marts'").fetchall()
    finally:
        con.close()
    for table, comment in tables.items():
        schema = pq.read_schema(small_publication.marts / f"{table}.parquet")
        assert schema.metadata[b"description"].decode() == comment
        listed = json.loads(schema.metadata[b"panro.column_descriptions"])
        for t, column, described in columns:
            if t == table:
                assert schema.field(column).metadata[b"description"].decode() == described
                assert listed[column] == described
    # DuckDB shows the file's keys too: an analyst reading Parquet finds the descriptions there
    kv = duckdb.sql(f"select decode(value) from parquet_kv_metadata('{small_publication.marts}/dim_region.parquet') "
                    "where decode(key) = 'description'").fetchall()
    assert kv == [(tables["dim_region"],)]


def test_codes_carry_their_korean_names_beside_them(small_publication: DataDirs) -> None:
    con = duckdb.connect(str(small_publication.warehouse), read_only=True)
    try:
        kpis = con.execute("select distinct kpi_code, kpi_name_ko from marts.mart_program_kpis").fetchall()
        all_partners = con.execute("select distinct platform_name_ko from marts.mart_program_kpis "
                                   "where partner_code = 'ALL'").fetchall()
        reach = con.execute("select distinct partner_code, platform_name_ko, support_type, support_type_ko, "
                            "sido_code, sido_name_ko from marts.mart_support_reach").fetchall()
        festival = con.execute("select distinct festival_name_ko, platform_name_ko, sido_name_ko "
                               "from marts.mart_festival_sales where partner_code = 'baemin' and sido_code = '51'"
                               ).fetchall()
        coupons = con.execute("select distinct platform_name_ko, festival_name_ko from marts.mart_coupon_redemption "
                              "where partner_code = 'zigzag'").fetchall()
        outcomes = con.execute("select platform_name_ko, support_type_ko from marts.mart_support_outcomes "
                               "where partner_code = 'kt'").fetchall()
        merchant_regions = con.execute("select distinct sido_code, sido_name_ko from marts.dim_merchant").fetchall()
    finally:
        con.close()
    assert len(kpis) == 11 and all(name for _, name in kpis)
    assert ("merchants_reached", "지원 소상공인 수") in kpis
    assert all_partners == [("전체",)]
    assert ("skplanet", "OK캐쉬백", "marketing", "홍보·마케팅", "11", "서울특별시") in reach
    assert all(r[1] and r[3] for r in reach) and all((r[4] is None) == (r[5] is None) for r in reach)
    assert festival == [("2023 봄빛 동행축제", "배달의민족", "강원특별자치도")]
    assert coupons == [("지그재그", "2023 봄빛 동행축제")]
    assert outcomes == [("K-deal", "판촉지원")]
    assert ("52", "전북특별자치도") in merchant_regions and (None, None) in merchant_regions


@pytest.mark.parametrize("query", QUERIES, ids=lambda p: p.name)
def test_the_saved_example_queries_run_in_the_cli_and_in_python(query: Path, small_publication: DataDirs) -> None:
    done = cli(small_publication.warehouse, "-csv", "-f", str(query))
    assert done.returncode == 0 and not done.stderr, done.stderr
    _header, *rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows, f"{query.name} returned no rows"
    con = duckdb.connect(str(small_publication.warehouse), read_only=True)
    try:
        got = con.execute(query.read_text(encoding="utf-8")).fetchall()
    finally:
        con.close()
    assert len(got) == len(rows)


def test_there_are_saved_example_queries() -> None:
    assert {"columns.sql", "kpis_latest_year.sql", "reach_by_region.sql"} <= {q.name for q in QUERIES}
