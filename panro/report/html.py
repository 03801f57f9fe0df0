"""Run reports: an HTML page under reports/ (and the Prefect artifacts, `panro.report.artifacts`).

The page is Jinja2 templates (`panro/templates/report/`): a header, then one section after another,
each a `Section` made by one function of `SECTIONS` from the run and the warehouses and drawn by its
own template. A new section is a function appended there and a template beside the others. Charts
are drawn by `panro.report.charts` (Vega-Lite, offline, inline SVG); values come from `panro.report.figures`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from panro.domain import article
from panro.freshness import report as feed_report
from panro.report import artifacts, figures
from panro.report.artifacts import batch_rows, dbt_failure_rows, dbt_node_rows
from panro.report.outcome import RunOutcome
from panro.settings import DataDirs

# -- what the page is made of -----------------------------------------------------------------------

@dataclass
class Section:
    """One part of the page: its anchor, heading and template (under templates/report/), and its values."""

    id: str
    title: str
    template: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """What every section is made from: the run, the published warehouse opened read-only (None if
    absent or the run failed), and what the published zone covers."""

    dirs: DataDirs
    outcome: RunOutcome
    marts: duckdb.DuckDBPyConnection | None
    coverage: figures.Coverage

    @property
    def years(self) -> list[int]:
        return sorted({int(k["year"]) for k in self.outcome.kpis})  # type: ignore[call-overload]

    @property
    def names(self) -> dict[str, str]:
        return figures._platform_names(self.marts)


def _held_now(dirs: DataDirs, outcome: RunOutcome) -> list[tuple[str, dt.date | None]]:
    """(partner/feed, business date) of every batch held back now: the quarantine, and tonight's failures."""
    from panro.quarantine import list_quarantined

    held = [(f"{e.partner}/{e.feed}", dt.date.fromisoformat(e.business_date) if e.business_date else None)
            for e in list_quarantined(dirs)]
    return held + [(f"{b.partner}/{b.feed}", b.business_date) for b in outcome.held_back]


@contextmanager
def page_of(dirs: DataDirs, outcome: RunOutcome) -> Iterator[Page]:
    marts = figures.connect(dirs.warehouse) if outcome.published else None
    try:
        yield Page(dirs, outcome, marts, figures.coverage(dirs, _held_now(dirs, outcome)))
    finally:
        if marts is not None:
            marts.close()


# -- the sections, in page order -----------------------------------------------------------------



def dbt_failures_section(page: Page) -> Section | None:
    """When dbt's data tests failed: each test, and the batches whose rows it found (to hold back)."""
    if not page.outcome.dbt_failures:
        return None
    batches = [str(b["batch_id"])  # type: ignore[index]
               for f in page.outcome.dbt_failures for b in f.get("batches") or []]  # type: ignore[union-attr]
    return Section("dbt-failures", "dbt found these rows wrong", "sections/dbt_failures.html.j2",
                   {"rows": dbt_failure_rows(page.outcome), "batches": list(dict.fromkeys(batches))})


def freshness_section(page: Page) -> Section | None:
    """Before the figures: the feeds gone quiet (overdue, never delivered), how far each partner's figures
    are complete when one of its feeds stopped, and the files that came with a column the contract
    does not know (panro.freshness.status, panro.freshness.report)."""
    feeds, drift = page.outcome.feeds, page.outcome.schema_drift
    late, never = feed_report.overdue(feeds), feed_report.never_delivered(feeds)
    incomplete = [feed_report.completeness_line(c) for c in feed_report.completeness(feeds)]
    if not late and not never and not incomplete and not drift:
        return None
    title = f"Overdue feeds ({len(late)})" if late else "Feeds"
    return Section("freshness", title, "sections/freshness.html.j2", {
        "overdue": late, "never": never, "incomplete": incomplete,
        "drift": [feed_report.drift_line(d) for d in drift]})


def held_back_section(page: Page) -> Section:
    """First: what the gate held back tonight, what it published without some rows, and what the
    quarantine still holds from earlier nights."""
    from panro.quarantine import list_quarantined

    tonight = [r for r in batch_rows(page.outcome) if r["status"] in ("quarantined", "failed")]
    rejected = [r for r in batch_rows(page.outcome) if r["status"] not in ("quarantined", "failed") and r["rejected"]]
    tonight_files = {(r["partner"], r["feed"], r["file"]) for r in tonight}
    earlier = [e for e in list_quarantined(page.dirs) if (e.partner, e.feed, e.file_name) not in tonight_files]
    return Section("held-back", "Held back tonight", "sections/held_back.html.j2",
                   {"tonight": tonight, "rejected": rejected, "earlier": earlier,
                    "not_extracted": page.outcome.not_extracted})


