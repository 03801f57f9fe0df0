"""The run report's charts: Vega-Lite specifications made with altair, drawn to SVG offline by vl-convert.

`vl-convert` carries Vega and Vega-Lite inside its wheel (no network, no browser, no script in the
page): each chart becomes an inline `<svg>` that prints, mails and opens from `file://` alike. A
chart function takes plain rows (`panro.figures`) and returns an altair chart; `svg()` draws it.

Distinct counts are never stacked (bars say `stack=None`; one panel per support type), and a value
of None is a gap in a line, never a zero.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from typing import Any

import altair as alt

WIDTH = 720
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
ALL = "전체"
# Korean amounts: 1.2억, 350만, 12,000
KRW_LABEL = ("abs(datum.value) >= 1e12 ? format(datum.value / 1e12, ',.1f') + '조' : "
             "abs(datum.value) >= 1e8 ? format(datum.value / 1e8, ',.1f') + '억' : "
             "abs(datum.value) >= 1e4 ? format(datum.value / 1e4, ',.0f') + '만' : format(datum.value, ',')")
FONT = "Nanum Gothic, Noto Sans CJK KR, Malgun Gothic, Apple SD Gothic Neo, sans-serif"
_ids = itertools.count(1)


def _config(chart: alt.TopLevelMixin) -> Any:
    return chart.configure(font=FONT).configure_view(stroke="#ddd").configure_axis(labelFontSize=11) \
        .configure_title(fontSize=14, anchor="start")


def _iso(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as Vega-Lite data: dates as ISO text (read as local dates), None as null."""
    return [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()} for r in rows]


def svg(chart: alt.TopLevelMixin) -> str:
    """The chart drawn as an SVG element, its ids (clip paths) made unique within the page."""
    import vl_convert

    drawn = vl_convert.vegalite_to_svg(_config(chart).to_dict())
    prefix = f"chart{next(_ids)}-"
    for name in set(re.findall(r'id="([^"]+)"', drawn)):
        for old, new in ((f'id="{name}"', f'id="{prefix}{name}"'), (f"url(#{name})", f"url(#{prefix}{name})"),
                         (f'href="#{name}"', f'href="#{prefix}{name}"')):
            drawn = drawn.replace(old, new)
    return drawn


def _partner_colors(names: Sequence[str]) -> alt.Scale:
    ordered = [ALL, *sorted(n for n in set(names) if n != ALL)] if ALL in names else sorted(set(names))
    colors = ["#222222", *PALETTE] if ALL in names else PALETTE
    return alt.Scale(domain=ordered, range=colors[:len(ordered)])


def reach_trend(rows: Sequence[dict[str, Any]]) -> alt.Chart:
    """Distinct merchants reached per month: the programme (전체, black) and each partner, as lines."""
    data = alt.Data(values=_iso(rows))
    partners = [str(r["partner"]) for r in rows]
    title = "월별 지원 소상공인 수 (월마다 중복 없이 센 수; 파트너를 더하면 전체보다 큽니다)"
    return alt.Chart(data, title=title).mark_line(point=True).encode(
        x=alt.X("month:T", timeUnit="yearmonth", title=None, axis=alt.Axis(format="%Y-%m")),
        y=alt.Y("merchants:Q", title="소상공인 수", stack=None),
        color=alt.Color("partner:N", title="파트너", scale=_partner_colors(partners)),
        strokeWidth=alt.condition(alt.datum.partner == ALL, alt.value(3), alt.value(1.5)),
    ).properties(width=WIDTH - 160, height=240)


def reach_by_region(rows: Sequence[dict[str, Any]], year: int) -> alt.FacetChart:
    """Distinct merchants per 시도: one panel for all types (전체), one per support type. Not stacked: a
    merchant given two types of support is in two panels and once in 전체."""
    order = [ALL, *sorted({str(r["support_type"]) for r in rows} - {ALL})]
    sidos = [str(r["sido"]) for r in sorted((r for r in rows if r["support_type"] == ALL),
                                            key=lambda r: (-int(r["merchants"]), str(r["sido"])))]
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("merchants:Q", title="소상공인 수", stack=None),
        y=alt.Y("sido:N", title=None, sort=sidos),
        color=alt.condition(alt.datum.support_type == ALL, alt.value("#444444"), alt.value("#1f77b4")),
    )
    labels = bars.mark_text(align="left", dx=3, fontSize=10).encode(text=alt.Text("merchants:Q", format=","),
                                                                       color=alt.value("#333333"))
    return alt.layer(bars, labels, data=alt.Data(values=_iso(rows))).properties(
        width=(WIDTH - 120) // len(order) - 20, height=max(120, 16 * len(sidos)),
    ).facet(column=alt.Column("support_type:N", title=None, sort=order)).properties(
        title=f"시도별 지원 소상공인 수, {year} (전체 = 중복 없이; 유형별 막대는 더하지 않습니다)")


