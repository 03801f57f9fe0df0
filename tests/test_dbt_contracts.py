"""The marts analysts rely on: marts.md's tables, columns (in order) and types, then what docs/metrics.md
adds to them — the codes' Korean names as each mart's last columns, and mart_daily_sales.

Types follow marts.md's rules: money BIGINT (KRW), ratios DOUBLE, dates DATE (KST), counts BIGINT,
codes and names VARCHAR. The expected contract is written out here; where the spec is at hand
(shared/spec/marts.md beside the repository), every column of it is checked to be named in its
table's section too, and every addition is checked to be documented in docs/metrics.md. Also: the
dbt models declare the same contract, enforced.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from panro.settings import DBT_PROJECT_DIR, REPO_ROOT, DataDirs
from panro.transform.build import run_dbt
from tests.support.published import write_small_delivery

V, B, F, DATE, BOOL, TSTZ = "VARCHAR", "BIGINT", "DOUBLE", "DATE", "BOOLEAN", "TIMESTAMP WITH TIME ZONE"
COMPLETENESS = [("data_complete_through", DATE), ("period_complete", BOOL)]   # marts.md, second round

CONTRACT: dict[str, list[tuple[str, str]]] = {
    "dim_partner": [("partner_code", V), ("partner_name_ko", V), ("platform_name_ko", V)],
    "dim_region": [("sido_code", V), ("sido_name_ko", V), ("sido_name_en", V)],
    "dim_festival": [("festival_code", V), ("festival_name_ko", V), ("start_date", DATE), ("end_date", DATE)],
    "dim_merchant": [("merchant_id", V), ("store_name", V), ("sido_code", V), ("sigungu_name", V),
                     ("category", V), ("first_supported_on", DATE), ("partners_count", B)],
    "fct_support_events": [("support_event_id", V), ("merchant_id", V), ("partner_code", V),
                           ("support_type", V), ("support_item", V), ("supported_on", DATE),
                           ("value_krw", B), ("market_id", V)],
    "mart_support_reach": [("period_month", DATE), ("partner_code", V), ("support_type", V), ("sido_code", V),
                           ("merchants_reached", B), ("new_merchants", B), ("support_events", B),
                           ("support_value_krw", B)],
    "mart_coupon_redemption": [("partner_code", V), ("campaign_id", V), ("campaign_name", V), ("issued_on", DATE),
                               ("festival_code", V), ("coupons_issued", B), ("coupons_redeemed", B),
                               ("coupons_expired", B), ("redemption_rate", F), ("discount_krw", B),
                               ("redeemed_order_sales_krw", B), ("median_hours_to_redeem", F)],
    "mart_festival_sales": [("festival_code", V), ("partner_code", V), ("sido_code", V), ("category", V),
                            ("festival_days", B), ("participating_merchants", B), ("orders", B),
                            ("sales_krw", B), ("coupon_discount_krw", B), ("baseline_days", B),
                            ("baseline_sales_krw", B), ("uplift_ratio", F), *COMPLETENESS],
    "mart_support_outcomes": [("partner_code", V), ("support_type", V), ("cohort_month", DATE), ("merchants", B),
                              ("avg_daily_sales_before_krw", B), ("avg_daily_sales_after_krw", B),
                              ("avg_growth_multiple", F), *COMPLETENESS],
    "mart_program_kpis": [("year", B), ("partner_code", V), ("kpi_code", V), ("value", F), ("unit", V),
                          *COMPLETENESS],
    "mart_feed_status": [("partner_code", V), ("feed", V), ("last_business_date", DATE), ("last_delivered_at", TSTZ),
                         ("overdue_after_days", B), ("days_since_last", B), ("status", V), ("held_back_batches", B)],
}

# after marts.md's columns, the Korean names of the codes (docs/metrics.md), last so that marts.md's keep
# their positions
NAMES: dict[str, list[tuple[str, str]]] = {
    "dim_merchant": [("sido_name_ko", V)],
    "mart_support_reach": [("platform_name_ko", V), ("support_type_ko", V), ("sido_name_ko", V)],
    "mart_coupon_redemption": [("platform_name_ko", V), ("festival_name_ko", V)],
    "mart_festival_sales": [("festival_name_ko", V), ("platform_name_ko", V), ("sido_name_ko", V)],
    "mart_support_outcomes": [("platform_name_ko", V), ("support_type_ko", V)],
    "mart_program_kpis": [("kpi_name_ko", V), ("platform_name_ko", V)],
}
# marts beside marts.md's (docs/metrics.md)
ADDED: dict[str, list[tuple[str, str]]] = {
    "mart_daily_sales": [("partner_code", V), ("sales_date", DATE), ("orders", B), ("sales_krw", B),
                         ("coupon_discount_krw", B), ("merchants_with_sales", B), ("platform_name_ko", V)],
}
PUBLISHED = {**{t: columns + NAMES.get(t, []) for t, columns in CONTRACT.items()}, **ADDED}

MARTS_MD = REPO_ROOT.parent / "shared" / "spec" / "marts.md"
METRICS_MD = REPO_ROOT / "docs" / "metrics.md"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dirs = DataDirs.from_env(tmp_path_factory.mktemp("contracts") / "data")
    write_small_delivery(dirs)
    run = run_dbt(dirs, "build", exclude="resource_type:test resource_type:unit_test")
    assert run.success, run.summary()
    return dirs.work_warehouse


def test_marts_schema_holds_exactly_the_contracted_tables(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    finally:
        con.close()
    assert tables == set(PUBLISHED)


@pytest.mark.parametrize("table", sorted(PUBLISHED))
def test_mart_columns_and_types(warehouse: Path, table: str) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? order by ordinal_position", [table]).fetchall()
    finally:
        con.close()
    assert got == PUBLISHED[table]


def test_models_declare_the_contract_enforced() -> None:
    models = [m for path in sorted((DBT_PROJECT_DIR / "models" / "marts").glob("*.yml"))
              for m in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", [])]
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["models"]["panro"]["marts"]["+contract"] == {"enforced": True}
    declared = {m["name"]: [(c["name"], c["data_type"].upper()) for c in m["columns"]] for m in models}
    assert declared == PUBLISHED
    for m in models:
        assert m.get("description"), m["name"]
        for c in m["columns"]:
            assert c.get("description"), (m["name"], c["name"])


@pytest.mark.skipif(not MARTS_MD.exists(), reason="shared/spec/marts.md is not beside the repository")
def test_contract_matches_marts_md() -> None:
    text = MARTS_MD.read_text(encoding="utf-8")
    for table, columns in CONTRACT.items():
        if table.startswith("dim_"):
            line = next(ln for ln in text.splitlines() if ln.startswith(f"| `{table}` |"))
            section = line.split("|")[3]
        else:
            start = text.index(f"### `{table}`")
            end = text.find("\n### ", start + 1)
            section = text[start:end if end > 0 else None]
        named = set(re.findall(r"`([a-z_]+)`", section))
        missing = [c for c, _ in columns if c not in named and (c, _) not in COMPLETENESS]
        assert not missing, (table, missing)
    # the completeness columns: in their own section, which names the marts that carry them
    start = text.index("### Completeness on the figures")
    section = text[start:text.find("\n## ", start + 1) if text.find("\n## ", start + 1) > 0 else None]
    assert "`data_complete_through`" in section and "whether the figure's period is complete" in section
    carrying = {t for t, columns in CONTRACT.items() if ("data_complete_through", DATE) in columns}
    assert carrying == set(re.findall(r"`(mart_[a-z_]+)`", section))


def test_what_the_marts_add_to_marts_md_is_documented_in_metrics_md() -> None:
    text = METRICS_MD.read_text(encoding="utf-8")
    for table, columns in NAMES.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| `{table}` |"))
        assert {c for c, _ in columns} <= set(re.findall(r"`([a-z_]+)`", line)), table
    for table, columns in ADDED.items():
        start = text.index(f"`{table}`")
        section = text[start:text.find("\n## ", start)]
        assert {c for c, _ in columns} - {"partner_code", "sales_date", "platform_name_ko"} <= set(
            re.findall(r"`([a-z_]+)`", section)), table
