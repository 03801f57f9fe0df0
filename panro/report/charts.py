"""The run report's charts: Vega-Lite specifications, drawn to SVG offline by vl-convert.

`vl-convert` carries Vega and Vega-Lite inside its wheel (no network, no browser, no script in the
page): each chart becomes an inline `<svg>` that prints, mails and opens from `file://` alike. A chart
function takes plain rows (`panro.report.figures`) and returns a Vega-Lite specification (a dict, checked
against Vega-Lite's schema by the tests); `draw()` starts drawing it and is the SVG in a template.

The specifications are written as Vega-Lite's JSON rather than with altair's objects: a nightly run
draws its charts in a fresh process, where altair's import and its first charts cost ~3.4 s before
vl-convert draws anything (measured on the 2023 demo year; docs/decisions/0026-what-analysts-open.md).

Distinct counts are never stacked (every quantitative position says `stack: null`; one panel per
support type), and a value of None is a gap in a line, never a zero.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Spec = dict[str, Any]

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"   # vl-convert draws Vega-Lite 6 (and 5)
WIDTH = 720
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
ALL = "전체"
FESTIVAL_SHADE = "#e6550d"
# Korean amounts: 1.2억, 350만, 12,000
KRW_LABEL = ("abs(datum.value) >= 1e12 ? format(datum.value / 1e12, ',.1f') + '조' : "
             "abs(datum.value) >= 1e8 ? format(datum.value / 1e8, ',.1f') + '억' : "
             "abs(datum.value) >= 1e4 ? format(datum.value / 1e4, ',.0f') + '만' : format(datum.value, ',')")
FONT = "Nanum Gothic, Noto Sans CJK KR, Malgun Gothic, Apple SD Gothic Neo, sans-serif"
CONFIG = {"font": FONT, "view": {"stroke": "#ddd"}, "axis": {"labelFontSize": 11},
          "title": {"fontSize": 14, "anchor": "start"}}
_ids = itertools.count(1)


def _values(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rows as inline Vega-Lite data: dates as ISO text, None as null."""
    return {"values": [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()} for r in rows]}


def _top(spec: Spec) -> Spec:
    return {"$schema": SCHEMA, "config": CONFIG, **spec}


def svg(spec: Spec) -> str:
    """The chart drawn as an SVG element, its ids (clip paths) made unique within the page."""
    import vl_convert

    drawn = vl_convert.vegalite_to_svg(spec)
    prefix = f"chart{next(_ids)}-"
    for name in set(re.findall(r'id="([^"]+)"', drawn)):
        for old, new in ((f'id="{name}"', f'id="{prefix}{name}"'), (f"url(#{name})", f"url(#{prefix}{name})"),
                         (f'href="#{name}"', f'href="#{prefix}{name}"')):
            drawn = drawn.replace(old, new)
    return drawn


class Drawing:
    """A chart being drawn on a thread of its own (vl-convert lets go of the GIL: a page's charts draw
    side by side, and while the report reads the next section's figures); in a template it is the SVG."""

    _pool: ThreadPoolExecutor | None = None

    def __init__(self, spec: Spec) -> None:
        if Drawing._pool is None:
            Drawing._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vl-convert")
        self._future = Drawing._pool.submit(svg, spec)

    def __html__(self) -> str:   # Jinja2 (markupsafe) puts it in the page as it is: SVG that vl-convert drew
        return self._future.result()

    def __str__(self) -> str:
        return self.__html__()


def draw(spec: Spec) -> Drawing:
    return Drawing(spec)


def _partner_colors(names: Sequence[str]) -> Spec:
    if ALL in names:
        ordered, colors = [ALL, *sorted(set(names) - {ALL})], ["#222222", *PALETTE]
    else:
        ordered, colors = sorted(set(names)), PALETTE
    return {"domain": ordered, "range": [colors[i % len(colors)] for i in range(len(ordered))]}


def _month_axis() -> Spec:
    return {"field": "month", "type": "temporal", "timeUnit": "yearmonth", "title": None,
            "axis": {"format": "%Y-%m"}}


def reach_trend(rows: Sequence[dict[str, Any]]) -> Spec:
    """Distinct merchants reached per month: the programme (전체, black) and each partner, as lines."""
    partners = [str(r["partner"]) for r in rows]
    return _top({
        "title": "월별 지원 소상공인 수 (월마다 중복 없이 센 수; 파트너를 더하면 전체보다 큽니다)",
        "width": WIDTH - 160, "height": 240, "data": _values(rows),
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": _month_axis(),
            "y": {"field": "merchants", "type": "quantitative", "title": "소상공인 수", "stack": None},
            "color": {"field": "partner", "type": "nominal", "title": "파트너", "scale": _partner_colors(partners)},
            "strokeWidth": {"condition": {"test": f"datum.partner === '{ALL}'", "value": 3}, "value": 1.5},
        },
    })


