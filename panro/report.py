"""Run reports: Prefect artifacts (a table of batches, a KPI summary) and an HTML page under reports/."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import duckdb

from panro import article, feed_report
from panro import charts as charts_mod
from panro.outcome import RunOutcome
from panro.settings import DataDirs


def read_kpis(dirs: DataDirs, year: int | None = None) -> list[dict[str, object]]:
    """mart_program_kpis from the published warehouse (read-only)."""
    if not dirs.warehouse.exists():
        return []
    con = duckdb.connect(str(dirs.warehouse), read_only=True)
    try:
        sql = "select year, partner_code, kpi_code, value, unit from marts.mart_program_kpis"
        args: list[object] = []
        if year is not None:
            sql += " where year = ?"
            args.append(year)
        cur = con.execute(sql + " order by year, kpi_code, partner_code", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def kpi_lookup(kpis: list[dict[str, object]], year: int) -> dict[tuple[str, str], float]:
    return {(str(k["partner_code"]), str(k["kpi_code"])): float(k["value"])  # type: ignore[arg-type]
            for k in kpis if k["year"] == year and k["value"] is not None}


def batch_rows(outcome: RunOutcome) -> list[dict[str, object]]:
    return [{
        "partner": b.partner, "feed": b.feed, "file": b.file_name, "date": str(b.business_date or ""),
        "rows": b.rows_delivered, "published": b.rows_published, "rejected": b.rows_rejected,
        "quarantined": b.rows_quarantined, "status": b.status, "reason": b.reason[:300],
    } for b in outcome.batches]


def dbt_failure_rows(outcome: RunOutcome) -> list[dict[str, object]]:
    """One row per failing dbt node and batch its rows come from (panro.dbt_failures)."""
    rows: list[dict[str, object]] = []
    for f in outcome.dbt_failures:
        found = f.get("batches") or [{}]
        for b in found:  # type: ignore[union-attr]
            rows.append({"dbt node": f"{f['resource_type']} {f['node']}", "model": f.get("model") or "",
                         "message": str(f.get("message") or "")[:200],
                         "partner/feed": f"{b['partner']}/{b['feed']}" if b else "", "file": b.get("file_name", ""),
                         "rows": b.get("rows", f.get("failing_rows") or 0), "batch": b.get("batch_id", "")
                         or f.get("traced") or ""})
    return rows


def summary_markdown(outcome: RunOutcome) -> str:
    t = outcome.totals()
    lines = [
        f"# panro {outcome.kind} run — {outcome.dates[0]} … {outcome.dates[1]}",
        "",
        f"exit status **{outcome.exit_code}**; batches {t['batches']}, rows delivered {t['rows_delivered']:,},"
        f" published {t['rows_published']:,}, rejected {t['rows_rejected']:,},"
        f" quarantined {t['rows_quarantined']:,}.",
    ]
    for block in (feed_report.markdown(outcome.feeds), feed_report.drift_markdown(outcome.schema_drift)):
        if block:   # told first: feeds gone quiet, files with a new column
            lines += ["", block]
    if outcome.error:
        lines += ["", f"**Failed:** {outcome.error} — the previous publication is untouched."]
    if outcome.dbt_failures:
        lines += ["", "## dbt found these rows wrong", "", "| dbt node | partner/feed | file | rows | batch |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['dbt node']} | {r['partner/feed']} | {r['file']} | {r['rows']} | {r['batch']} |"
                  for r in dbt_failure_rows(outcome)]
        lines += ["", "Hold a batch back with `panro quarantine hold BATCH --reason …`: the next run publishes "
                  "everything else."]
    if outcome.held_back:
        lines += ["", "## Held back", "", "| partner/feed | file | status | reason |", "|---|---|---|---|"]
        lines += [f"| {b.partner}/{b.feed} | {b.file_name} | {b.status} | {b.reason[:200]} |"
                  for b in outcome.held_back]
    years = sorted({int(k["year"]) for k in outcome.kpis})  # type: ignore[call-overload]
    for year in years:
        lines += ["", f"## Programme KPIs {year}", ""]
        if note := feed_report.completeness_markdown(outcome.feeds):
            lines += [note, ""]
        lines += ["| KPI | partner | value | article |", "|---|---|---|---|"]
        found = kpi_lookup(outcome.kpis, year)
        for f, got, ok in article.compare(found):
            want = f"{f.value:,.2f}" if year == 2023 else ""
            lines.append(f"| {f.label} | {f.partner_code} | {'' if got is None else f'{got:,.2f}'} | "
                         f"{want}{' ✓' if ok and year == 2023 else ''} |")
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v}" for k, v in outcome.timings.items())]
    return "\n".join(lines)


def _publish_artifacts(outcome: RunOutcome) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from prefect.context import get_run_context

    try:
        get_run_context()
    except Exception:
        return  # outside a Prefect run: nothing to attach artifacts to
    create_table_artifact(batch_rows(outcome) or [{"status": "no new batches"}], key="panro-batches",
                          description=f"Batches of the {outcome.kind} run {outcome.run_id}")
    create_markdown_artifact(summary_markdown(outcome), key="panro-summary",
                             description="Run summary and programme KPIs")
    if outcome.feeds:
        create_table_artifact(feed_report.table_rows(outcome.feeds), key="panro-feeds",
                              description="Every contracted feed: fresh, overdue or never delivered")


def write(dirs: DataDirs, outcome: RunOutcome) -> Path:
    """Write reports/run-<time>.html (and reports/latest.html) and attach Prefect artifacts."""
    _publish_artifacts(outcome)
    dirs.reports.mkdir(parents=True, exist_ok=True)
    stamp = outcome.started_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    page = render_html(dirs, outcome)
    path = dirs.reports / f"run-{stamp}.html"
    path.write_text(page, encoding="utf-8")
    (dirs.reports / "latest.html").write_text(page, encoding="utf-8")
    (dirs.reports / f"run-{stamp}.json").write_text(
        json.dumps(outcome.as_dict(), default=str, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# -- the HTML page -------------------------------------------------------------------------------

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f4f4f4}td.n{text-align:right}.bad{color:#b00}.ok{color:#070}figure{margin:1em 0}
.muted{color:#777;font-size:12px}"""


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 1000 else f"{value:,.3f}"