def kpis_section(page: Page) -> Section | None:
    """Each year's KPIs, the business dates they cover, and — for a whole programme year the article
    reported on — the article's figures beside them."""
    if not page.years:
        return None
    years = []
    for year in page.years:
        rows = sorted((k for k in page.outcome.kpis if k["year"] == year), key=_kpi_order)
        full = page.coverage.full_year(year)
        compared = full and year == article.ARTICLE_YEAR
        figures_by_key = {(f.partner_code, f.kpi_code): (f, ok)
                          for f, _, ok in article.compare(figures.kpi_lookup(rows, year))} if compared else {}
        years.append({"year": year, "period": page.coverage.period(year), "full": full, "compared": compared,
                      "article_year": year == article.ARTICLE_YEAR, "held": page.coverage.held_in(year),
                      "rows": [{**k, "figure": figures_by_key.get((str(k["partner_code"]), str(k["kpi_code"])))}
                               for k in rows],
                      "reproduced": sum(ok for _, ok in figures_by_key.values()), "figures": len(figures_by_key)})
    return Section("kpis", "Programme KPIs", "sections/kpis.html.j2", {"years": years})


def _kpi_order(k: dict[str, object]) -> tuple[int, bool, str]:
    """The marts.md order of KPIs (the article's), each KPI's partners before the programme (ALL)."""
    codes = [f.kpi_code for f in article.ARTICLE_2023]
    code = str(k["kpi_code"])
    return (codes.index(code) if code in codes else len(codes), k["partner_code"] == "ALL",
            str(k.get("platform_name_ko") or k["partner_code"]))


def reach_section(page: Page) -> Section | None:
    if page.marts is None or not page.years:
        return None
    from panro.report import charts

    year = page.years[-1]
    trend = figures.reach_by_month(page.marts)
    regions = figures.reach_by_region(page.marts, year)
    return Section("reach", "Merchants reached", "sections/reach.html.j2", {
        "year": year,
        "trend": charts.draw(charts.reach_trend(trend)) if trend else None,
        "regions": charts.draw(charts.reach_by_region(regions, year)) if regions else None})


def sales_section(page: Page) -> Section | None:
    """Monthly sales of the festival KPI's partners, and each festival of the year day by day, with the
    days a partner's sales feed has no data for shown as gaps and listed."""
    if page.marts is None or not page.years:
        return None
    from panro.report import charts

    sales_days = [d for feed in figures.SALES_FEEDS.values() for d in page.coverage.days.get(feed, ())]
    if not sales_days:
        return None
    first, last = min(sales_days), max(sales_days)
    names = page.names
    whole = figures.sales_days(page.marts, names, page.coverage, first, last)
    monthly = figures.sales_by_month(whole)
    year = page.years[-1]
    festivals = []
    for festival in figures.festivals(page.marts, year):
        code, name, start, end = festival
        if start > last:
            continue
        days = figures.sales_days(page.marts, names, page.coverage, start - dt.timedelta(days=figures.BASELINE_DAYS),
                                  min(end, last))
        # a partner's baseline (its mean daily sales over the 28 days before) only when all 28 have data
        before = {p: [v for d, v in by_day.items() if d < start] for p, by_day in days.values.items()}
        baselines = {p: sum(vs) / len(vs) for p, vs in before.items() if vs and None not in vs}  # type: ignore[arg-type]
        festivals.append({"code": code, "name": name, "start": start, "end": end, "clipped": end > last,
                          "chart": charts.draw(charts.festival_days(days.rows(), festival, baselines)),
                          "gaps": _gap_notes(days), "no_baseline": sorted(set(before) - set(baselines))})
    return Section("sales", "Sales", "sections/sales.html.j2", {
        "first": first, "last": last, "year": year,
        "trend": charts.draw(charts.sales_trend(monthly, figures.festivals(page.marts))) if monthly else None,
        "incomplete": [m for m in monthly if not m["complete"]],
        "festivals": festivals})


def _gap_notes(days: figures.SalesDays) -> list[dict[str, Any]]:
    """Per partner, its missing days as ranges ("05-02 – 05-04"), and which of them are held back."""
    notes = []
    for partner, gaps in days.gaps.items():
        if not gaps:
            continue
        ranges: list[list[dt.date]] = []
        for day, _ in gaps:
            if ranges and (day - ranges[-1][1]).days == 1:
                ranges[-1][1] = day
            else:
                ranges.append([day, day])
        notes.append({"partner": partner, "days": len(gaps), "ranges": ranges,
                      "held": [d for d, held in gaps if held]})
    return notes


def coupons_section(page: Page) -> Section | None:
    if page.marts is None or not page.years:
        return None
    from panro.report import charts

    year = page.years[-1]
    rows = figures.coupon_rates(page.marts, year)
    if not rows:
        return None
    return Section("coupons", "Coupons", "sections/coupons.html.j2",
                   {"year": year, "chart": charts.draw(charts.coupon_rates(rows, year))})


