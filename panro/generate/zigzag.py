"""zigzag: partner support (Excel), daily store sales (Parquet) and coupon change records.

Calibration: a store's sales grow after its first zigzag support d0 (rising over ten days to 1 + k·u
times, u per store). before/after are linear in k, so k is solved exactly for the article's mean growth
multiple (3.3) over the stores, on the same windows as metrics.md; a common scale then sets the
festival-window sales, which leaves every store's ratio unchanged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from panro.generate import draw
from panro.generate import sink as S
from panro.generate.calendar import WEEKLY_FASHION
from panro.generate.sink import Sink
from panro.generate.world import GROWTH, World, pick_styles

COUPONS = 80_000
ITEMS = np.array(["광고포인트", "수수료할인", "AI분석리포트", "기획전", "쿠폰지원"])
FIRST_ITEM_W = np.array([0.4, 0.25, 0.15, 0.1, 0.1])
LATER_ITEM_W = np.array([0.35, 0.2, 0.15, 0.1, 0.2])
# amount grid per item: (low, high, step) in KRW
AMOUNTS = ((200_000, 2_000_000, 100_000), (100_000, 1_000_000, 50_000), (200_000, 300_000, 100_000),
           (300_000, 3_000_000, 100_000), (100_000, 800_000, 50_000))
RAMP_DAYS = 10
WINDOW = 28
SALES_SCHEMA = pa.schema([("store_id", pa.string()), ("biz_reg_no", pa.string()), ("sales_date", pa.date32()),
                          ("orders", pa.int32()), ("gmv_krw", pa.int64()), ("coupon_discount_krw", pa.int64())])


def next_business(business: np.ndarray) -> np.ndarray:
    """For each day (and one past the end), the first business day on or after it; len(business) when none."""
    n = len(business)
    out = np.full(n + 1, n)
    nxt = n
    for d in range(n - 1, -1, -1):
        if business[d]:
            nxt = d
        out[d] = nxt
    return out


def window_sums(values: np.ndarray, start: np.ndarray, length: int) -> np.ndarray:
    """Per row i: values[i, start[i] : start[i] + length].sum()."""
    idx = start[:, None] + np.arange(length)[None, :]
    return values[np.arange(len(start))[:, None], idx].sum(axis=1)


def emit(w: World, sink: Sink, festival_target: float | None) -> dict[str, float]:
    cal, rng = w.cal, w.rng("zigzag")
    n = cal.n
    mem = w.members["zigzag"]
    k = len(mem)
    store_id = draw.codes(rng, k, 7).astype(str)
    # first support: both 28-day windows inside the year
    ok = (np.arange(n) >= WINDOW) & (np.arange(n) <= n - WINDOW)
    d0 = draw.days(rng, cal.onboarding_weights(early=0.6) * cal.business * ok, k)
    private = _support(w, sink, mem, store_id, d0, rng)
    gmv, stats = _sales_matrix(w, d0, festival_target, rng)
    discount = _coupons(w, sink, store_id, gmv, rng)
    _sales(w, sink, mem, store_id, gmv, discount, rng)
    return {"zigzag_private": private, **stats}


def _support(w: World, sink: Sink, mem: np.ndarray, store_id: np.ndarray, d0: np.ndarray,
             rng: np.random.Generator) -> float:
    cal = w.cal
    n, k = cal.n, len(mem)
    nb = next_business(cal.business)
    extra = rng.poisson(3.0, k)
    who = np.concatenate([np.arange(k), np.repeat(np.arange(k), extra)])
    later = nb[np.minimum(d0[who[k:]] + rng.integers(5, 150, len(who) - k), n)]
    day = np.concatenate([d0, later])
    fest = cal.in_festival[np.minimum(day, n - 1)]
    item = np.concatenate([
        rng.choice(5, k, p=FIRST_ITEM_W),
        np.where(fest[k:] & (rng.random(len(who) - k) < 0.5), 3, rng.choice(5, len(who) - k, p=LATER_ITEM_W)),
    ])
    keep = day < n
    who, day, item = who[keep], day[keep], item[keep]
    _, first = np.unique(np.stack([who, item, day]), axis=1, return_index=True)
    first = np.sort(first)
    who, day, item = who[first], day[first], item[first]
    amount = np.zeros(len(who), dtype=np.int64)
    for i, (lo, hi, step) in enumerate(AMOUNTS):
        sel = item == i
        amount[sel] = rng.integers(lo // step, hi // step + 1, int(sel.sum())) * step
    lag = rng.choice([0, 0, 0, 0, 0, 0, 1, 1, 2, 3], len(who))
    file_day = np.where(lag == 0, day, nb[np.minimum(day + lag, n)])
    file_day = np.where(file_day >= n, day, file_day)
    files_on = S.days_with_rows(file_day, n)         # no support that day: no workbook
    style = pick_styles(rng, len(who), (0.45, 0.35, 0.1, 0.1))
    brn = w.brn_mixed(mem[who], rng, 0.5)
    order = draw.lexsort(file_day, day, store_id[who].astype(np.int64), item)
    rows = []
    names = w.region_names(mem[who], file_day, style).to_numpy(zero_copy_only=False)
    for i in order.tolist():
        rows.append((store_id[who[i]], brn[i], w.name[mem[who[i]]], ITEMS[item[i]], int(amount[i]),
                     int(cal.excel_serial[day[i]]), names[i]))
    sink.xlsx("zigzag/support", file_day[order], "ssssnds", rows, files_on)
    return float(amount.sum())


def _sales_matrix(w: World, d0: np.ndarray, festival_target: float | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    cal = w.cal
    n, k = cal.n, len(d0)
    p_open = rng.uniform(0.55, 0.97, k)
    is_open = rng.random((k, n)) < p_open[:, None]
    is_open[np.arange(k), d0 - 1] = True
    level = rng.lognormal(0, 0.8, k)
    doy = np.arange(n)
    season = 1 + 0.1 * np.cos(2 * np.pi * (doy - 90) / 182.5)
    uplift = rng.uniform(1.35, 1.65, k)
    base = (level[:, None] * (WEEKLY_FASHION[cal.weekday] * season)[None, :]
            * np.where(cal.in_festival[None, :], uplift[:, None], 1.0)
            * rng.lognormal(0, 0.35, (k, n)) * is_open)
    rp = draw.ramp(doy[None, :] - d0[:, None], RAMP_DAYS)
    u = rng.lognormal(0, 0.45, k)
    before = window_sums(base, d0 - WINDOW, WINDOW)
    after0 = window_sums(base, d0, WINDOW)
    lift = window_sums(base * rp, d0, WINDOW)
    slope = np.mean(u * lift / before)
    growth_k = (GROWTH - np.mean(after0 / before)) / slope
    g = base * (1 + growth_k * u[:, None] * rp)
    fest_sum = g[:, cal.in_festival].sum()
    calibrate = festival_target is not None and fest_sum > 0
    scale = festival_target / fest_sum if calibrate else 900_000 / g[is_open].mean()
    gmv = np.where(is_open, np.maximum(100, draw.round_to(g * scale, 100)), 0)
    b = window_sums(gmv, d0 - WINDOW, WINDOW)
    a = window_sums(gmv, d0, WINDOW)
    return gmv, {"zigzag_growth": float(np.mean(a[b > 0] / b[b > 0])),
                 "zigzag_festival": float(gmv[:, cal.in_festival].sum()), "zigzag_stores": float(k)}


def _coupons(w: World, sink: Sink, store_id: np.ndarray, gmv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cal = w.cal
    k, n = gmv.shape
    rel = np.sqrt(gmv.sum(axis=1) / max(gmv.sum(), 1) * k)
    rate = (gmv > 0) * (0.2 + 0.8 * cal.in_festival[None, :]) * rel[:, None]
    rate *= w.q(COUPONS) / rate.sum()
    store, day, sec = draw.events(rng, rate, draw.HOURS_SHOPPING)
    m = len(store)
    fest_idx = cal.festival[day]
    use_fest = (fest_idx >= 0) & (rng.random(m) < 0.6)
    fest_codes = np.array([f"ZZ-{f.code}" for f in cal.festivals] + [""])
    month_codes = np.array([f"ZZC-{cal.year % 100:02d}{mo:02d}" for mo in range(1, 13)])
    month = np.array([d.month - 1 for d in cal.dates])
    campaign = np.where(use_fest, fest_codes[fest_idx], month_codes[month[day]])
    discount = rng.choice([2_000, 3_000, 5_000, 10_000], m, p=[0.25, 0.35, 0.3, 0.1])
    use_day = day + 1 + np.minimum(rng.geometric(0.3, m) - 1, 13)
    used = (rng.random(m) < 0.55) & (use_day < n)
    used[used] &= gmv[store[used], use_day[used]] >= 5 * discount[used]
    use_sec = draw.seconds(rng, m, draw.HOURS_SHOPPING)
    exp_day = day + 14
    expired = ~used & (exp_day < n)
    amount = draw.round_to(discount * rng.uniform(3, 10, m), 100)
    disc = np.zeros_like(gmv)
    np.add.at(disc, (store[used], use_day[used]), discount[used])

    code = np.char.add("ZC", draw.codes(rng, m, 10).astype(str))
    u_i, e_i = np.flatnonzero(used), np.flatnonzero(expired)
    rows = np.concatenate([np.arange(m), u_i, e_i])
    stage = np.concatenate([np.zeros(m, int), np.ones(len(u_i), int), np.full(len(e_i), 2)])
    file_day = np.concatenate([day, use_day[u_i], exp_day[e_i]])
    at = np.concatenate([sec, use_sec[u_i], np.full(len(e_i), 86_399)])
    o = draw.lexsort(file_day, at, rows)
    rows, stage, file_day = rows[o], stage[o], file_day[o]
    keep = sink.mask(file_day)
    rows, stage, file_day = rows[keep], stage[keep], file_day[keep]
    ud = np.minimum(use_day[rows], n - 1)
    ed = np.minimum(exp_day[rows], n - 1)
    cols = {
        "coupon_code": S.s(code[rows]),
        "campaign_code": S.s(campaign[rows]),
        "store_id": S.take(store_id, store[rows]),
        "issued_at": draw.kst_iso(cal, day[rows], sec[rows]),
        "used_at": S.with_nulls(draw.kst_iso(cal, ud, use_sec[rows]), stage != 1),
        "expired_at": S.with_nulls(draw.kst_iso(cal, ed, np.full(len(rows), 86_399)), stage != 2),
        "discount_krw": S.ints(discount[rows]),
        "order_amount_krw": S.with_nulls(S.ints(amount[rows]), stage != 1),
    }
    sink.csv("zigzag/coupons", file_day, cols)
    return disc


def _sales(w: World, sink: Sink, mem: np.ndarray, store_id: np.ndarray, gmv: np.ndarray, discount: np.ndarray,
           rng: np.random.Generator) -> None:
    cal = w.cal
    aov = rng.uniform(25_000, 55_000, len(mem))
    day, store = np.nonzero(gmv.T)
    keep = sink.mask(day)
    o = np.argsort(store_id.astype(np.int64), kind="stable")
    rank = np.empty_like(o)
    rank[o] = np.arange(len(o))
    day, store = day[keep], store[keep]
    order = draw.lexsort(day, rank[store])
    day, store = day[order], store[order]
    g = gmv[store, day]
    table = pa.table([
        S.take(store_id, store),
        w.text("brn", mem[store]),
        pa.array(cal.epoch_day[day].astype(np.int32), type=pa.date32()),
        pa.array(np.maximum(1, np.rint(g / aov[store])).astype(np.int32), type=pa.int32()),
        pa.array(g.astype(np.int64), type=pa.int64()),
        pa.array(discount[store, day].astype(np.int64), type=pa.int64()),
    ], schema=SALES_SCHEMA)
    sink.parquet("zigzag/sales", day, table)
