"""What a run's report, Prefect artifacts and command line say about the feeds: which are overdue,
how complete the figures are, which files came with a new column — plain text and Markdown lines,
and the values of the report's section, from a run's feed statuses (the plain dicts of
`panro.freshness.status.refresh`) and its schema drift (`panro.report.outcome.schema_drift`), for `panro.report.html`
and `panro.commands.running` to place.

Overdue feeds come first in the report and the summary artifact; under the KPIs, each partner's
figures that are not complete through the run's business date say so ("요기요 sales complete through
05-21"), instead of showing a quiet drop.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import cache
from typing import Any

from panro.settings import SEEDS_DIR

Feed = dict[str, Any]


@cache
def platform_names() -> dict[str, str]:
    """partner_code → the platform's Korean name (dim_partner's seed), e.g. yogiyo → 요기요."""
    with (SEEDS_DIR / "partners.csv").open(encoding="utf-8") as f:
        return {r["partner_code"]: r["platform_name_ko"] for r in csv.DictReader(f)}


def _day(value: Any, run_date: Any = None) -> str:
    """A business date as MM-DD in the run's year, else in full."""
    if value is None:
        return "—"
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    ref = run_date if isinstance(run_date, dt.date) else None
    return f"{day:%m-%d}" if ref is not None and ref.year == day.year else day.isoformat()


def overdue(feeds: list[Feed]) -> list[Feed]:
    return [f for f in feeds if f["status"] == "overdue"]


def never_delivered(feeds: list[Feed]) -> list[Feed]:
    return [f for f in feeds if f["status"] == "never_delivered"]


def overdue_line(f: Feed) -> str:
    """`yogiyo/orders — no file since 2023-05-21: 7 days before 2023-05-28 (overdue after 2 days)`."""
    held = f" ({f['held_back_batches']} file(s) held back)" if f["held_back_batches"] else ""
    return (f"{f['partner']}/{f['feed']} — no published file since {f['last_business_date']}: "
            f"{f['days_since_last']} days before {f['run_date']} (overdue after {f['overdue_after_days']} "
            f"days){held}")


def completeness(feeds: list[Feed]) -> list[dict[str, Any]]:
    """Per partner and figure (sales, support, coupons) with a source feed overdue or never delivered:
    the date its figures are complete through — the earliest `covered_through` of the partner's feeds
    of that figure (None if one never delivered). A fresh feed a day behind the run's date (its file
    not in yet) is the ordinary lag, not news; the marts' `data_complete_through` carry it still."""
    by_figure: dict[tuple[str, str], list[Feed]] = {}
    for f in feeds:
        for figure in f["figures"]:
            by_figure.setdefault((f["partner"], figure), []).append(f)
    out = []
    for (partner, figure), group in sorted(by_figure.items()):
        covered = [f["covered_through"] for f in group]
        run_date = group[0]["run_date"]
        through = None if None in covered else min(covered)
        stopped = any(f["status"] in ("overdue", "never_delivered") for f in group)
        if stopped and run_date is not None and (through is None or through < run_date):
            out.append({"partner": partner, "figure": figure, "complete_through": through, "run_date": run_date})
    return out


def completeness_line(c: dict[str, Any]) -> str:
    name = platform_names().get(c["partner"], c["partner"])
    if c["complete_through"] is None:
        return f"{name} {c['figure']}: nothing delivered yet"
    return f"{name} {c['figure']} complete through {_day(c['complete_through'], c['run_date'])}"


# -- Markdown (the summary artifact) ---------------------------------------------------------------

def markdown(feeds: list[Feed]) -> str:
    """The top of the run's summary: overdue feeds (and feeds that never delivered), or nothing."""
    late, never = overdue(feeds), never_delivered(feeds)
    if not late and not never:
        return ""
    lines = []
    if late:
        lines += [f"## Overdue feeds ({len(late)})", "", "| feed | last business date | days since | overdue after "
                  "| held back |", "|---|---|---|---|---|"]
        lines += [f"| {f['partner']}/{f['feed']} | {f['last_business_date']} | {f['days_since_last']} | "
                  f"{f['overdue_after_days']} | {f['held_back_batches']} |" for f in late]
    if never:
        lines += ["", "Never delivered: " + ", ".join(f"{f['partner']}/{f['feed']}" for f in never)]
    return "\n".join(lines).strip() + "\n"


def completeness_markdown(feeds: list[Feed]) -> str:
    """Under the KPIs: which partners' figures are not complete through the run's date."""
    found = completeness(feeds)
    if not found:
        return ""
    return "Figures not complete through the run's date: " + "; ".join(completeness_line(c) for c in found) + "."


def table_rows(feeds: list[Feed]) -> list[dict[str, Any]]:
    """Every feed's status, for the run's feed table artifact."""
    return [{"feed": f"{f['partner']}/{f['feed']}", "status": f["status"],
             "last business date": str(f["last_business_date"] or ""), "days since": f["days_since_last"],
             "overdue after": f["overdue_after_days"], "held back": f["held_back_batches"],
             "last delivered at": str(f["last_delivered_at"] or "")} for f in feeds]


# -- schema drift -----------------------------------------------------------------------------------

def drift_line(d: dict[str, str]) -> str:
    """`zigzag/coupons zigzag_coupons_20230601.csv — new column(s) ['memo']: kept in the raw zone, not published`."""
    return f"{d['partner']}/{d['feed']} {d['file_name']} — {d['detail']}: kept in the raw zone, not published"


def drift_markdown(drift: list[dict[str, str]]) -> str:
    if not drift:
        return ""
    return "\n".join(["## New columns", "", *(f"- {drift_line(d)}" for d in drift)]) + "\n"


