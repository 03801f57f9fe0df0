"""baemin: learning-content enrollments (re-sent rows) and 배달 빅데이터 delivery statistics."""

from __future__ import annotations

import numpy as np

from panro.generate import draw, vocab
from panro.generate import sink as S
from panro.generate.calendar import WEEKLY_DELIVERY
from panro.generate.sink import Sink
from panro.generate.world import COURSES, LEARNERS, SATISFACTION, SG_CODE_BY_ERA, SG_WEIGHT, World

ENROLLMENTS = 32_000
P_COMPLETE = 0.72
P_RATED = 0.86
P_RATED_LATER = 0.2
# ratings in tenths and their weights: mostly 5.0, mean about 4.8 before the exact adjustment
RATINGS = np.array([50, 49, 48, 47, 46, 45, 44, 43, 42, 40, 38, 35, 30, 25, 20, 10])
RATING_W = np.array([73, 4, 4, 3, 2, 6, 1, 1, 1, 5, 1, 2, 1, 0.4, 0.3, 0.3])


def exact_mean_tenths(rng: np.random.Generator, tenths: np.ndarray, mean: float) -> np.ndarray:
    """Nudge integer ratings (in tenths, 10 … 50) one tenth at a time until their sum is round(mean·10·n)."""
    t = tenths.copy()
    target = round(mean * 10 * len(t))
    while (diff := target - int(t.sum())) != 0:
        can = np.flatnonzero(t < 50) if diff > 0 else np.flatnonzero(t > 10)
        pick = rng.choice(can, size=min(abs(diff), len(can)), replace=False)
        t[pick] += 1 if diff > 0 else -1
    return t


def emit_enrollments(w: World, sink: Sink) -> dict[str, float]:
    cal, rng = w.cal, w.rng("baemin.edu")
    n_learn = w.q(LEARNERS)
    n_enr = max(w.q(ENROLLMENTS), n_learn)
    merchants = rng.permutation(w.members["baemin"])
    if len(merchants) > n_learn:
        raise ValueError("more 배민 merchants than learners")
    learner_no = draw.codes(rng, n_learn, 7)
    has_brn = np.arange(n_learn) < len(merchants)
    # every learner enrolls once; the rest are repeat enrollments, merchants more often
    lw = np.where(has_brn, 1.6, 1.0)
    learner = np.concatenate([np.arange(n_learn), rng.choice(n_learn, n_enr - n_learn, p=lw / lw.sum())])
    first = np.arange(n_enr) < n_learn
    # courses: founders lean to 창업; every course gets enrollments
    pw = np.array([c[2] for c in vocab.COURSES], float)
    startup = np.array([c[0] == "창업" for c in vocab.COURSES])
    pf = pw * np.where(startup, 2.5, 1.0)
    course = np.where(has_brn[learner], rng.choice(len(pw), n_enr, p=pw / pw.sum()),
                      rng.choice(len(pw), n_enr, p=pf / pf.sum()))
    n_courses = min(w.q(COURSES), len(vocab.COURSES), n_enr)
    course[rng.choice(n_enr, n_courses, replace=False)] = np.arange(n_courses)
    if n_courses < len(vocab.COURSES):
        course = course % n_courses

    dw = np.where(cal.weekday < 5, 1.0, 0.65) * cal.onboarding_weights(early=0.6).clip(0.5, None)
    e_day = draw.days(rng, dw, n_enr)
    e_abs = e_day * 86_400 + draw.seconds(rng, n_enr, draw.HOURS_LEARNING)
    c_abs = e_abs + 600 + rng.exponential(6 * 86_400, n_enr).astype(np.int64)
    completed = (rng.random(n_enr) < P_COMPLETE) & (c_abs < cal.n * 86_400)
    r_abs = np.where(rng.random(n_enr) < P_RATED_LATER, c_abs + rng.integers(86_400, 10 * 86_400, n_enr), c_abs)
    rated = completed & (rng.random(n_enr) < P_RATED) & (r_abs < cal.n * 86_400)
    tenths = np.zeros(n_enr, dtype=np.int64)
    tenths[rated] = exact_mean_tenths(rng, rng.choice(RATINGS, int(rated.sum()), p=RATING_W / RATING_W.sum()),
                                      SATISFACTION)

    # ids in enrollment order
    order = np.argsort(e_abs, kind="stable")
    learner, first, course, e_abs, c_abs, r_abs = (a[order] for a in (learner, first, course, e_abs, c_abs, r_abs))
    completed, rated, tenths = completed[order], rated[order], tenths[order]
    enr_id = np.array([f"BE{w.year % 100:02d}{i:07d}" for i in range(1, n_enr + 1)])
    lid = np.char.add("L", learner_no.astype(str))[learner]
    brn_of_learner = np.full(n_learn, "", dtype="<U12")
    brn_of_learner[:len(merchants)] = w.brn_mixed(merchants, rng, 0.45)
    brn = brn_of_learner[learner]
    brn[(~first) & (rng.random(n_enr) < 0.08)] = ""      # merchants sometimes leave it out

    # rows: the state at the end of each day with a change (enrolled, completed, rated)
    e_day, c_day, r_day = e_abs // 86_400, c_abs // 86_400, r_abs // 86_400
    later = rated & (r_day > c_day)
    rows_e = np.flatnonzero(~(completed & (c_day == e_day)))
    rows_c = np.flatnonzero(completed)
    rows_r = np.flatnonzero(later)
    enr = np.concatenate([rows_e, rows_c, rows_r])
    stage = np.concatenate([np.zeros(len(rows_e), int), np.ones(len(rows_c), int), np.full(len(rows_r), 2)])
    at = np.concatenate([e_abs[rows_e], c_abs[rows_c], r_abs[rows_r]])
    order = np.argsort(at, kind="stable")
    enr, stage, at = enr[order], stage[order], at[order]
    # no extract runs on public holidays: a header-only file, and the next day's file carries the changes
    # (one row per enrollment and file: its state at the end of that delivery)
    workday = np.append(np.flatnonzero(~cal.holiday), cal.n)
    nxt = workday[np.searchsorted(workday, np.arange(cal.n))]
    change_day = at // 86_400
    file_day = np.where(nxt[change_day] < cal.n, nxt[change_day], change_day)
    key = enr * (cal.n + 1) + file_day
    _, last = np.unique(key[::-1], return_index=True)
    last = np.sort(len(key) - 1 - last)
    enr, stage, file_day = enr[last], stage[last], file_day[last]
    keep = sink.mask(file_day)
    enr, stage, file_day = enr[keep], stage[keep], file_day[keep]

    show_done = stage >= 1
    show_rating = (stage == 2) | ((stage == 1) & rated[enr] & ~later[enr])
    titles = np.array([c[1] for c in vocab.COURSES])
    cats = np.array([c[0] for c in vocab.COURSES])
    ids = np.array([f"BM-EDU-{i + 1:02d}" for i in range(len(vocab.COURSES))])
    rating_text = np.array([f"{t / 10:.1f}" for t in range(51)])
    cols = {
        "enrollment_id": S.s(enr_id[enr]),
        "learner_id": S.s(lid[enr]),
        "biz_reg_no": S.s(brn[enr]),
        "course_id": S.take(ids, course[enr]),
        "course_title": S.take(titles, course[enr]),
        "course_category": S.take(cats, course[enr]),
        "enrolled_at": draw.kst_text(cal, e_day[enr], e_abs[enr] % 86_400),
        "completed_at": S.with_nulls(draw.kst_text(cal, c_day[enr].clip(0, cal.n - 1), c_abs[enr] % 86_400),
                                     ~show_done),
        "satisfaction": S.with_nulls(S.take(rating_text, tenths[enr]), ~show_rating),
    }
    sink.csv("baemin/edu_enrollments", file_day, cols)
    return {"learners": float(len(np.unique(learner))), "courses": float(len(np.unique(course))),
            "satisfaction": float(tenths[rated].mean() / 10) if rated.any() else 0.0}