def _cell(key: str, value: object, numeric: set[str]) -> str:
    if key in numeric and isinstance(value, int | float):
        return f"<td class=n>{value:,}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: list[dict[str, object]], numeric: set[str]) -> str:
    if not rows:
        return "<p class=muted>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(_cell(k, v, numeric) for k, v in r.items()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _feed_summary(outcome: RunOutcome) -> list[dict[str, object]]:
    feeds: dict[str, dict[str, object]] = {}
    for b in outcome.batches:
        f = feeds.setdefault(f"{b.partner}/{b.feed}", {"feed": f"{b.partner}/{b.feed}", "files": 0, "delivered": 0,
                                                       "published": 0, "rejected": 0, "quarantined": 0, "held back": 0})
        f["files"] += 1  # type: ignore[operator]
        f["delivered"] += b.rows_delivered  # type: ignore[operator]
        f["published"] += b.rows_published  # type: ignore[operator]
        f["rejected"] += b.rows_rejected  # type: ignore[operator]
        f["quarantined"] += b.rows_quarantined  # type: ignore[operator]
        f["held back"] += b.status in ("quarantined", "failed")  # type: ignore[operator]
    return [feeds[k] for k in sorted(feeds)]


def _connect(path: Path) -> duckdb.DuckDBPyConnection | None:
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    con.execute("set TimeZone = 'Asia/Seoul'")
    return con


def _festival_charts(work: duckdb.DuckDBPyConnection, year: int) -> list[str]:
    """Daily sales per partner through each festival window, against the 28-day baseline before it."""
    charts = []
    festivals = work.execute(
        "select festival_code, festival_name_ko, start_date, end_date from reference.festivals "
        "where year(start_date) = ? order by start_date", [year]).fetchall()
    for code, name, start, end in festivals:
        rows = work.execute("""
            select partner_code, sales_date, sum(sales_krw) from intermediate.int_daily_sales_netted
            where sales_date between ? - interval 28 day and ? group by all order by all""", [start, end]).fetchall()
        if not rows:
            continue
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        daily: dict[str, dict[dt.date, float]] = {}
        for partner, day, value in rows:
            daily.setdefault(partner, {})[day] = float(value)
        series = {p: [v.get(d, 0.0) for d in days] for p, v in sorted(daily.items())}
        baseline = {p: sum(val for d, val in v.items() if d < start) / 28 for p, v in sorted(daily.items())}
        charts.append(charts_mod.line_chart(f"{code} {name}: daily sales (KRW) by partner vs baseline",
                                            [d.strftime("%m-%d") for d in days], series, dashed=baseline))
    return charts


def _coupon_chart(marts: duckdb.DuckDBPyConnection, year: int) -> str:
    rows = marts.execute("""
        select partner_code || ' · ' || campaign_id, sum(coupons_redeemed) / nullif(sum(coupons_issued), 0)
        from marts.mart_coupon_redemption where year(issued_on) = ?
        group by all order by sum(coupons_issued) desc limit 15""", [year]).fetchall()
    return charts_mod.hbar_chart(f"Coupon redemption rate by campaign, {year} (largest 15 campaigns)",
                                 [(label, {"redeemed / issued": float(rate or 0)}) for label, rate in rows],
                                 value_fmt="percent")


