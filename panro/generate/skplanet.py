"""skplanet/okcashback_promo: OK캐쉬백 location-based promotion results (pipe-delimited).

Calibration: cashback points per store visit are scaled so that the year's partner-funded support of all
partners (요기요 private + extras, 지그재그 지원금액, OK캐쉬백 points) lands on the target, over 7 billion KRW.
"""

from __future__ import annotations

import numpy as np

from panro.generate import draw
from panro.generate import sink as S
from panro.generate.calendar import WEEKLY_DELIVERY
from panro.generate.sink import Sink
from panro.generate.world import World


def _campaigns(w: World, rng: np.random.Generator) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Local monthly campaigns and two campaigns per festival: ids, festival codes, first/last day, weight."""
    cal = w.cal
    ids, fest, first, last, weight = [], [], [], [], []
    for month in range(1, 13):
        month_days = [i for i, d in enumerate(cal.dates) if d.month == month]
        for j in range(2):
            a = month_days[0] + int(rng.integers(0, 10))
            ids.append(f"OKCB-{cal.year % 100:02d}{month:02d}-L{j + 1}")
            fest.append("")
            first.append(a)
            last.append(min(a + int(rng.integers(10, 26)), cal.n - 1))
            weight.append(0.4 if month < 4 else 1.0)
    for f in cal.festivals:
        for j in range(2):
            ids.append(f"OKCB-{f.code}-{'AB'[j]}")
            fest.append(f.code)
            first.append(f.first)
            last.append(f.last)
            weight.append(2.5)
    return ids, fest, np.array(first), np.array(last), np.array(weight)


def emit(w: World, sink: Sink, private_target: float | None) -> dict[str, float]:
    cal, rng = w.cal, w.rng("skplanet")
    mem = w.members["skplanet"]
    k = len(mem)
    ids, fest, c_first, c_last, c_w = _campaigns(w, rng)
    # participations: 1-3 distinct campaigns per merchant
    n_part = 1 + rng.binomial(2, 0.3, k)
    pick = np.argsort(-rng.random((k, len(ids))) ** (1 / c_w[None, :]), axis=1)    # weighted, no repeats
    who = np.repeat(np.arange(k), n_part)
    rank = np.arange(len(who)) - np.repeat(np.cumsum(n_part) - n_part, n_part)
    camp = pick[who, rank]
    span = c_last[camp] - c_first[camp] + 1
    length = np.minimum(rng.integers(4, 22, len(who)), span)
    start = c_first[camp] + (rng.random(len(who)) * (span - length + 1)).astype(np.int64)
    # rows: one per day of the participation that had results (the first day always)
    p_i = np.repeat(np.arange(len(who)), length)
    offset = np.arange(len(p_i)) - np.repeat(np.cumsum(length) - length, length)
    keep = (offset == 0) | (rng.random(len(p_i)) < 0.85)
    p_i, offset = p_i[keep], offset[keep]
    day = start[p_i] + offset
    merchant = who[p_i]
    level = rng.lognormal(0, 0.6, k)
    rate = rng.uniform(1_000, 3_000, len(ids)) * np.where(np.array(fest) != "", 1.3, 1.0)
    impressions = rng.poisson(1_800 * level[merchant] * WEEKLY_DELIVERY[cal.weekday[day]]
                              * np.where(cal.in_festival[day], 1.2, 1.0))
    clicks = rng.binomial(impressions, rng.uniform(0.02, 0.06, len(day)))
    visits = rng.binomial(clicks, 0.4)
    raw = visits * rate[camp[p_i]]
    scale = 1.0
    if private_target is not None and raw.sum() > 0:
        scale = max(private_target, 0.0) / raw.sum()
    points = draw.round_to(raw * scale, 10)

    files_on = S.days_with_rows(day, cal.n)        # no campaign running: no file
    order = draw.lexsort(day, camp[p_i], w.brn[mem[merchant]].astype(np.int64))
    order = order[sink.mask(day[order])]
    d, m, c = day[order], merchant[order], camp[p_i][order]
    cols = {
        "campaign_id": S.take(ids, c),
        "biz_reg_no": w.text("brn", mem[m]),
        "promo_date": S.take(cal.ymd, d),
        "impressions": S.ints(impressions[order]),
        "clicks": S.ints(clicks[order]),
        "store_visits": S.ints(visits[order]),
        "cashback_points": S.ints(points[order]),
        "festival_code": S.take(fest, c),
    }
    sink.csv("skplanet/okcashback_promo", d, cols, files_on)
    return {"skplanet_private": float(points.sum()), "skplanet_rows": float(len(day))}
