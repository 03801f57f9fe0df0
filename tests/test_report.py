"""The run report tells the truth and reads well (issue 26): held-back files first, KPIs that say which
period they cover, distinct counts never added up, days without data drawn as gaps, charts that draw
offline in a browser."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from panro.report import artifacts, charts, figures
from panro.report import html as report
from panro.report.outcome import BatchLine, RunOutcome
from panro.settings import DataDirs

D = dt.date.fromisoformat
SCRIPT = "<script>alert('partner')</script>"


def night(dirs: DataDirs) -> RunOutcome:
    """A published night of the small delivery in which 요기요's 05-03 orders file was held back with a
    reason quoting a delivered value (a partner can deliver markup)."""
    outcome = RunOutcome("night-1", "nightly", (D("2023-05-07"), D("2023-05-07")),
                         dt.datetime(2023, 5, 8, tzinfo=dt.UTC))
    outcome.published = True
    outcome.batches = [
        BatchLine("yogiyo", "orders", "orders_daily_20230503.csv", D("2023-05-03"), "quarantined", 12, 0, 0, 12,
                  f"rule region: 12 rows with an unknown 시도, e.g. {SCRIPT}"),
        BatchLine("kt", "kdeal_orders", "KDEAL_ORDER_20230507.csv", D("2023-05-07"), "published", 1, 1, 0, 0, ""),
    ]
    outcome.kpis = figures.read_kpis(dirs.warehouse)
    outcome.timings = {"extract": 0.5, "audit": 1.0}
    return outcome


@pytest.fixture(scope="module")
def written(small_publication: DataDirs) -> tuple[DataDirs, RunOutcome, str]:
    outcome = night(small_publication)
    path = report.write(small_publication, outcome)
    return small_publication, outcome, path.read_text(encoding="utf-8")


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', html)


def test_what_was_held_back_tonight_comes_first_and_delivered_text_stays_text(written) -> None:
    _, _, html = written
    assert sections(html)[0] == "held-back"
    held = html.split('<section id="held-back">')[1].split("</section>")[0]
    assert "orders_daily_20230503.csv" in held and "quarantined" in held
    assert "&lt;script&gt;alert(&#39;partner&#39;)&lt;/script&gt;" in held
    assert "<script" not in html   # the page runs no script at all


def test_the_kpi_table_says_which_period_it_covers_and_compares_only_a_whole_year(written) -> None:
    _, _, html = written
    kpis = html.split('<section id="kpis">')[1].split("</section>")[0]
    assert "2023 · 2023-04-10 – 2023-05-20 · <span class=\"bad\">part of the year</span>" in kpis
    assert "not compared" in kpis and "<th>article</th>" not in kpis and "✗" not in kpis
    assert "지원 소상공인 수" in kpis and "전체" in kpis     # the names come from the warehouse


def test_a_whole_programme_year_is_one_with_data_from_january_to_december_and_nothing_held() -> None:
    year = figures.Coverage(days={"yogiyo/orders": {D("2023-01-01"), D("2023-07-01")},
                                  "kt/kdeal_orders": {D("2023-12-31")}})
    assert year.period(2023) == (D("2023-01-01"), D("2023-12-31")) and year.full_year(2023)
    assert not figures.Coverage(days={"yogiyo/orders": {D("2023-01-02"), D("2023-12-31")}}).full_year(2023)
    year.held = {"kt/kdeal_orders": {D("2023-06-30")}}
    assert not year.full_year(2023) and year.held_in(2023) == [("kt/kdeal_orders", D("2023-06-30"))]


def test_merchants_reached_are_counted_distinct_never_summed(small_publication: DataDirs) -> None:
    con = figures.connect(small_publication.warehouse)
    assert con is not None
    try:
        regions = figures.reach_by_region(con, 2023)
        months = figures.reach_by_month(con)
        distinct = dict(con.execute("""
            select coalesce(r.sido_name_ko, '(시도 미상)'), count(distinct e.merchant_id)
            from marts.fct_support_events e join marts.dim_merchant m using (merchant_id)
            left join marts.dim_region r on r.sido_code = m.sido_code group by all""").fetchall())
        may = con.execute("select count(distinct merchant_id) from marts.fct_support_events "
                          "where supported_on between '2023-05-01' and '2023-05-31'").fetchone()[0]
    finally:
        con.close()
    whole = {r["sido"]: r["merchants"] for r in regions if r["support_type"] == "전체"}
    by_type: dict[str, int] = {}
    for r in regions:
        if r["support_type"] != "전체":
            by_type[r["sido"]] = by_type.get(r["sido"], 0) + int(r["merchants"])
    assert whole == distinct
    assert whole["경기도"] == 1 and by_type["경기도"] == 3   # one K-deal merchant, three types of support
    assert {(r["month"], r["merchants"]) for r in months if r["partner"] == "전체"} == {(D("2023-04-01"), 1),
                                                                                       (D("2023-05-01"), may)}
    # and the charts stack nothing: every quantitative position channel says stack: null
    for chart in (charts.reach_by_region(regions, 2023), charts.reach_trend(months)):
        positions = [enc for enc in _encodings(chart) for channel, enc in enc.items()
                     if channel in ("x", "y") and enc.get("type") == "quantitative"]
        assert positions and all("stack" in p and p["stack"] is None for p in positions), positions


def _encodings(spec: dict) -> list[dict]:
    """Every encoding block of a Vega-Lite specification (layers and facets included)."""
    found = [spec["encoding"]] if "encoding" in spec else []
    for key in ("layer", "spec"):
        inner = spec.get(key)
        for part in inner if isinstance(inner, list) else [inner] if inner else []:
            found += _encodings(part)
    return found


def test_days_without_data_are_gaps_not_zeros_and_held_back_ones_say_so(small_publication: DataDirs) -> None:
    outcome = night(small_publication)
    with report.page_of(small_publication, outcome) as page:
        assert page.marts is not None
        days = figures.sales_days(page.marts, page.names, page.coverage, D("2023-05-01"), D("2023-05-07"))
    yogiyo, kdeal = days.values["요기요"], days.values["K-deal"]
    assert yogiyo[D("2023-05-05")] == 260_000 and yogiyo[D("2023-05-03")] is None and yogiyo[D("2023-05-04")] is None
    assert kdeal[D("2023-05-07")] == 0        # a file was delivered (a cancellation): a day of no sales
    assert (D("2023-05-03"), True) in days.gaps["요기요"] and (D("2023-05-04"), False) in days.gaps["요기요"]
    monthly = {(m["partner"], m["month"]): m for m in figures.sales_by_month(days)}
    assert not monthly[("요기요", D("2023-05-01"))]["complete"]


def test_every_chart_is_a_valid_vega_lite_specification(small_publication: DataDirs) -> None:
    """Checked against Vega-Lite's own JSON schema (the one altair ships)."""
    import jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    outcome = night(small_publication)
    with report.page_of(small_publication, outcome) as page:
        assert page.marts is not None
        days = figures.sales_days(page.marts, page.names, page.coverage, D("2023-04-03"), D("2023-05-28"))
        festival = figures.festivals(page.marts, 2023)[0]
        made = [charts.reach_trend(figures.reach_by_month(page.marts)),
                charts.reach_by_region(figures.reach_by_region(page.marts, 2023), 2023),
                charts.sales_trend(figures.sales_by_month(days), figures.festivals(page.marts)),
                charts.festival_days(days.rows(), festival, {"요기요": 1000.0}),
                charts.coupon_rates(figures.coupon_rates(page.marts, 2023), 2023)]
    validator = jsonschema.Draft7Validator(load_schema())
    for spec in made:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(spec)]
        assert errors == [], errors


