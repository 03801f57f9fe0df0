"""`panro demo` on a fresh data directory: the real pipeline reproduces the article's 2023 figures.

This is the whole product end to end — generate, extract, gate, dbt, publish, report — run as a user
runs it (the console script, an ephemeral Prefect server), and then checked from what analysts see.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from panro.domain.article import ARTICLE_2023

pytestmark = pytest.mark.slow(minutes=12)

PANRO = Path(sys.executable).parent / "panro"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    result = subprocess.run([str(PANRO), "demo", "--data-dir", str(data_dir)], capture_output=True, text=True,
                            timeout=1800)
    return data_dir, result


def test_demo_exits_cleanly_and_prints_the_kpi_table_beside_the_article(demo) -> None:
    _, result = demo
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"{len(ARTICLE_2023)}/{len(ARTICLE_2023)} figures reproduce the article" in result.stdout
    assert "16,867" in result.stdout
    assert "0 rejected, 0 quarantined → exit 0" in result.stdout  # clean partner data passes the gate whole


@pytest.mark.parametrize("figure", ARTICLE_2023, ids=lambda f: f"{f.kpi_code}[{f.partner_code}]")
def test_published_mart_program_kpis_reproduce_the_article(demo, figure) -> None:
    data_dir, _ = demo
    con = duckdb.connect(str(data_dir / "warehouse" / "panro.duckdb"), read_only=True)
    try:
        row = con.execute("select value from marts.mart_program_kpis where year = 2023 and partner_code = ? "
                          "and kpi_code = ?", [figure.partner_code, figure.kpi_code]).fetchone()
    finally:
        con.close()
    assert row is not None, f"no {figure.kpi_code} for {figure.partner_code}"
    assert figure.matches(row[0]), f"{figure.kpi_code}[{figure.partner_code}] = {row[0]}, article {figure.value}"


def test_parquet_marts_equal_the_warehouse_tables(demo) -> None:
    data_dir, _ = demo
    con = duckdb.connect(str(data_dir / "warehouse" / "panro.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'marts' and table_name not like '\\_%' escape '\\'")
                  .fetchall()]
        for name in tables:
            in_db = con.execute(f"select count(*) from marts.{name}").fetchone()[0]
            assert pq.read_metadata(data_dir / "marts" / f"{name}.parquet").num_rows == in_db, name
    finally:
        con.close()
    assert {"mart_program_kpis", "mart_festival_sales", "mart_coupon_redemption", "mart_support_reach",
            "mart_support_outcomes", "fct_support_events", "dim_merchant"} <= set(tables)


def test_the_demo_writes_a_report_with_charts(demo) -> None:
    data_dir, _ = demo
    page = (data_dir / "reports" / "latest.html").read_text(encoding="utf-8")
    # reach by month and by 시도, sales by month and in each of the three festivals, coupons by campaign
    assert page.count("<svg") == 7
    assert "16,867" in page
    # a whole programme year: the KPI table says so and sets the article's figures beside its own
    assert "2023 · 2023-01-01 – 2023-12-31 · <span class=\"ok\">whole programme year</span>" in page
    assert f"{len(ARTICLE_2023)}/{len(ARTICLE_2023)} of the article's figures reproduced" in page


def test_no_personal_data_reaches_marts_reports_or_logs(demo) -> None:
    """Owner names and phones exist only in the K-deal landing files: nowhere an analyst or a log can see."""
    data_dir, result = demo
    import csv
    import io

    store_file = sorted((data_dir / "landing" / "kt" / "kdeal_stores").glob("*.csv"))[-1]
    rows = list(csv.DictReader(io.StringIO(store_file.read_bytes().decode("cp949"))))
    names = {r["대표자명"] for r in rows[:50]}
    phones = {r["연락처"] for r in rows[:50]}
    haystacks = [result.stdout, result.stderr, (data_dir / "reports" / "latest.html").read_text(encoding="utf-8")]
    for p in (data_dir / "marts").glob("*.parquet"):
        haystacks.append(pq.read_table(p).to_pandas().to_csv())
    for text in haystacks:
        assert not any(phone in text for phone in phones)
        assert not any(f",{name}," in text or f">{name}<" in text for name in names)
