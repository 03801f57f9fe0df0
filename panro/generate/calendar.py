"""One programme year as arrays of days: weekdays, public holidays, 동행축제 windows, region eras, date texts."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from panro.generate import vocab
from panro.settings import SEEDS_DIR

# Fixed-date public holidays, and the lunar / substitute ones of the years the programme reports on.
_FIXED_HOLIDAYS = ((1, 1), (3, 1), (5, 5), (6, 6), (8, 15), (10, 3), (10, 9), (12, 25))
_MOVING_HOLIDAYS = {
    2023: ("01-21", "01-22", "01-23", "01-24", "05-27", "05-29", "09-28", "09-29", "09-30", "10-02"),
    2024: ("02-09", "02-10", "02-11", "02-12", "04-10", "05-06", "05-15", "09-16", "09-17", "09-18", "10-01"),
}

# Weekly seasonality (Mon … Sun) of the kinds of sales in the feeds.
WEEKLY_DELIVERY = np.array([0.90, 0.88, 0.92, 0.97, 1.12, 1.22, 1.18])
WEEKLY_FASHION = np.array([1.14, 1.06, 1.00, 0.97, 0.93, 0.86, 1.04])
WEEKLY_KDEAL = np.array([1.12, 1.08, 1.05, 1.02, 0.98, 0.82, 0.93])


@dataclass(frozen=True)
class Festival:
    code: str
    name: str
    first: int  # day index of the first day (inclusive), clipped to the year
    last: int   # day index of the last day (inclusive)


def _festivals() -> list[tuple[str, str, dt.date, dt.date]]:
    with (SEEDS_DIR / "festivals.csv").open(encoding="utf-8") as f:
        return [(r["festival_code"], r["festival_name_ko"], dt.date.fromisoformat(r["start_date"]),
                 dt.date.fromisoformat(r["end_date"])) for r in csv.DictReader(f)]


class Calendar:
    """The days of one year; day index 0 is 1 January."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.first = dt.date(year, 1, 1)
        self.n = (dt.date(year + 1, 1, 1) - self.first).days
        self.dates = [self.first + dt.timedelta(days=i) for i in range(self.n)]
        self.weekday = np.array([d.weekday() for d in self.dates], dtype=np.int8)
        holidays = {dt.date(year, m, d) for m, d in _FIXED_HOLIDAYS}
        holidays |= {dt.date.fromisoformat(f"{year}-{md}") for md in _MOVING_HOLIDAYS.get(year, ())}
        self.holiday = np.array([d in holidays for d in self.dates])
        self.business = (self.weekday < 5) & ~self.holiday
        self.festival = np.full(self.n, -1, dtype=np.int8)
        self.festivals: list[Festival] = []
        for code, name, start, end in _festivals():
            if end.year < year or start.year > year:
                continue
            first, last = max(self.idx(start), 0), min(self.idx(end), self.n - 1)
            self.festival[first:last + 1] = len(self.festivals)
            self.festivals.append(Festival(code, name, first, last))
        self.in_festival = self.festival >= 0
        kangwon, jeonbuk = dt.date(*vocab.KANGWON_NEW), dt.date(*vocab.JEONBUK_NEW)
        self.era = np.array([(d >= kangwon) + (d >= jeonbuk) for d in self.dates], dtype=np.int8)

    def idx(self, day: dt.date) -> int:
        return (day - self.first).days

    def date(self, i: int) -> dt.date:
        return self.first + dt.timedelta(days=int(i))

    @cached_property
    def ymd(self) -> np.ndarray:
        """`YYYYMMDD` per day."""
        return np.array([d.strftime("%Y%m%d") for d in self.dates])

    @cached_property
    def iso(self) -> np.ndarray:
        """`YYYY-MM-DD` per day."""
        return np.array([d.isoformat() for d in self.dates])

    @cached_property
    def dotted(self) -> np.ndarray:
        """`YYYY.MM.DD` per day."""
        return np.array([d.strftime("%Y.%m.%d") for d in self.dates])

    @cached_property
    def excel_serial(self) -> np.ndarray:
        """Excel's serial day number per day (1900 date system)."""
        base = (self.first - dt.date(1899, 12, 30)).days
        return np.arange(self.n) + base

    @cached_property
    def epoch_day(self) -> np.ndarray:
        """Days since 1970-01-01 per day (Parquet date32)."""
        return np.arange(self.n, dtype=np.int64) + (self.first - dt.date(1970, 1, 1)).days

    def onboarding_weights(self, early: float = 0.35) -> np.ndarray:
        """Day weights for programme activity: business days, quieter before the 2023-04-13 agreement month."""
        w = np.where(self.business, 1.0, 0.12)
        month = np.array([d.month for d in self.dates])
        return w * np.where(month < 4, early, 1.0) * np.where(month == 12, 0.7, 1.0)


def hms_table() -> np.ndarray:
    """`HH:MM:SS` for each second of a day."""
    s = np.arange(86_400)
    return np.char.add(np.char.add(np.char.add(np.char.zfill((s // 3600).astype(str), 2), ":"),
                                   np.char.add(np.char.zfill((s // 60 % 60).astype(str), 2), ":")),
                       np.char.zfill((s % 60).astype(str), 2))
