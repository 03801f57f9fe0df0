"""yogiyo: O2O support (one JSON document a business day), daily merchant sales and coupon events (UTC ms)."""

from __future__ import annotations

import json

import numpy as np

from panro.generate import draw, vocab
from panro.generate import sink as S
from panro.generate.calendar import WEEKLY_DELIVERY
from panro.generate.sink import Sink
from panro.generate.world import World, pick_styles

COUPONS = 95_000
PACKAGE_TIERS = (np.array([200_000, 300_000, 500_000]), np.array([0.3, 0.5, 0.2]))
EXTRA_TYPES = np.array(["menu_photo", "ad_discount", "coupon_pack"])
EXTRA_AMOUNTS = ((50_000, 150_000), (30_000, 200_000), (50_000, 300_000))   # step 10,000
TICKET = {c: t for c, _, t in vocab.DELIVERY_CATEGORIES}
KST_OFFSET_S = 9 * 3600


def emit(w: World, sink: Sink, festival_target: float | None) -> dict[str, float]:
    cal, rng = w.cal, w.rng("yogiyo")
    pkg, ext = w.members["yogiyo_package"], w.members["yogiyo_extra"]
    mem = np.concatenate([pkg, ext])
    k, n = len(mem), cal.n
    is_pkg = np.arange(k) < len(pkg)
    month = np.array([d.month for d in cal.dates])
    season = cal.business * np.where(month < 3, 0.0, 1.0) * np.where(month == 12, 0.0, 1.0) \
        * np.where(month < 5, 0.6, 1.0)
    enrolled = draw.days(rng, season, k)
    # extras: 1-3 distinct kinds, applied within two weeks of the record
    n_extra = np.where(is_pkg, 0, 1 + rng.binomial(2, 0.35, k))
    kinds = np.argsort(rng.random((k, 3)), axis=1)
    extras: list[list[tuple[int, int, int]]] = []
    first_support = enrolled.copy()
    coupon_pack_from = np.full(k, n)
    for i in range(k):
        items = []
        for j in range(n_extra[i]):
            kind = int(kinds[i, j])
            lo, hi = EXTRA_AMOUNTS[kind]
            amount = int(rng.integers(lo // 10_000, hi // 10_000 + 1)) * 10_000
            applied = min(int(enrolled[i] + rng.integers(0, 15)), n - 1)
            items.append((kind, amount, applied))
            if kind == 2:
                coupon_pack_from[i] = applied
        items.sort(key=lambda x: (x[2], x[0]))
        extras.append(items)
        if items:
            first_support[i] = min(a for _, _, a in items)
    tier = rng.choice(PACKAGE_TIERS[0], k, p=PACKAGE_TIERS[1])
    private = float(tier[is_pkg].sum() + sum(a for items in extras for _, a, _ in items))
    _support(w, sink, mem, is_pkg, enrolled, tier, extras, rng)

    gross, is_open = _sales_matrix(w, mem, is_pkg, first_support, festival_target, rng)
    discount = _coupons(w, sink, mem, is_pkg, enrolled, coupon_pack_from, gross, is_open, rng)
    _orders(w, sink, mem, gross, discount, rng)
    return {"yogiyo_private": private, "yogiyo_festival": float(gross[:, cal.in_festival].sum()),
            "packages": float(is_pkg.sum()), "extras": float((~is_pkg).sum())}


def _support(w: World, sink: Sink, mem: np.ndarray, is_pkg: np.ndarray, enrolled: np.ndarray, tier: np.ndarray,
             extras: list[list[tuple[int, int, int]]], rng: np.random.Generator) -> None:
    cal = w.cal
    style = pick_styles(rng, len(mem), (0.3, 0.6, 0.1, 0.0))
    names = w.region_names(mem, enrolled, style).to_pylist()
    by_day: dict[int, list[int]] = {}
    for i in np.argsort(enrolled, kind="stable").tolist():
        by_day.setdefault(int(enrolled[i]), []).append(i)
    for d in range(sink.lo, sink.hi + 1):
        if not cal.business[d]:
            continue
        records = []
        for i in by_day.get(d, []):
            m = mem[i]
            records.append({
                "merchant": {"brn": str(w.brn[m]), "name": str(w.name[m]), "sido": names[i],
                             "sigungu": str(w.sigungu_name[m]), "category": str(w.category[m])},
                "enrolled_at": cal.iso[d],
                "package": "1+1" if is_pkg[i] else None,
                "gov_support_krw": int(tier[i]) if is_pkg[i] else None,
                "private_support_krw": int(tier[i]) if is_pkg[i] else None,
                "extras": [{"type": str(EXTRA_TYPES[kind]), "amount_krw": amount, "applied_at": cal.iso[a]}
                           for kind, amount, a in extras[i]],
            })
        doc = {"delivery_date": cal.iso[d], "records": records}
        data = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        sink.document("yogiyo/support", d, data, len(records))


def _sales_matrix(w: World, mem: np.ndarray, is_pkg: np.ndarray, first_support: np.ndarray,
                  festival_target: float | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cal = w.cal
    k, n = len(mem), cal.n
    day_off = np.where(rng.random(k) < 0.55, rng.choice(7, k, p=[0.4, 0.2, 0.08, 0.04, 0.0, 0.03, 0.25]), -1)
    is_open = (cal.weekday[None, :] != day_off[:, None]) & (rng.random((k, n)) > 0.025)
    is_open &= ~(cal.holiday[None, :] & (rng.random((k, n)) < 0.5))
    level = rng.lognormal(0, 0.55, k)
    doy = np.arange(n)
    season = 1 + 0.06 * np.cos(2 * np.pi * (doy - 15) / 365)
    uplift = rng.uniform(1.25, 1.55, k)
    lift = np.where(is_pkg, rng.uniform(0.15, 0.7, k), rng.uniform(0.05, 0.35, k))
    g = (level[:, None] * (WEEKLY_DELIVERY[cal.weekday] * season)[None, :]
         * np.where(cal.in_festival[None, :], uplift[:, None], 1.0)
         * (1 + lift[:, None] * draw.ramp(doy[None, :] - first_support[:, None], 14))
         * rng.lognormal(0, 0.22, (k, n)) * is_open)
    fest_sum = g[:, cal.in_festival].sum()
    calibrate = festival_target is not None and fest_sum > 0
    scale = festival_target / fest_sum if calibrate else 550_000 / g[is_open].mean()
    gross = np.where(is_open, np.maximum(5_000, draw.round_to(g * scale, 100)), 0)
    return gross, is_open


def _coupons(w: World, sink: Sink, mem: np.ndarray, is_pkg: np.ndarray, enrolled: np.ndarray,
             coupon_pack_from: np.ndarray, gross: np.ndarray, is_open: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    cal = w.cal
    k, n = gross.shape
    doy = np.arange(n)[None, :]
    rel = gross.sum(axis=1) / max(gross.sum(), 1) * k
    parts = np.stack([
        cal.in_festival[None, :] * 0.9 * rel[:, None] * np.ones((k, 1)),
        (is_pkg[:, None] & (doy >= enrolled[:, None]) & (doy < enrolled[:, None] + 60)) * 0.35,
        ((doy >= coupon_pack_from[:, None]) & (doy < coupon_pack_from[:, None] + 45)) * 0.5,
    ]) * is_open[None, :, :]
    rate = parts.sum(axis=0)
    factor = w.q(COUPONS) / max(rate.sum(), 1e-9)
    counts = rng.poisson(rate * factor)
    m_i, d_i = np.nonzero(counts)
    reps = counts[m_i, d_i]
    p = parts[:, m_i, d_i] / rate[m_i, d_i]
    m_i, d_i = np.repeat(m_i, reps), np.repeat(d_i, reps)
    p = np.repeat(p, reps, axis=1)
    c = len(m_i)
    kind = (rng.random(c)[None, :] > np.cumsum(p, axis=0)).sum(axis=0).clip(0, 2)
    fest_names = {i: (f"YGY-{f.code}", f"{f.name} 요기요 할인쿠폰") for i, f in enumerate(cal.festivals)}
    camp_ids = [f"YGY-O2O-{cal.year}", f"YGY-CPK-{cal.year}"] + [v[0] for v in fest_names.values()]
    camp_names = ["O2O 상생 1+1 쿠폰", "소상공인 쿠폰팩"] + [v[1] for v in fest_names.values()]
    campaign = np.where(kind == 0, 2 + np.maximum(cal.festival[d_i], 0), kind - 1)
    face = np.select([kind == 0, kind == 1],
                     [rng.choice([2_000, 3_000, 5_000], c, p=[0.2, 0.5, 0.3]), rng.choice([3_000, 4_000], c)],
                     rng.choice([1_000, 2_000, 3_000], c))

    issue = d_i * 86_400 + draw.seconds(rng, c, draw.HOURS_DELIVERY)
    redeem = issue + np.minimum(rng.exponential(26 * 3600, c), 7 * 86_400 - 1).astype(np.int64)
    r_day = redeem // 86_400
    redeemed = (rng.random(c) < 0.62) & (r_day < n)
    redeemed[redeemed] &= is_open[m_i[redeemed], r_day[redeemed]]
    expire = (d_i + 7) * 86_400 + 86_399
    expired = ~redeemed & (d_i + 7 < n)
    cancel = redeem + rng.integers(300, 36 * 3600, c)
    cancelled = redeemed & (rng.random(c) < 0.04) & (cancel // 86_400 < n)
    amount = np.maximum(face * 3, draw.round_to(rng.lognormal(np.log(24_000), 0.35, c), 100))
    discount = np.zeros_like(gross)
    np.add.at(discount, (m_i[redeemed], r_day[redeemed]), face[redeemed])

    coupon_no = np.char.add("YC", draw.codes(rng, c, 10).astype(str))
    r_i, x_i, c_i = np.flatnonzero(redeemed), np.flatnonzero(expired), np.flatnonzero(cancelled)
    rows = np.concatenate([np.arange(c), r_i, x_i, c_i])
    etype = np.concatenate([np.zeros(c, int), np.ones(len(r_i), int), np.full(len(x_i), 2), np.full(len(c_i), 3)])
    at = np.concatenate([issue, redeem[r_i], expire[x_i], cancel[c_i]])
    ms = rng.integers(0, 1000, len(rows))
    o = draw.lexsort(at, ms, rows)
    rows, etype, at, ms = rows[o], etype[o], at[o], ms[o]
    file_day = at // 86_400
    order_no = np.full(len(rows), "", dtype=object)
    red = etype == 1
    order_no[red] = [f"YO{cal.year % 100:02d}{i:09d}" for i in draw.codes(rng, int(red.sum()), 9).tolist()]
    event_id = np.array([f"yc-evt-{cal.year}-{i:08d}" for i in range(1, len(rows) + 1)])
    keep = sink.mask(file_day)
    rows, etype, at, ms, file_day = rows[keep], etype[keep], at[keep], ms[keep], file_day[keep]
    event_id, order_no, red = event_id[keep], order_no[keep], red[keep]
    epoch0 = int(cal.epoch_day[0]) * 86_400 - KST_OFFSET_S
    ts = (epoch0 + at) * 1000 + ms
    lines = S.json_lines([
        ("event_id", S.json_string(S.s(event_id))),
        ("event_type", S.json_string(S.take(["issued", "redeemed", "expired", "cancelled"], etype))),
        ("coupon_id", S.json_string(S.s(coupon_no[rows]))),
        ("campaign_id", S.json_string(S.take(camp_ids, campaign[rows]))),
        ("campaign_name", S.json_string(S.take(camp_names, campaign[rows]))),
        ("face_value_krw", S.json_number(face[rows])),
        ("biz_reg_no", S.json_string(w.text("brn", mem[m_i[rows]]))),
        ("order_id", S.json_string(S.with_nulls(S.s(order_no.astype(str)), ~red))),
        ("order_amount_krw", S.json_number(amount[rows], ~red)),
        ("event_ts", S.json_number(ts)),
    ])
    sink.lines("yogiyo/coupons", file_day, lines, header=None)
    return discount


def _orders(w: World, sink: Sink, mem: np.ndarray, gross: np.ndarray, discount: np.ndarray,
            rng: np.random.Generator) -> None:
    cal = w.cal
    k = len(mem)
    ticket = np.array([TICKET.get(c, 18_000) for c in w.category[mem].tolist()]) * rng.uniform(0.9, 1.15, k)
    fee = rng.choice([0, 1_000, 1_500, 2_000, 2_500, 3_000], k, p=[0.1, 0.15, 0.2, 0.25, 0.2, 0.1])
    day, m = np.nonzero(gross.T)
    noise = rng.lognormal(0, 0.05, len(m))
    order = draw.lexsort(day, w.brn[mem[m]].astype(np.int64))
    order = order[sink.mask(day[order])]
    day, m, noise = day[order], m[order], noise[order]
    g = gross[m, day]
    orders = np.maximum(1, np.rint(g / ticket[m] * noise)).astype(np.int64)
    cols = {
        "biz_reg_no": w.text("brn", mem[m]),
        "order_date": S.take(cal.iso, day),
        "orders": S.ints(orders),
        "gross_sales_krw": S.ints(g),
        "coupon_discount_krw": S.ints(np.minimum(discount[m, day], g)),
        "delivery_fee_krw": S.ints(orders * fee[m]),
    }
    sink.csv("yogiyo/orders", day, cols, S.days_with_rows(np.nonzero(gross.T)[0], cal.n))