def _reach_chart(marts: duckdb.DuckDBPyConnection, year: int) -> str:
    rows = marts.execute("""
        select r.sido_name_ko, e.support_type, count(distinct e.merchant_id)
        from marts.fct_support_events e
        join marts.dim_merchant m using (merchant_id)
        join marts.dim_region r on r.sido_code = m.sido_code
        where year(e.supported_on) = ? group by all""", [year]).fetchall()
    by_sido: dict[str, dict[str, float]] = {}
    for sido, support_type, n in rows:
        by_sido.setdefault(sido, {})[support_type] = float(n)
    ordered = sorted(by_sido.items(), key=lambda kv: -sum(kv[1].values()))
    return charts_mod.hbar_chart(f"Merchants reached by 시도 and support type, {year}", ordered,
                                 stack_order=("marketing", "capability", "promotion"))


def _data_charts(dirs: DataDirs, year: int) -> list[str]:
    out: list[str] = []
    marts = _connect(dirs.warehouse)
    if marts is not None:
        try:
            out += [_reach_chart(marts, year), _coupon_chart(marts, year)]
        finally:
            marts.close()
    work = _connect(dirs.work_warehouse)
    if work is not None:
        try:
            out += _festival_charts(work, year)
        finally:
            work.close()
    return out


def _links(dirs: DataDirs) -> str:
    links = []
    for label, rel in (("Great Expectations Data Docs", "data_docs/index.html"), ("dbt docs", "dbt_docs/index.html")):
        if (dirs.reports / rel).exists():
            links.append(f"<a href='{rel}'>{label}</a>")
    return " · ".join(links) or "<span class=muted>no Data Docs or dbt docs built yet</span>"


def render_html(dirs: DataDirs, outcome: RunOutcome) -> str:
    t = outcome.totals()
    status = {0: "<b class=ok>all batches published</b>", 2: "<b class=bad>published, with batches held back</b>",
              1: "<b class=bad>failed — the previous publication is untouched</b>"}[outcome.exit_code]
    parts = [f"<!doctype html><html lang=ko><meta charset='utf-8'><title>panro {outcome.kind} run</title>"
             f"<style>{_CSS}</style>",
             f"<h1>panro {outcome.kind} run · {outcome.dates[0]} … {outcome.dates[1]}</h1>",
             f"<p>{status} (exit {outcome.exit_code}). {t['batches']:,} batches, {t['rows_delivered']:,} rows "
             f"delivered: {t['rows_published']:,} published, {t['rows_rejected']:,} rejected, "
             f"{t['rows_quarantined']:,} quarantined.</p>",
             f"<p class=muted>run {html.escape(outcome.run_id)} · started {outcome.started_at:%Y-%m-%d %H:%M:%S} UTC"
             " · " + ", ".join(f"{k} {v}s" for k, v in outcome.timings.items()) + f"</p><p>{_links(dirs)}</p>"]
    parts += [feed_report.html_block(outcome.feeds), feed_report.drift_html(outcome.schema_drift)]
    if outcome.error:
        parts.append(f"<p class=bad>{html.escape(outcome.error)}</p>")
    if outcome.dbt_failures:
        parts += ["<h2>dbt found these rows wrong</h2>", _table(dbt_failure_rows(outcome), {"rows"}),
                  "<p>Hold a batch back (<code>panro quarantine hold BATCH --reason …</code>) and the next run "
                  "publishes everything else.</p>"]
    years = sorted({int(k["year"]) for k in outcome.kpis})  # type: ignore[call-overload]
    for year in years:
        found = kpi_lookup(outcome.kpis, year)
        rows = [{"KPI": f.label, "partner": f.partner_code, "pipeline": _num(found.get((f.partner_code, f.kpi_code))),
                 **({"article": ("≥ " if f.at_least else "") + f"{f.value:,}", "": "✓" if ok else "✗"}
                    if year == 2023 else {})} for f, _, ok in article.compare(found)]
        parts += [f"<h2>Programme KPIs {year}</h2>", feed_report.completeness_html(outcome.feeds), _table(rows, set())]
    if outcome.published and years:
        parts += ["<h2>Charts</h2>", *(f"<figure>{svg}</figure>" for svg in _data_charts(dirs, years[-1]))]
    held = [r for r in batch_rows(outcome) if r["status"] in ("quarantined", "failed") or r["rejected"]]
    parts += ["<h2>Held back or with rejected rows</h2>",
              _table(held, {"rows", "published", "rejected", "quarantined"}),
              "<h2>Batches by feed</h2>",
              _table(_feed_summary(outcome),
                     {"files", "delivered", "published", "rejected", "quarantined", "held back"})]
    return "".join(parts) + "</html>"
