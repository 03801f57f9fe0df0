"""Small self-contained SVG charts for the HTML report (no plotting library, no scripts, prints well)."""

from __future__ import annotations

import html
from collections.abc import Sequence

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e12:
        return f"{v / 1e12:.1f}조"
    if a >= 1e8:
        return f"{v / 1e8:.1f}억"
    if a >= 1e4:
        return f"{v / 1e4:.0f}만"
    return f"{v:,.0f}" if a >= 10 else f"{v:.2f}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** (len(str(int(v))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * mag:
            return step * mag
    return 10 * mag


def line_chart(title: str, x_labels: Sequence[str], series: dict[str, Sequence[float]],
               dashed: dict[str, float] | None = None, width: int = 760, height: int = 260) -> str:
    """Lines over shared x labels; `dashed` draws horizontal reference lines (e.g. baselines)."""
    left, right, top, bottom = 64, 150, 28, 36
    pw, ph = width - left - right, height - top - bottom
    values = [v for s in series.values() for v in s] + list((dashed or {}).values())
    ymax = _nice_max(max(values, default=0))
    n = max(len(x_labels), 2)

    def x(i: int) -> float:
        return left + pw * i / (n - 1)

    def y(v: float) -> float:
        return top + ph * (1 - v / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for k in range(5):
        v = ymax * k / 4
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    step = max(1, len(x_labels) // 8)
    for i, lab in enumerate(x_labels):
        if i % step == 0:
            out.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle">{html.escape(lab)}</text>')
    for idx, (name, vals) in enumerate(series.items()):
        color = PALETTE[idx % len(PALETTE)]
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        if name in (dashed or {}):
            by = y(dashed[name])  # type: ignore[index]
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{by:.1f}" y2="{by:.1f}" stroke="{color}" '
                       'stroke-dasharray="5,4" stroke-width="1.5"/>')
        ly = top + 14 * idx + 6
        out.append(f'<rect x="{left + pw + 12}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{left + pw + 26}" y="{ly + 1}">{html.escape(name)}</text>')
    if dashed:
        ly = top + 14 * len(series) + 10
        out.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 22}" y1="{ly - 3}" y2="{ly - 3}" stroke="#333" '
                   f'stroke-dasharray="3,2"/><text x="{left + pw + 26}" y="{ly + 1}">28-day baseline</text>')
    out.append("</svg>")
    return "".join(out)


def hbar_chart(title: str, rows: Sequence[tuple[str, dict[str, float]]], stack_order: Sequence[str] | None = None,
               value_fmt: str = "count", width: int = 760, bar_h: int = 16) -> str:
    """Horizontal (stacked) bars: rows of (label, {segment: value})."""
    left, right, top = 150, 150, 28
    segments = list(stack_order or dict.fromkeys(s for _, parts in rows for s in parts))
    totals = [sum(parts.values()) for _, parts in rows]
    vmax = _nice_max(max(totals, default=0))
    pw = width - left - right
    height = top + len(rows) * (bar_h + 6) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for r, (label, parts) in enumerate(rows):
        yy = top + r * (bar_h + 6)
        out.append(f'<text x="{left - 6}" y="{yy + bar_h - 4}" text-anchor="end">{html.escape(label)}</text>')
        xx = float(left)
        for s_idx, seg in enumerate(segments):
            v = parts.get(seg, 0.0)
            w = pw * v / vmax
            if w > 0:
                out.append(f'<rect x="{xx:.1f}" y="{yy}" width="{w:.1f}" height="{bar_h}" '
                           f'fill="{PALETTE[s_idx % len(PALETTE)]}"><title>{html.escape(seg)}: {v:,.4g}</title></rect>')
            xx += w
        total = totals[r]
        shown = f"{total:.1%}" if value_fmt == "percent" else _fmt(total)
        out.append(f'<text x="{xx + 4:.1f}" y="{yy + bar_h - 4}">{shown}</text>')
    if len(segments) > 1:
        for s_idx, seg in enumerate(segments):
            ly = top + 14 * s_idx + 6
            out.append(f'<rect x="{left + pw + 40}" y="{ly - 8}" width="10" height="10" '
                       f'fill="{PALETTE[s_idx % len(PALETTE)]}"/><text x="{left + pw + 54}" y="{ly + 1}">'
                       f'{html.escape(seg)}</text>')
    out.append("</svg>")
    return "".join(out)
