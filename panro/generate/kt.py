"""kt: K-deal store snapshots (full, daily, CP949) and order lines with cancellations."""

from __future__ import annotations

import numpy as np

from panro.generate import draw
from panro.generate import sink as S
from panro.generate.calendar import WEEKLY_KDEAL
from panro.generate.sink import Sink
from panro.generate.world import SMART_STORES, World, owner_names, phones, pick_styles

ORDERS = 600_000          # paid orders in a year at scale 1
P_CANCEL = 0.03
P_COUPON = 0.12
P_LEAVE = 0.04
FESTIVAL_UPLIFT = (1.4, 1.8)


def emit(w: World, sink: Sink, festival_target: float | None) -> dict[str, float]:
    cal, rng = w.cal, w.rng("kt")
    mem = w.members["kt"]
    k, n = len(mem), cal.n
    onboard = draw.days(rng, cal.onboarding_weights(early=0.3) * (np.arange(n) < n - 3), k)
    order = draw.lexsort(onboard, w.brn[mem])
    mem, onboard = mem[order], onboard[order]

    # who leaves, who gets which support and when
    smart = np.zeros(k, dtype=bool)
    eligible = np.flatnonzero(onboard < n - 30)
    n_smart = min(w.q(SMART_STORES), len(eligible))
    smart[rng.choice(eligible, n_smart, replace=False)] = True
    leave = np.where(~smart & (rng.random(k) < P_LEAVE), onboard + rng.integers(30, 200, k), n)
    leave = np.minimum(leave, n)
    never = n + 1
    smart_day = np.where(smart, np.minimum(onboard + np.where(rng.random(k) < 0.2, 0, rng.integers(3, 60, k)),
                                           n - 1), never)
    fee_day = np.where(rng.random(k) < 0.45,
                       onboard + np.where(rng.random(k) < 0.7, 0, rng.integers(1, 90, k)), never)
    page_day = np.where(rng.random(k) < 0.35,
                        onboard + np.where(rng.random(k) < 0.2, 0, rng.integers(2, 45, k)), never)
    active = (np.arange(n)[None, :] >= onboard[:, None]) & (np.arange(n)[None, :] < leave[:, None])
    # cumulative marketing messages: a send every few weeks
    msg_inc = np.zeros((k, n), dtype=np.int64)
    n_sends = rng.poisson((leave - onboard - 5).clip(0) / 18)
    who = np.repeat(np.arange(k), n_sends)
    when = onboard[who] + 5 + (rng.random(len(who)) * (leave[who] - onboard[who] - 5)).astype(np.int64)
    np.add.at(msg_inc, (who, when), draw.round_to(rng.uniform(100, 3000, len(who)), 10))
    initial = np.where(rng.random(k) < 0.1, draw.round_to(rng.uniform(50, 500, k), 10), 0)
    msg_inc[np.arange(k), onboard] += initial
    msg = np.cumsum(msg_inc, axis=1)

    _snapshots(w, sink, mem, onboard, active, msg, smart_day, fee_day, page_day, rng)
    fest = _orders(w, sink, mem, onboard, active, festival_target, rng)
    return {"kt_stores": float(k), "smart_stores": float(n_smart), "kt_festival": fest}


def _snapshots(w: World, sink: Sink, mem: np.ndarray, onboard: np.ndarray, active: np.ndarray, msg: np.ndarray,
               smart_day: np.ndarray, fee_day: np.ndarray, page_day: np.ndarray, rng: np.random.Generator) -> None:
    cal = w.cal
    style = pick_styles(rng, len(mem), (0.85, 0.15, 0.0, 0.0))
    owner = owner_names(rng, len(mem))
    phone = phones(rng, len(mem))
    day, store = np.nonzero(active.T)          # ordered by day, then onboarding order
    files_on = S.days_with_rows(day, cal.n)    # from the first store's onboarding on
    keep = sink.mask(day)
    day, store = day[keep], store[keep]
    m = mem[store]
    yn = np.array(["N", "Y"])
    cols = {
        "사업자등록번호": w.text("brn_dashed", m),
        "상호명": w.text("name", m),
        "대표자명": S.take(owner, store),
        "연락처": S.take(phone, store),
        "시도": S.s(w.region_names(m, day, style[store])),
        "시군구": w.text("sigungu_name", m),
        "업종": w.text("category", m),
        "입점일": S.take(cal.dotted, onboard[store]),
        "수수료면제": S.take(yn, (day >= fee_day[store]).astype(int)),
        "상세페이지지원": S.take(yn, (day >= page_day[store]).astype(int)),
        "메시지발송건수": S.ints(msg[store, day]),
        "스마트상점": S.take(yn, (day >= smart_day[store]).astype(int)),
    }
    sink.csv("kt/kdeal_stores", day, cols, files_on)