def test_the_report_has_monthly_trends_of_reach_and_sales_and_each_festival(written) -> None:
    _, _, html = written
    assert sections(html) == ["held-back", "kpis", "reach", "sales", "coupons", "feeds"]
    reach = html.split('<section id="reach">')[1].split("</section>")[0]
    sales = html.split('<section id="sales">')[1].split("</section>")[0]
    assert reach.count("<svg") == 2 and "월별 지원 소상공인 수" in reach
    assert sales.count("<svg") == 2 and "월별 매출" in sales and "DH2023-05" in sales
    assert "Days without data are gaps" in sales and "held back: 05-03" in sales


def test_the_report_draws_in_headless_chromium_offline(written, tmp_path: Path) -> None:
    from tests.support.browser import opened

    dirs, _, _ = written
    with opened(dirs.reports / "latest.html") as seen:
        figures_drawn = seen.page.eval_on_selector_all(
            "figure svg", "svgs => svgs.map(s => [s.getBoundingClientRect().width, "
                          "s.querySelectorAll('.mark-line path, .mark-rect path, .mark-symbol path').length])")
        screenshot = tmp_path / "report.png"
        seen.page.screenshot(path=str(screenshot), full_page=True)
    assert seen.errors == [] and seen.external == []
    # reach by month and by 시도, sales by month and during the festival, coupons
    assert len(figures_drawn) == 5, figures_drawn
    assert all(width > 300 and marks > 0 for width, marks in figures_drawn), figures_drawn
    assert screenshot.stat().st_size > 20_000
    print(f"screenshot: {screenshot}")


def test_no_chart_reaches_for_the_network(written) -> None:
    _, _, html = written
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "cdn" not in html.lower()


def test_a_failed_run_reports_without_charts(tmp_path: Path) -> None:
    dirs = DataDirs.from_env(tmp_path / "data")
    outcome = RunOutcome("failed-1", "nightly", (D("2023-05-07"), D("2023-05-07")), dt.datetime.now(dt.UTC),
                         error="TransformFailed: dbt build failed")
    html = report.render_html(dirs, outcome)
    assert sections(html) == ["held-back", "feeds"]
    assert "Failed — the previous publication is untouched" in html and "TransformFailed" in html


def test_the_prefect_summary_compares_with_the_article_only_for_a_whole_year(small_publication: DataDirs) -> None:
    outcome = night(small_publication)
    with report.page_of(small_publication, outcome) as page:
        text = artifacts.summary_markdown(outcome, page.coverage)
    assert "## Programme KPIs 2023 (2023-04-10 … 2023-05-20, partial year)" in text
    assert "| 지원 소상공인 수 · 전체 | 10.00 |" in text and "✗" not in text


def test_the_article_takes_its_kpi_names_from_the_warehouse(small_publication: DataDirs) -> None:
    from panro.domain import article

    kpis = figures.read_kpis(small_publication.warehouse, 2023)
    table = article.format_table(article.compare(figures.kpi_lookup(kpis, 2023)), figures.kpi_names(kpis))
    assert "지원 소상공인 수 · 전체" in table and "교육 만족도 (평균) · 배달의민족" in table


def test_kpis_read_back_with_their_names(small_publication: DataDirs) -> None:
    kpis = figures.read_kpis(small_publication.warehouse, 2023)
    assert {k["kpi_name_ko"] for k in kpis} >= {"지원 소상공인 수", "동행축제 매출액 (원)"}
    con = duckdb.connect(str(small_publication.warehouse), read_only=True)
    try:
        assert len(kpis) == con.execute("select count(*) from marts.mart_program_kpis").fetchone()[0]
    finally:
        con.close()