def _windows(festivals: Sequence[tuple[str, str, dt.date, dt.date]]) -> list[dict[str, Any]]:
    return [{"festival": name, "start": start.isoformat(), "end": (end + dt.timedelta(days=1)).isoformat()}
            for _, name, start, end in festivals]


def sales_trend(rows: Sequence[dict[str, Any]], festivals: Sequence[tuple[str, str, dt.date, dt.date]]
                ) -> alt.LayerChart:
    """Monthly sales per partner (the festival KPI's partners); hollow points are months with a day
    missing; the festival windows shaded."""
    partners = [str(r["partner"]) for r in rows]
    x = alt.X("month:T", timeUnit="yearmonth", title=None, axis=alt.Axis(format="%Y-%m"))
    lines = alt.Chart(alt.Data(values=_iso(rows))).mark_line(point=False).encode(
        x=x, y=alt.Y("sales_krw:Q", title="매출 (원)", stack=None, axis=alt.Axis(labelExpr=KRW_LABEL)),
        color=alt.Color("partner:N", title="파트너", scale=_partner_colors(partners)))
    points = lines.mark_point(size=40, strokeWidth=1.5).encode(
        fill=alt.condition(alt.datum.complete, alt.Color("partner:N", scale=_partner_colors(partners),
                                                         legend=None), alt.value("white")))
    layers: list[Any] = [lines, points]
    if festivals and rows:
        first = min(r["month"] for r in rows)
        last = max(r["month"] for r in rows).replace(day=28) + dt.timedelta(days=4)   # into the next month
        windows = [w for w in _windows(festivals) if w["end"] >= first.isoformat() and w["start"] < last.isoformat()]
        if windows:
            layers.insert(0, alt.Chart(alt.Data(values=windows)).mark_rect(opacity=0.12, color="#e6550d").encode(
                x="start:T", x2="end:T"))
    return alt.layer(*layers, title="월별 매출 (원) — 음영: 동행축제 기간, 속 빈 점: 빠진 날이 있는 달").properties(
        width=WIDTH - 160, height=240)


def festival_days(rows: Sequence[dict[str, Any]], festival: tuple[str, str, dt.date, dt.date],
                  baselines: dict[str, float]) -> alt.LayerChart:
    """Daily sales per partner through a festival window and the 28 days before it; a day without data
    is a gap; dashed: each partner's mean daily sales over those 28 days (the baseline)."""
    code, name = festival[:2]
    partners = [str(r["partner"]) for r in rows]
    colors = _partner_colors(partners)
    window = alt.Chart(alt.Data(values=_windows([festival]))).mark_rect(opacity=0.10, color="#e6550d").encode(
        x="start:T", x2="end:T")
    lines = alt.Chart(alt.Data(values=_iso(rows))).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%m-%d")),
        y=alt.Y("sales_krw:Q", title="일 매출 (원)", stack=None, axis=alt.Axis(labelExpr=KRW_LABEL)),
        color=alt.Color("partner:N", title="파트너", scale=colors))
    base = [{"partner": p, "baseline": v} for p, v in baselines.items()]
    rules = alt.Chart(alt.Data(values=base)).mark_rule(strokeDash=[5, 4], strokeWidth=1.5).encode(
        y="baseline:Q", color=alt.Color("partner:N", scale=colors, legend=None))
    title = f"{code} {name}: 일 매출 — 점선: 축제 전 28일 평균, 끊긴 곳: 자료 없는 날"
    return alt.layer(window, lines, rules, title=title).properties(width=WIDTH - 160, height=220)


def coupon_rates(rows: Sequence[dict[str, Any]], year: int) -> alt.LayerChart:
    """Redemption rate per campaign (the largest by coupons issued)."""
    order = [str(r["campaign"]) for r in rows]
    bars = alt.Chart(alt.Data(values=_iso(rows))).mark_bar(color="#2ca02c").encode(
        x=alt.X("rate:Q", title="사용률 (사용 / 발급)", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("campaign:N", title=None, sort=order))
    text = bars.mark_text(align="left", dx=3, fontSize=10, color="#333333").encode(
        text=alt.Text("rate:Q", format=".1%"))
    return alt.layer(bars, text, title=f"캠페인별 쿠폰 사용률, {year} (발급 수가 많은 순)").properties(
        width=WIDTH - 260, height=max(60, 18 * len(rows)))