def reach_by_region(rows: Sequence[dict[str, Any]], year: int) -> Spec:
    """Distinct merchants per 시도: one panel for all types (전체), one per support type. Not stacked: a
    merchant given two types of support is in two panels and once in 전체."""
    order = [ALL, *sorted({str(r["support_type"]) for r in rows} - {ALL})]
    sidos = [str(r["sido"]) for r in sorted((r for r in rows if r["support_type"] == ALL),
                                            key=lambda r: (-int(r["merchants"]), str(r["sido"])))]
    x = {"field": "merchants", "type": "quantitative", "title": "소상공인 수", "stack": None}
    y = {"field": "sido", "type": "nominal", "title": None, "sort": sidos}
    return _top({
        "title": f"시도별 지원 소상공인 수, {year} (전체 = 중복 없이; 유형별 막대는 더하지 않습니다)",
        "data": _values(rows),
        "facet": {"column": {"field": "support_type", "type": "nominal", "title": None, "sort": order}},
        "spec": {
            "width": (WIDTH - 120) // len(order) - 20, "height": max(120, 16 * len(sidos)),
            "layer": [
                {"mark": "bar", "encoding": {"x": x, "y": y, "color": {
                    "condition": {"test": f"datum.support_type === '{ALL}'", "value": "#444444"},
                    "value": PALETTE[0]}}},
                {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 10, "color": "#333333"},
                 "encoding": {"x": x, "y": y, "text": {"field": "merchants", "type": "quantitative",
                                                       "format": ","}}},
            ],
        },
    })


def _windows(festivals: Sequence[tuple[str, str, dt.date, dt.date]]) -> list[dict[str, Any]]:
    return [{"festival": name, "start": start.isoformat(), "end": (end + dt.timedelta(days=1)).isoformat()}
            for _, name, start, end in festivals]


def _shade(windows: list[dict[str, Any]], opacity: float) -> Spec:
    return {"data": {"values": windows}, "mark": {"type": "rect", "opacity": opacity, "color": FESTIVAL_SHADE},
            "encoding": {"x": {"field": "start", "type": "temporal"}, "x2": {"field": "end"}}}


def sales_trend(rows: Sequence[dict[str, Any]], festivals: Sequence[tuple[str, str, dt.date, dt.date]]) -> Spec:
    """Monthly sales per partner (the festival KPI's partners); hollow points are months with a day
    missing; the festival windows shaded."""
    colors = _partner_colors([str(r["partner"]) for r in rows])
    y = {"field": "sales_krw", "type": "quantitative", "title": "매출 (원)", "stack": None,
         "axis": {"labelExpr": KRW_LABEL}}
    color = {"field": "partner", "type": "nominal", "title": "파트너", "scale": colors}
    layers: list[Spec] = [
        {"data": _values(rows), "mark": "line", "encoding": {"x": _month_axis(), "y": y, "color": color}},
        *({"data": _values(rows), "transform": [{"filter": f"{'' if complete else '!'}datum.complete"}],
           "mark": {"type": "point", "size": 40, "strokeWidth": 1.5, "filled": complete, "opacity": 1},
           "encoding": {"x": _month_axis(), "y": y, "color": color}} for complete in (True, False)),
    ]
    if festivals and rows:
        first = min(r["month"] for r in rows)
        last = max(r["month"] for r in rows).replace(day=28) + dt.timedelta(days=4)   # into the next month
        windows = [w for w in _windows(festivals) if w["end"] >= first.isoformat() and w["start"] < last.isoformat()]
        if windows:
            layers.insert(0, _shade(windows, 0.12))
    return _top({"title": "월별 매출 (원) — 음영: 동행축제 기간, 속 빈 점: 빠진 날이 있는 달",
                 "width": WIDTH - 160, "height": 240, "layer": layers})


def festival_days(rows: Sequence[dict[str, Any]], festival: tuple[str, str, dt.date, dt.date],
                  baselines: dict[str, float]) -> Spec:
    """Daily sales per partner through a festival window and the 28 days before it; a day without data
    is a gap; dashed: each partner's mean daily sales over those 28 days (the baseline)."""
    code, name = festival[:2]
    colors = _partner_colors([str(r["partner"]) for r in rows])
    color = {"field": "partner", "type": "nominal", "title": "파트너", "scale": colors}
    layers: list[Spec] = [
        _shade(_windows([festival]), 0.10),
        {"data": _values(rows), "mark": {"type": "line", "point": {"size": 12}}, "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None, "axis": {"format": "%m-%d"}},
            "y": {"field": "sales_krw", "type": "quantitative", "title": "일 매출 (원)", "stack": None,
                  "axis": {"labelExpr": KRW_LABEL}},
            "color": color}},
    ]
    if baselines:
        layers.append({"data": _values([{"partner": p, "baseline": v} for p, v in baselines.items()]),
                       "mark": {"type": "rule", "strokeDash": [5, 4], "strokeWidth": 1.5},
                       "encoding": {"y": {"field": "baseline", "type": "quantitative"}, "color": color}})
    return _top({"title": f"{code} {name}: 일 매출 — 점선: 축제 전 28일 평균, 끊긴 곳: 자료 없는 날",
                 "width": WIDTH - 160, "height": 220, "layer": layers})


def coupon_rates(rows: Sequence[dict[str, Any]], year: int) -> Spec:
    """Redemption rate per campaign (the largest by coupons issued)."""
    x = {"field": "rate", "type": "quantitative", "title": "사용률 (사용 / 발급)", "axis": {"format": "%"},
         "scale": {"domain": [0, 1]}}
    y = {"field": "campaign", "type": "nominal", "title": None, "sort": [str(r["campaign"]) for r in rows]}
    return _top({
        "title": f"캠페인별 쿠폰 사용률, {year} (발급 수가 많은 순)",
        "width": WIDTH - 260, "height": max(60, 18 * len(rows)), "data": _values(rows),
        "layer": [
            {"mark": {"type": "bar", "color": PALETTE[2]}, "encoding": {"x": x, "y": y}},
            {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 10, "color": "#333333"},
             "encoding": {"x": x, "y": y, "text": {"field": "rate", "type": "quantitative", "format": ".1%"}}},
        ],
    })
