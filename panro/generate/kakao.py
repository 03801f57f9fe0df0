"""kakao/talkchannel: 카카오톡 채널 openings, message campaigns and 우리동네 단골시장 digital-tutor visits."""

from __future__ import annotations

import numpy as np

from panro.generate import draw, vocab
from panro.generate import sink as S
from panro.generate.sink import Sink
from panro.generate.world import World, pick_styles

EVENTS = 30_000          # events in a year at scale 1
REDELIVERED = 0.004      # share of events sent again in the next day's file (same event_id)
TYPES = np.array(["channel_opened", "tutor_visit", "message_campaign"])


def emit(w: World, sink: Sink) -> dict[str, float]:
    cal, rng = w.cal, w.rng("kakao")
    mem = w.members["kakao"]
    k = len(mem)
    in_market = w.market[mem] >= 0
    d_open = draw.days(rng, cal.onboarding_weights(early=0.4), k)

    # tutor visits (market merchants): the first on the opening day, then about every three weeks
    n_visit = np.where(in_market, 1 + rng.poisson(1.2, k), 0)
    v_who = np.repeat(np.arange(k), n_visit)
    v_seq = np.arange(len(v_who)) - np.repeat(np.cumsum(n_visit) - n_visit, n_visit)
    v_day = d_open[v_who] + v_seq * 21 + np.where(v_seq > 0, rng.integers(-5, 6, len(v_who)), 0)

    # message campaigns fill the year's volume
    fixed = k + len(v_who)
    lam = max(0.0, (w.q(EVENTS) - fixed) / max(k, 1))
    activity = rng.lognormal(0.0, 0.6, k)
    n_camp = rng.poisson(lam * activity / activity.mean())
    n_camp[d_open >= cal.n - 1] = 0
    c_who = np.repeat(np.arange(k), n_camp)
    span = cal.n - 1 - d_open[c_who]
    c_day = d_open[c_who] + 1 + (rng.random(len(c_who)) * span).astype(np.int64)

    who = np.concatenate([np.arange(k), v_who, c_who])
    day = np.concatenate([d_open, v_day, c_day])
    kind = np.concatenate([np.zeros(k, int), np.ones(len(v_who), int), np.full(len(c_who), 2)])
    keep = day < cal.n
    who, day, kind = who[keep], day[keep], kind[keep]
    sec = np.where(kind == 1, draw.seconds(rng, len(who), draw.HOURS_OFFICE),
                   draw.seconds(rng, len(who), draw.HOURS_SHOPPING * (np.arange(24) >= 8)))
    order = draw.lexsort(day, sec)
    who, day, kind, sec = who[order], day[order], kind[order], sec[order]
    n = len(who)
    event_id = np.array([f"TC{w.year}{i:08d}" for i in range(1, n + 1)])
    friend_rate = rng.lognormal(np.log(1.2), 0.8, k)
    friends = np.where(kind == 0, 0, np.rint(friend_rate[who] * (day - d_open[who]) * rng.uniform(0.8, 1.2, n)))
    style = pick_styles(rng, n, (0.5, 0.35, 0.15, 0.0))

    # a few events are delivered again the next day, unchanged
    again = np.flatnonzero((rng.random(n) < REDELIVERED) & (day < cal.n - 1))
    rows = np.concatenate([np.arange(n), again])
    file_day = np.concatenate([day, day[again] + 1])
    late = np.concatenate([np.zeros(n, bool), np.ones(len(again), bool)])
    order = draw.lexsort(file_day, late, sec[rows])
    rows, file_day = rows[order], file_day[order]
    keep = sink.mask(file_day)
    rows, file_day = rows[keep], file_day[keep]

    m = mem[who[rows]]
    mk = w.market[m]
    mk_id = np.array([f"MKT-{i + 1:04d}" for i in range(len(vocab.MARKETS))])
    mk_name = np.array([name for name, _ in vocab.MARKETS])
    no_market = mk < 0
    mk0 = np.where(no_market, 0, mk)
    tutor = kind[rows] != 1
    lines = S.json_lines([
        ("event_id", S.json_string(S.s(event_id[rows]))),
        ("event_type", S.json_string(S.take(TYPES, kind[rows]))),
        ("occurred_at", S.json_string(draw.kst_iso(w.cal, day[rows], sec[rows]))),
        ("biz_reg_no", S.json_string(w.text("brn", m))),
        ("store_name", S.json_string(w.text("name", m))),
        ("market_id", S.json_string(S.with_nulls(S.take(mk_id, mk0), no_market))),
        ("market_name", S.json_string(S.with_nulls(S.take(mk_name, mk0), no_market))),
        ("sido", S.json_string(S.s(w.region_names(m, day[rows], style[rows])))),
        ("sigungu", S.json_string(w.text("sigungu_name", m))),
        ("channel_friends", S.json_number(friends[rows].astype(np.int64), kind[rows] == 1)),
        ("tutor_id", S.json_string(S.with_nulls(S.s(np.char.add("DT-", np.char.zfill(
            (mk0 // 2 + 1).astype(str), 3))), tutor))),
    ])
    sink.lines("kakao/talkchannel", file_day, lines, header=None)
    markets = np.unique(w.market[mem[who[kind == 1]]])
    return {"kakao_events": float(n), "kakao_markets": float(len(markets[markets >= 0]))}