def _orders(w: World, sink: Sink, mem: np.ndarray, onboard: np.ndarray, active: np.ndarray,
            festival_target: float | None, rng: np.random.Generator) -> float:
    cal = w.cal
    k, n = active.shape
    level = rng.lognormal(0, 0.7, k)
    uplift = rng.uniform(*FESTIVAL_UPLIFT, k)
    growth = 0.35 + 0.65 * draw.ramp(np.arange(n)[None, :] - onboard[:, None], 21)
    lam = active * level[:, None] * WEEKLY_KDEAL[cal.weekday][None, :] * growth \
        * np.where(cal.in_festival[None, :], uplift[:, None], 1.0)
    lam *= w.q(ORDERS) / lam.sum()
    store, day, sec = draw.events(rng, lam, draw.HOURS_SHOPPING)
    no = len(store)
    price = rng.lognormal(np.log(85_000), 0.45, k)
    amount_f = price[store] * rng.lognormal(0, 0.5, no)
    cancel_day = day + rng.choice([0, 0, 1, 1, 1, 2, 3, 5, 7], no)
    cancelled = (rng.random(no) < P_CANCEL) & (cancel_day < n)
    counted = cal.in_festival[day] & ~cancelled
    scale = 1.0
    if festival_target is not None and counted.any():
        scale = festival_target / amount_f[counted].sum()
    amount = np.maximum(1_000, draw.round_to(amount_f * scale, 100))
    coupon = rng.random(no) < P_COUPON
    face = rng.choice([2_000, 3_000, 5_000, 10_000], no, p=[0.3, 0.35, 0.25, 0.1])
    promo = ~coupon & (rng.random(no) < 0.1)
    discount = np.where(coupon, np.minimum(face, amount // 3 // 1000 * 1000),
                        np.where(promo, draw.round_to(amount * rng.uniform(0.05, 0.15, no), 100), 0))
    coupon &= discount > 0
    coupon_no = np.char.add("KDC", draw.codes(rng, no, 10).astype(str))
    seq = np.arange(no) - np.searchsorted(day, day, side="left")
    yymmdd = np.array([d[2:] for d in cal.ymd.tolist()])
    order_no = np.char.add(np.char.add("KD", yymmdd[day]), np.char.zfill((seq + 1).astype(str), 6))

    rows = np.concatenate([np.arange(no), np.flatnonzero(cancelled)])
    status = np.concatenate([np.zeros(no, int), np.ones(int(cancelled.sum()), int)])
    file_day = np.concatenate([day, cancel_day[cancelled]])
    files_on = S.days_with_rows(file_day, n)
    o = draw.lexsort(file_day, status, sec[rows])
    rows, status, file_day = rows[o], status[o], file_day[o]
    keep = sink.mask(file_day)
    rows, status, file_day = rows[keep], status[keep], file_day[keep]
    cols = {
        "주문번호": S.s(order_no[rows]),
        "사업자등록번호": w.text("brn_dashed", mem[store[rows]]),
        "주문일시": draw.kst_text(cal, day[rows], sec[rows]),
        "주문금액": S.thousands(amount[rows]),
        "할인금액": S.thousands(discount[rows]),
        "쿠폰번호": S.with_nulls(S.s(coupon_no[rows]), ~coupon[rows]),
        "주문상태": S.take(["결제완료", "취소"], status),
    }
    sink.csv("kt/kdeal_orders", file_day, cols, files_on)
    return float(amount[counted].sum())
