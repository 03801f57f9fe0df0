"""The programme year's merchants: the master list, who is in which partner's programme, names and places.

Every merchant of the master list is in at least one partner programme and gets at least one support
event dated in the year, and no other BRN ever appears in a support feed: so the year's reach over all
six partners is exactly the size of the master list (16,867 × scale).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from panro.domain.brn import dashed
from panro.generate import vocab
from panro.generate.calendar import Calendar

# The article's figures (marts.md) at scale 1: the generator is built to reproduce them.
MERCHANTS = 16_867
MARKETS = 111
COURSES = 29
LEARNERS = 27_000
SATISFACTION = 4.83
SMART_STORES = 200
PACKAGES = 2_200
EXTRAS = 1_500
GROWTH = 3.3
FESTIVAL_SALES = 400e9
PRIVATE_SUPPORT = (7.25e9, 7.55e9)   # over 7 billion: drawn per seed within this band

# Programme sizes at scale 1 (beyond the article's figures).
SEGMENT_SIZES = {"food": 7_600, "market": 2_900, "fashion": 1_300}   # retail: the rest
ZIGZAG_STORES = 1_200
KT_STORES = 1_500
SKPLANET_MERCHANTS = 2_600
BAEMIN_MERCHANTS = 5_000
KAKAO_MARKET_MERCHANTS = 2_600
KAKAO_OTHER_MERCHANTS = 3_800

_WEIGHTS = np.array([1, 3, 7, 1, 3, 7, 1, 3, 5])
SIDO_INDEX = {c: i for i, c in enumerate(vocab.SIDO_CODES)}
SG_CODE = np.array([c for c, _, _ in vocab.SIGUNGU])
SG_NAME = np.array([n for _, n, _ in vocab.SIGUNGU])
SG_WEIGHT = np.array([w for _, _, w in vocab.SIGUNGU], dtype=float)
SG_SIDO = np.array([SIDO_INDEX[c[:2]] for c in SG_CODE])
_SG_INDEX = {c: i for i, c in enumerate(SG_CODE)}


def brn_check_digits(first_nine: np.ndarray) -> np.ndarray:
    """Check digits (domain.md) for an array of 9-digit integers."""
    digits = (first_nine[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    total = digits @ _WEIGHTS + (5 * digits[:, 8]) // 10
    return (10 - total % 10) % 10


def make_brns(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct valid BRNs (10 digits): real-looking tax office codes, mostly individual businesses."""
    found: list[int] = []
    seen: set[int] = set()
    while len(found) < n:
        m = (n - len(found)) * 2 + 16
        office = rng.integers(101, 900, m)
        kind = np.where(rng.random(m) < 0.9, rng.integers(1, 80, m), rng.choice([81, 86, 87, 88], m))
        nine = office * 1_000_000 + kind * 10_000 + rng.integers(0, 10_000, m)
        ten = nine * 10 + brn_check_digits(nine)
        for v in ten.tolist():
            if v not in seen:
                seen.add(v)
                found.append(v)
    return np.array([f"{v:010d}" for v in found[:n]])


def region_table() -> np.ndarray:
    """names[style, sido, era]: style 0 official, 1 short, 2 시/도 form, 3 English (era-aware for 강원, 전북)."""
    out = np.empty((4, len(vocab.SIDO_CODES), 3), dtype=object)
    for i, code in enumerate(vocab.SIDO_CODES):
        official, short, city, english = vocab.SIDO[code]
        for era in range(3):
            out[0, i, era] = official[era]
            out[1, i, era] = short
            out[2, i, era] = official[era] if code in ("51", "52") else city
            out[3, i, era] = english
    return out.astype(str)


REGION_NAMES = region_table()


def pick_styles(rng: np.random.Generator, n: int, p: tuple[float, float, float, float]) -> np.ndarray:
    return rng.choice(4, size=n, p=np.asarray(p) / sum(p))


def _codes_by_era() -> np.ndarray:
    out = np.empty((len(SG_CODE), 3), dtype="<U5")
    for i, code in enumerate(SG_CODE.tolist()):
        for era in range(3):
            prefix = code[:2]
            if prefix == "51" and era < 1:
                prefix = "42"
            elif prefix == "52" and era < 2:
                prefix = "45"
            out[i, era] = prefix + code[2:]
    return out


#: 5-digit 시군구 code as written on a date: [시군구, era]; 강원 42xxx before 2023-06-11, 전북 45xxx before 2024-01-18
SG_CODE_BY_ERA = _codes_by_era()


