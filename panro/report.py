"""Run reports: Prefect artifacts (a table of batches, a KPI summary) and an HTML page under reports/."""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import duckdb

from panro import article
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


def summary_markdown(outcome: RunOutcome) -> str:
    t = outcome.totals()
    lines = [
        f"# panro {outcome.kind} run — {outcome.dates[0]} … {outcome.dates[1]}",
        "",
        f"exit status **{outcome.exit_code}**; batches {t['batches']}, rows delivered {t['rows_delivered']:,},"
        f" published {t['rows_published']:,}, rejected {t['rows_rejected']:,},"
        f" quarantined {t['rows_quarantined']:,}.",
    ]
    if outcome.error:
        lines += ["", f"**Failed:** {outcome.error} — the previous publication is untouched."]
    if outcome.held_back:
        lines += ["", "## Held back", "", "| partner/feed | file | status | reason |", "|---|---|---|---|"]
        lines += [f"| {b.partner}/{b.feed} | {b.file_name} | {b.status} | {b.reason[:200]} |"
                  for b in outcome.held_back]
    years = sorted({int(k["year"]) for k in outcome.kpis})  # type: ignore[call-overload]
    for year in years:
        lines += ["", f"## Programme KPIs {year}", "", "| KPI | partner | value | article |", "|---|---|---|---|"]
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


def render_html(dirs: DataDirs, outcome: RunOutcome) -> str:
    rows = batch_rows(outcome)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in (rows[0] if rows else {}))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
                   for r in rows)
    md = html.escape(summary_markdown(outcome))
    return (f"<!doctype html><meta charset='utf-8'><title>panro run {outcome.run_id}</title>"
            f"<h1>panro {outcome.kind} run</h1><pre>{md}</pre><h2>Batches</h2>"
            f"<table border=1 cellspacing=0><tr>{head}</tr>{body}</table>")
