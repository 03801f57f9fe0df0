"""The run's Prefect artifacts: a table of batches, a summary in Markdown, the feeds and dbt's work
(what Prefect's UI shows of a run; the HTML page is `panro.report.html`)."""

from __future__ import annotations

import logging
from typing import Any

from panro.domain import article
from panro.freshness import report as feed_report
from panro.report import figures
from panro.report.figures import kpi_lookup, kpi_names
from panro.report.outcome import RunOutcome


def batch_rows(outcome: RunOutcome) -> list[dict[str, object]]:
    return [{
        "partner": b.partner, "feed": b.feed, "file": b.file_name, "date": str(b.business_date or ""),
        "rows": b.rows_delivered, "published": b.rows_published, "rejected": b.rows_rejected,
        "quarantined": b.rows_quarantined, "status": b.status, "reason": b.reason[:300],
    } for b in outcome.batches]


def dbt_failure_rows(outcome: RunOutcome) -> list[dict[str, object]]:
    """One row per failing dbt node and batch its rows come from (panro.transform.failures)."""
    rows: list[dict[str, object]] = []
    for f in outcome.dbt_failures:
        for b in f.get("batches") or [{}]:  # type: ignore[union-attr]
            rows.append({"dbt node": f"{f['resource_type']} {f['node']}", "model": f.get("model") or "",
                         "message": str(f.get("message") or "")[:200],
                         "partner/feed": f"{b['partner']}/{b['feed']}" if b else "", "file": b.get("file_name", ""),
                         "rows": b.get("rows", f.get("failing_rows") or 0),
                         "batch": b.get("batch_id", "") or f.get("traced") or ""})
    return rows


def dbt_node_rows(outcome: RunOutcome) -> list[dict[str, object]]:
    """The night's dbt work, node by node (models first, then tests; each in the order dbt ran them)."""
    order = {"seed": 0, "model": 1, "snapshot": 2, "test": 3}
    return sorted(({"name": m.get("name"), "resource_type": m.get("resource_type"), "status": m.get("status"),
                    "rows": m.get("rows"), "seconds": m.get("seconds"), "message": m.get("message") or ""}
                   for m in outcome.dbt_models), key=lambda m: order.get(str(m["resource_type"]), 4))


def logger() -> Any:
    """The flow run's logger inside a Prefect run, this module's outside one."""
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:
        return logging.getLogger(__name__)


def summary_markdown(outcome: RunOutcome, coverage: figures.Coverage | None = None) -> str:
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
        lines += ["", "## Held back tonight", "", "| partner/feed | file | status | reason |", "|---|---|---|---|"]
        lines += [f"| {b.partner}/{b.feed} | {b.file_name} | {b.status} | {b.reason[:200]} |"
                  for b in outcome.held_back]
    names = kpi_names(outcome.kpis)
    for year in sorted({int(k["year"]) for k in outcome.kpis}):  # type: ignore[call-overload]
        period = coverage.period(year) if coverage else None
        full = coverage is not None and coverage.full_year(year)
        span = f" ({period[0]} … {period[1]}{'' if full else ', partial year'})" if period else ""
        compared = full and year == article.ARTICLE_YEAR
        lines += ["", f"## Programme KPIs {year}{span}", ""]
        if note := feed_report.completeness_markdown(outcome.feeds):
            lines += [note, ""]
        lines += [
                  "| KPI | value | article |" if compared else "| KPI | value |",
                  "|---|---|---|" if compared else "|---|---|"]
        found = kpi_lookup(outcome.kpis, year)
        for f, got, ok in article.compare(found):
            name = names.get((f.partner_code, f.kpi_code), f"{f.kpi_code} · {f.partner_code}")
            value = "" if got is None else f"{got:,.2f}"
            lines.append(f"| {name} | {value} | {f.qualifier} {f.value:,.2f} {'✓' if ok else '✗'} |" if compared
                         else f"| {name} | {value} |")
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v}" for k, v in outcome.timings.items())]
    return "\n".join(lines)


def publish(outcome: RunOutcome, coverage: figures.Coverage | None) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from prefect.context import get_run_context

    try:
        get_run_context()
    except Exception:
        return  # outside a Prefect run: nothing to attach artifacts to
    create_table_artifact(batch_rows(outcome) or [{"status": "no new batches"}], key="panro-batches",
                          description=f"Batches of the {outcome.kind} run {outcome.run_id}")
    create_markdown_artifact(summary_markdown(outcome, coverage), key="panro-summary",
                             description="Run summary and programme KPIs")
    if outcome.feeds:
        create_table_artifact(feed_report.table_rows(outcome.feeds), key="panro-feeds",
                              description="Every contracted feed: fresh, overdue or never delivered")
    if outcome.dbt_models:
        create_table_artifact(dbt_node_rows(outcome), key="panro-dbt",
                              description="dbt's work in this run: each model and test, status, rows, seconds")
