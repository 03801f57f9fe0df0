"""The programme's 2023 figures as announced (domain.md, marts.md KPI table) and how close we are."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    kpi_code: str
    partner_code: str
    label: str
    value: float
    tolerance: float      # relative
    at_least: bool = False

    def matches(self, got: float | None) -> bool:
        if got is None:
            return False
        if self.at_least:
            return got >= self.value
        return abs(got - self.value) <= self.tolerance * self.value + 1e-9


ARTICLE_2023 = (
    Figure("merchants_reached", "ALL", "지원 소상공인 (merchants reached)", 16_867, 0.0),
    Figure("traditional_markets", "kakao", "전통시장 (markets with digital tutors)", 111, 0.0),
    Figure("courses", "baemin", "배민 교육 콘텐츠 (courses)", 29, 0.0),
    Figure("learners", "baemin", "배민 수강생 (learners, about)", 27_000, 0.02),
    Figure("course_satisfaction_avg", "baemin", "배민 만족도 (satisfaction)", 4.83, 0.005 / 4.83),
    Figure("smart_stores", "kt", "KT 스마트상점 (smart stores)", 200, 0.0),
    Figure("o2o_package_merchants", "yogiyo", "요기요 1+1 패키지 (merchants, about)", 2_200, 0.02),
    Figure("extra_support_merchants", "yogiyo", "요기요 추가지원 (merchants, about)", 1_500, 0.02),
    Figure("avg_sales_growth_multiple", "zigzag", "지그재그 매출 성장 (×)", 3.3, 0.05 / 3.3),
    Figure("festival_sales_krw", "ALL", "동행축제 매출 (KRW, about)", 400e9, 0.05),
    Figure("private_support_krw", "ALL", "민간 자원 (KRW, over)", 7e9, 0.0, at_least=True),
)


def compare(kpis: dict[tuple[str, str], float]) -> list[tuple[Figure, float | None, bool]]:
    """(figure, value found for (partner, kpi), whether it reproduces the article)."""
    rows = []
    for f in ARTICLE_2023:
        got = kpis.get((f.partner_code, f.kpi_code))
        rows.append((f, got, f.matches(got)))
    return rows


def format_table(rows: list[tuple[Figure, float | None, bool]]) -> str:
    def fmt(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"

    lines = [f"{'KPI':<38} {'partner':<8} {'pipeline':>20} {'article':>20}  ok"]
    for f, got, ok in rows:
        want = (">= " if f.at_least else "") + fmt(f.value)
        lines.append(f"{f.label:<38} {f.partner_code:<8} {fmt(got):>20} {want:>20}  {'✓' if ok else '✗'}")
    lines.append(f"{sum(ok for *_, ok in rows)}/{len(rows)} figures reproduce the article")
    return "\n".join(lines)