def delivery_sigungu() -> np.ndarray:
    """The 60 시군구 of the delivery statistics (indexes into vocab.SIGUNGU)."""
    out = []
    for code, quota in vocab.DELIVERY_SIGUNGU_QUOTA.items():
        idx = np.flatnonzero(np.array([c[:2] == code for c, _, _ in vocab.SIGUNGU]))
        out += sorted(idx[np.argsort(-SG_WEIGHT[idx], kind="stable")][:quota].tolist())
    return np.array(out)


def emit_delivery(w: World, sink: Sink) -> dict[str, float]:
    cal, rng = w.cal, w.rng("baemin.delivery")
    sg = delivery_sigungu()
    cats = vocab.DELIVERY_CATEGORIES
    n_sg, n_cat = len(sg), len(cats)
    share = np.array([c[1] for c in cats])
    ticket = np.array([c[2] for c in cats], float)
    per_store = rng.uniform(5, 10, (n_sg, n_cat))
    level = 2_600 * w.scale * SG_WEIGHT[sg] / SG_WEIGHT[sg].mean()
    doy = np.arange(cal.n)
    season = 1 + 0.07 * np.cos(2 * np.pi * (doy - 15) / 365) + 0.04 * (np.isin(cal.weekday, [5, 6]) & cal.holiday)
    day_factor = WEEKLY_DELIVERY[cal.weekday] * season * np.where(cal.in_festival, 1.08, 1.0) \
        * rng.lognormal(0, 0.05, cal.n)
    days = np.arange(cal.n)
    # rows per day: 시군구 × category, ordered by the code as written that day and the category
    d = np.repeat(days, n_sg * n_cat)
    i_sg = np.tile(np.repeat(np.arange(n_sg), n_cat), len(days))
    i_cat = np.tile(np.arange(n_cat), len(days) * n_sg)
    mean = level[i_sg] * share[i_cat] * day_factor[d]
    orders = rng.poisson(mean * rng.lognormal(0, 0.08, len(d)))
    sales = draw.round_to(orders * ticket[i_cat] * rng.lognormal(0, 0.05, len(d)), 100)
    stores = np.maximum(np.rint(orders / per_store[i_sg, i_cat]), (orders > 0)).astype(np.int64)
    code = SG_CODE_BY_ERA[sg[i_sg], cal.era[d]]
    order = draw.lexsort(d, code, i_cat)
    order = order[sink.mask(d[order])]
    cols = {
        "stat_date": S.take(cal.ymd, d[order]),
        "sigungu_code": S.s(code[order]),
        "category": S.take([c[0] for c in cats], i_cat[order]),
        "orders": S.ints(orders[order]),
        "sales_krw": S.ints(sales[order]),
        "active_stores": S.ints(stores[order]),
    }
    sink.csv("baemin/delivery_stats", d[order], cols)
    return {}