@dataclass
class World:
    year: int
    scale: float
    seed: int
    cal: Calendar
    brn: np.ndarray
    segment: np.ndarray
    category: np.ndarray
    name: np.ndarray
    sigungu: np.ndarray
    market: np.ndarray
    members: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.brn)

    def q(self, x: float, minimum: int = 1) -> int:
        """A size of the year at this scale."""
        return max(minimum, round(x * self.scale))

    def rng(self, part: str) -> np.random.Generator:
        """An independent random stream per part of the world (seed, year and part decide it)."""
        return np.random.default_rng([self.seed % 2**63, self.year, zlib.crc32(part.encode())])

    @cached_property
    def sido(self) -> np.ndarray:
        """Index into vocab.SIDO_CODES per merchant."""
        return SG_SIDO[self.sigungu]

    @cached_property
    def sido_code(self) -> np.ndarray:
        return np.array(vocab.SIDO_CODES)[self.sido]

    @cached_property
    def sigungu_name(self) -> np.ndarray:
        return SG_NAME[self.sigungu]

    @cached_property
    def brn_dashed(self) -> np.ndarray:
        return np.array([dashed(b) for b in self.brn.tolist()])

    def text(self, column: str, merchants: np.ndarray) -> pa.Array:
        """A per-merchant text attribute (`brn`, `brn_dashed`, `name`, `category`, `sigungu_name`) as Arrow."""
        cache = self.__dict__.setdefault("_arrow", {})
        if column not in cache:
            cache[column] = pa.array(getattr(self, column), type=pa.string())
        return pc.take(cache[column], pa.array(np.asarray(merchants, dtype=np.int64)))

    def region_names(self, merchants: np.ndarray, days: np.ndarray, styles: np.ndarray) -> pa.Array:
        """시도 names of merchants as written on given days, in given styles."""
        flat = pa.array(REGION_NAMES.ravel(), type=pa.string())
        n_sido = REGION_NAMES.shape[1]
        idx = (np.asarray(styles) * n_sido + self.sido[merchants]) * 3 + self.cal.era[days]
        return pc.take(flat, pa.array(idx.astype(np.int64)))

    def brn_mixed(self, merchants: np.ndarray, rng: np.random.Generator, p_dashed: float) -> np.ndarray:
        """BRNs, some dashed and some bare."""
        return np.where(rng.random(len(merchants)) < p_dashed, self.brn_dashed[merchants], self.brn[merchants])


def _store_names(rng: np.random.Generator, segment: np.ndarray, category: np.ndarray,
                 market: np.ndarray) -> np.ndarray:
    items = {c: words for seg in vocab.CATEGORIES.values() for c, (_, words) in seg.items()}
    market_prefix = [m.removesuffix("시장").removesuffix("전통").removesuffix("종합") for m, _ in vocab.MARKETS]
    u = rng.random((len(segment), 6))
    out = []
    for i, (seg, cat) in enumerate(zip(segment.tolist(), category.tolist(), strict=True)):
        words = items[cat]
        item = words[int(u[i, 0] * len(words))]
        if vocab.SEGMENTS[seg] == "fashion":
            a = vocab.FASHION_WORDS[int(u[i, 1] * len(vocab.FASHION_WORDS))]
            b = vocab.FASHION_WORDS[int(u[i, 2] * len(vocab.FASHION_WORDS))]
            out.append(f"{a}{b}" if u[i, 3] < 0.35 else f"{a} {item}" if u[i, 3] < 0.75 else f"{a}{b} {item}")
            continue
        suffixes = vocab.NAME_SUFFIXES[vocab.SEGMENTS[seg]]
        suffix = "" if item[-1] in vocab.NO_SUFFIX_ENDINGS else suffixes[int(u[i, 4] * len(suffixes))]
        if market[i] >= 0 and u[i, 1] < 0.5:
            prefix = market_prefix[market[i]]
        elif u[i, 1] < 0.8:
            prefix = vocab.NAME_PREFIXES[int(u[i, 2] * len(vocab.NAME_PREFIXES))]
        else:
            prefix = vocab.PLACE_PREFIXES[int(u[i, 2] * len(vocab.PLACE_PREFIXES))]
        out.append(f"{prefix} {item}{suffix}" if u[i, 5] < 0.8 else f"{prefix}{item}")
    return np.array(out)


def owner_names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = np.array([s for s, _ in vocab.SURNAMES])
    w = np.array([w for _, w in vocab.SURNAMES], dtype=float)
    given = np.array(vocab.GIVEN_NAMES)
    return np.char.add(rng.choice(sur, n, p=w / w.sum()), rng.choice(given, n))


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.integers(2000, 10_000, n)
    b = rng.integers(0, 10_000, n)
    return np.array([f"010-{x:04d}-{y:04d}" for x, y in zip(a.tolist(), b.tolist(), strict=True)])


