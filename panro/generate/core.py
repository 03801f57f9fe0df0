"""`generate()`: write the twelve partner feeds for a date range, calibrated to the 2023 article."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from panro.domain.contracts import load_contracts
from panro.generate import baemin, kakao, kt, skplanet, yogiyo, zigzag
from panro.generate.sink import FeedStats, Landing, Sink
from panro.generate.world import FESTIVAL_SALES, PRIVATE_SUPPORT, World, build_world

# Shares of the festival-window sales (400 billion KRW at scale 1) set per partner; 요기요 takes the rest.
FESTIVAL_SHARE = {"zigzag": 0.35, "kt": 0.12}


@dataclass(frozen=True)
class FeedSummary:
    """What was written for one feed."""

    feed: str
    files: int
    rows: int
    bytes: int


@dataclass(frozen=True)
class GenerateSummary:
    """Files, rows and bytes per feed (`partner/feed`) and in total; plus the figures the data was built to."""

    out: Path | str            # the landing folder, or the fsspec URL written to
    start: dt.date
    end: dt.date
    scale: float
    seed: int
    feeds: dict[str, FeedSummary]
    #: per year: the calibrated figures of the generated world (over the whole year, whatever the range)
    calibration: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return sum(f.files for f in self.feeds.values())

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.feeds.values())

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.feeds.values())

    def describe(self) -> str:
        """A table for people."""
        lines = [f"generated {self.start} … {self.end} (scale {self.scale:g}, seed {self.seed}) into {self.out}",
                 f"{'feed':<28}{'files':>7}{'rows':>12}{'MB':>10}"]
        for f in self.feeds.values():
            lines.append(f"{f.feed:<28}{f.files:>7,}{f.rows:>12,}{f.bytes / 1e6:>10.1f}")
        lines.append(f"{'total':<28}{self.files:>7,}{self.rows:>12,}{self.bytes / 1e6:>10.1f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def generate(out: Path | str, start: dt.date = dt.date(2023, 1, 1), end: dt.date = dt.date(2023, 12, 31),
             scale: float = 1.0, seed: int = 2023) -> GenerateSummary:
    """Write every partner feed (feeds.md) for the business dates start … end under out/<partner>/<feed>/.

    `out` is a folder or any fsspec URL. Each calendar year touched is one programme year, built whole
    from (seed, year, scale) and then cut into daily files, so a date's files do not depend on the range
    asked for. At scale 1 a year reproduces the article's figures (marts.md) by construction, any seed.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    landing = Landing(out)
    stats: dict[str, FeedStats] = {}
    for contract in load_contracts():
        landing.makedirs(contract.name)
        stats[contract.name] = FeedStats()
    calibration: dict[int, dict[str, float]] = {}
    for year in range(start.year, end.year + 1):
        world = build_world(year, scale, seed)
        cal = world.cal
        lo = max(0, cal.idx(start))
        hi = min(cal.n - 1, cal.idx(end))
        calibration[year] = _year(world, Sink(landing, cal, lo, hi, stats))
    feeds = {name: FeedSummary(name, st.files, st.rows, st.bytes) for name, st in stats.items()}
    return GenerateSummary(landing.display, start, end, scale, seed, feeds, calibration)


def _year(w: World, sink: Sink) -> dict[str, float]:
    """All twelve feeds of one programme year; sales first, so the calibrated remainders are known."""
    festival = FESTIVAL_SALES * w.scale if w.cal.in_festival.any() else None

    def share(partner: str) -> float | None:
        return None if festival is None else festival * FESTIVAL_SHARE[partner]

    lo, hi = PRIVATE_SUPPORT
    private = float(w.rng("targets").uniform(lo, hi)) * w.scale
    fig: dict[str, float] = {"merchants": float(w.n)}
    fig |= kakao.emit(w, sink)
    fig |= baemin.emit_enrollments(w, sink)
    baemin.emit_delivery(w, sink)
    fig |= zigzag.emit(w, sink, share("zigzag"))
    fig |= kt.emit(w, sink, share("kt"))
    rest = None if festival is None else festival - fig["zigzag_festival"] - fig["kt_festival"]
    fig |= yogiyo.emit(w, sink, rest)
    fig |= skplanet.emit(w, sink, private - fig["zigzag_private"] - fig["yogiyo_private"])
    fig["festival_sales"] = fig["zigzag_festival"] + fig["kt_festival"] + fig["yogiyo_festival"]
    fig["private_support"] = fig["zigzag_private"] + fig["yogiyo_private"] + fig["skplanet_private"]
    return fig
