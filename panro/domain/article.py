"""The programme's 2023 figures as announced (domain.md, marts.md KPI table) and how close we are.

The figures' names are not kept here: each KPI's Korean name, and each partner's, comes from the
warehouse (`mart_program_kpis.kpi_name_ko`, `platform_name_ko`), where analysts read them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ARTICLE_YEAR = 2023


@dataclass(frozen=True)
class Figure:
    kpi_code: str
    partner_code: str
    value: float
    tolerance: float      # relative
    at_least: bool = False

    def matches(self, got: float | None) -> bool:
        if got is None:
            return False
        if self.at_least:
            return got >= self.value
        return abs(got - self.value) <= self.tolerance * self.value + 1e-9

    @property
    def qualifier(self) -> str:
        """How the article gives it: "≥" (over), "≈" (about) or "" (exactly)."""
        return "≥" if self.at_least else "≈" if self.tolerance else ""


ARTICLE_2023 = (
    Figure("merchants_reached", "ALL", 16_867, 0.0),
    Figure("traditional_markets", "kakao", 111, 0.0),
    Figure("courses", "baemin", 29, 0.0),
    Figure("learners", "baemin", 27_000, 0.02),
    Figure("course_satisfaction_avg", "baemin", 4.83, 0.005 / 4.83),
    Figure("smart_stores", "kt", 200, 0.0),
    Figure("o2o_package_merchants", "yogiyo", 2_200, 0.02),
    Figure("extra_support_merchants", "yogiyo", 1_500, 0.02),
    Figure("avg_sales_growth_multiple", "zigzag", 3.3, 0.05 / 3.3),
    Figure("festival_sales_krw", "ALL", 400e9, 0.05),
    Figure("private_support_krw", "ALL", 7e9, 0.0, at_least=True),
)


def compare(kpis: Mapping[tuple[str, str], float]) -> list[tuple[Figure, float | None, bool]]:
    """(figure, value found for (partner, kpi), whether it reproduces the article)."""
    rows = []
    for f in ARTICLE_2023:
        got = kpis.get((f.partner_code, f.kpi_code))
        rows.append((f, got, f.matches(got)))
    return rows


def fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def format_table(rows: list[tuple[Figure, float | None, bool]], names: Mapping[tuple[str, str], str]) -> str:
    """The comparison as text; `names`: (partner, kpi) → the figure's name as the warehouse gives it.
    Drawn by rich (panro.runtime.console), which measures Hangul as the two columns a terminal gives it."""
    from panro.runtime.console import render_table

    def name(f: Figure) -> str:
        return names.get((f.partner_code, f.kpi_code)) or f"{f.kpi_code} · {f.partner_code}"

    table = render_table([("KPI", "left"), ("pipeline", "right"), ("article", "right"), ("ok", "center")],
                         [(name(f), fmt(got), f"{f.qualifier} {fmt(f.value)}".strip(), "✓" if ok else "✗")
                          for f, got, ok in rows])
    return f"{table}\n{sum(ok for *_, ok in rows)}/{len(rows)} figures reproduce the article"