def build_world(year: int, scale: float, seed: int) -> World:
    cal = Calendar(year)
    w = World(year, scale, seed, cal, *(np.empty(0),) * 6)
    rng = w.rng("merchants")
    n = w.q(MERCHANTS)
    sizes = {k: min(w.q(v), n) for k, v in SEGMENT_SIZES.items()}
    seg_counts = [sizes["food"], sizes["market"], 0, sizes["fashion"]]
    seg_counts[2] = n - sum(seg_counts)
    if seg_counts[2] < 0:
        raise ValueError(f"scale {scale} is too small for a world")
    segment = rng.permutation(np.repeat(np.arange(4, dtype=np.int8), seg_counts))

    # categories within segments
    category = np.empty(n, dtype=object)
    for s_i, seg in enumerate(vocab.SEGMENTS):
        cats = list(vocab.CATEGORIES[seg])
        cw = np.array([vocab.CATEGORIES[seg][c][0] for c in cats], dtype=float)
        idx = np.flatnonzero(segment == s_i)
        category[idx] = np.array(cats, dtype=object)[rng.choice(len(cats), len(idx), p=cw / cw.sum())]

    # memberships
    def pick(pool: np.ndarray, k: int) -> np.ndarray:
        return rng.permutation(pool)[:min(k, len(pool))]

    def weighted(k: int, by_segment: dict[str, float], exclude: np.ndarray | None = None) -> np.ndarray:
        p = np.array([by_segment.get(vocab.SEGMENTS[sg], 0.0) for sg in range(4)])[segment]
        if exclude is not None:
            p[exclude] = 0
        k = min(k, int(np.count_nonzero(p)))
        return np.sort(rng.choice(n, size=k, replace=False, p=p / p.sum()))

    food = np.flatnonzero(segment == 0)
    market_seg = np.flatnonzero(segment == 1)
    fashion = np.flatnonzero(segment == 3)
    yg = pick(food, w.q(PACKAGES) + w.q(EXTRAS))
    members = {
        "yogiyo_package": np.sort(yg[:w.q(PACKAGES)]),
        "yogiyo_extra": np.sort(yg[w.q(PACKAGES):]),
        "zigzag": np.sort(pick(fashion, w.q(ZIGZAG_STORES))),
        "kt": weighted(w.q(KT_STORES), {"market": 1.0, "retail": 0.55, "food": 0.1, "fashion": 0.6}),
        "skplanet": weighted(w.q(SKPLANET_MERCHANTS), {"food": 1.0, "market": 0.9, "retail": 1.3}),
        "baemin": weighted(w.q(BAEMIN_MERCHANTS), {"food": 1.0, "retail": 0.12, "market": 0.05,
                                                   "fashion": 0.02}),
    }
    kakao_market = pick(market_seg, w.q(KAKAO_MARKET_MERCHANTS))
    kakao_other = weighted(w.q(KAKAO_OTHER_MERCHANTS), {"food": 0.6, "retail": 1.0, "fashion": 0.5})
    kakao = set(kakao_market.tolist()) | set(kakao_other.tolist())
    covered = np.zeros(n, dtype=bool)
    for idx in members.values():
        covered[idx] = True
    covered[list(kakao)] = True
    left = np.flatnonzero(~covered)
    to_baemin = left[segment[left] == 0]
    kakao |= set(left[segment[left] != 0].tolist())
    members["baemin"] = np.sort(np.concatenate([members["baemin"], to_baemin]))
    members["kakao"] = np.array(sorted(kakao), dtype=np.int64)

    # places: market merchants sit in their market's 시군구; the kakao ones cover all 111 markets
    market = np.full(n, -1, dtype=np.int64)
    market_sg = np.array([_SG_INDEX[c] for _, c in vocab.MARKETS])
    in_kakao = np.zeros(n, dtype=bool)
    in_kakao[members["kakao"]] = True
    first = rng.permutation(market_seg[in_kakao[market_seg]])
    rest = np.setdiff1d(market_seg, first[:len(vocab.MARKETS)])
    k = min(len(vocab.MARKETS), len(first))
    market[first[:k]] = rng.permutation(len(vocab.MARKETS))[:k]
    market[rest] = rng.integers(0, len(vocab.MARKETS), len(rest))
    sigungu = np.empty(n, dtype=np.int64)
    has_market = market >= 0
    sigungu[has_market] = market_sg[market[has_market]]
    sw = SG_WEIGHT.copy()
    others = np.flatnonzero(~has_market)
    online = segment[others] == 3
    boost = np.where(np.isin(SG_SIDO, [SIDO_INDEX["11"], SIDO_INDEX["41"]]), 2.5, 1.0)
    sigungu[others[~online]] = rng.choice(len(sw), int((~online).sum()), p=sw / sw.sum())
    sigungu[others[online]] = rng.choice(len(sw), int(online.sum()), p=sw * boost / (sw * boost).sum())

    w.brn = make_brns(rng, n)
    w.segment = segment
    w.category = category.astype(str)
    w.market = market
    w.sigungu = sigungu
    w.name = _store_names(rng, segment, w.category, market)
    w.members = members
    return w