def feeds_section(page: Page) -> Section:
    return Section("feeds", "Batches by feed", "sections/feeds.html.j2", {"feeds": _feed_summary(page.outcome)})




def dbt_work_section(page: Page) -> Section | None:
    """What dbt did tonight: each model and test, its status, rows and time (not a black box)."""
    nodes = dbt_node_rows(page.outcome)
    if not nodes:
        return None
    counts: dict[str, int] = {}
    for n in nodes:
        counts[str(n["status"])] = counts.get(str(n["status"]), 0) + 1
    return Section("dbt-work", "dbt's work tonight", "sections/dbt_work.html.j2",
                   {"nodes": nodes, "counts": sorted(counts.items()),
                    "seconds": round(sum(float(n["seconds"] or 0) for n in nodes), 1)})


def _feed_summary(outcome: RunOutcome) -> list[dict[str, object]]:
    feeds: dict[str, dict[str, Any]] = {}
    for b in outcome.batches:
        f = feeds.setdefault(f"{b.partner}/{b.feed}", {"feed": f"{b.partner}/{b.feed}", "files": 0, "delivered": 0,
                                                       "published": 0, "rejected": 0, "quarantined": 0,
                                                       "held back": 0})
        f["files"] += 1
        f["delivered"] += b.rows_delivered
        f["published"] += b.rows_published
        f["rejected"] += b.rows_rejected
        f["quarantined"] += b.rows_quarantined
        f["held back"] += b.status in ("quarantined", "failed")
    return [feeds[k] for k in sorted(feeds)]


SectionMaker = Callable[[Page], Section | None]
SECTIONS: list[SectionMaker] = [dbt_failures_section, freshness_section, held_back_section, kpis_section, reach_section,
                                sales_section, coupons_section, feeds_section, dbt_work_section]


# -- rendering -----------------------------------------------------------------------------------

@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("panro", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, value=_value, date=_date)
    return env


def _num(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    v = float(value)  # type: ignore[arg-type]
    return f"{v:,.0f}" if v.is_integer() or abs(v) >= 1000 else f"{v:,.3f}".rstrip("0").rstrip(".")


def _value(value: object, unit: object = None) -> str:
    if value is None:
        return "—"
    v = float(value)  # type: ignore[arg-type]
    if unit == "KRW":
        return f"{v:,.0f}원"
    if unit in ("multiple", "score (1-5)"):
        return f"{v:,.2f}"
    return f"{v:,.0f}" if v.is_integer() or abs(v) >= 1000 else f"{v:,.2f}"


def _date(value: object, fmt: str = "%Y-%m-%d") -> str:
    return value.strftime(fmt) if isinstance(value, dt.date) else "—"


def _links(dirs: DataDirs) -> list[tuple[str, str]]:
    return [(label, rel) for label, rel in (("Great Expectations Data Docs", "data_docs/index.html"),
                                            ("dbt docs", "dbt_docs/index.html"),
                                            ("marts as Excel", "exports/panro_marts.xlsx"))
            if (dirs.reports / rel).exists()]


def _render(page: Page) -> str:
    sections = [s for make in SECTIONS if (s := make(page)) is not None]
    return _environment().get_template("report/base.html.j2").render(
        outcome=page.outcome, totals=page.outcome.totals(), sections=sections, links=_links(page.dirs))


def render_html(dirs: DataDirs, outcome: RunOutcome) -> str:
    with page_of(dirs, outcome) as page:
        return _render(page)


# -- the files ----------------------------------------------------------------------------------

def write(dirs: DataDirs, outcome: RunOutcome) -> Path:
    """Write reports/run-<time>.html (and reports/latest.html), attach Prefect artifacts, and — when
    PANRO_EXPORT names formats (`xlsx`, `csv`) — export the marts to reports/exports/."""
    if outcome.published and os.environ.get("PANRO_EXPORT", "").strip():
        from panro.publish import export

        try:
            export.nightly(dirs, os.environ["PANRO_EXPORT"])
        except (export.ExportError, OSError, duckdb.Error) as e:   # the report is still written, and says so
            artifacts.logger().error("could not export the marts: %s", e)
    with page_of(dirs, outcome) as page:
        artifacts.publish(outcome, page.coverage)
        html = _render(page)
    dirs.reports.mkdir(parents=True, exist_ok=True)
    stamp = outcome.started_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = dirs.reports / f"run-{stamp}.html"
    path.write_text(html, encoding="utf-8")
    (dirs.reports / "latest.html").write_text(html, encoding="utf-8")
    (dirs.reports / f"run-{stamp}.json").write_text(
        json.dumps(outcome.as_dict(), default=str, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
