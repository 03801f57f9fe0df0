"""Small random-draw and formatting helpers shared by the feed generators."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from panro.generate import sink as S
from panro.generate.calendar import Calendar

# Hour-of-day weights (KST) of activity kinds.
HOURS_OFFICE = np.array([0, 0, 0, 0, 0, 0, 0, 1, 3, 8, 10, 10, 6, 9, 10, 10, 9, 7, 4, 2, 1, 1, 0, 0], float)
HOURS_DELIVERY = np.array([4, 2, 1, 0.5, 0.2, 0.2, 0.3, 0.6, 1, 1.5, 3, 8, 10, 6, 3, 3, 4, 9, 12, 11, 8, 6, 5, 5],
                          float)
HOURS_SHOPPING = np.array([3, 2, 1, 0.5, 0.3, 0.3, 0.6, 1.5, 3, 4, 5, 6, 7, 6, 5, 5, 5, 5, 5, 6, 8, 10, 10, 7],
                          float)
HOURS_LEARNING = np.array([1, 0.5, 0.2, 0, 0, 0, 0.5, 2, 3, 5, 6, 6, 5, 5, 6, 6, 5, 4, 4, 6, 8, 8, 6, 3], float)


def days(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Day indexes drawn with the given weights."""
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def seconds(rng: np.random.Generator, size: int, hours: np.ndarray) -> np.ndarray:
    """Seconds of the day, hours weighted."""
    return rng.choice(24, size=size, p=hours / hours.sum()) * 3600 + rng.integers(0, 3600, size)


def round_to(x: np.ndarray, step: int) -> np.ndarray:
    return (np.rint(np.asarray(x, dtype=float) / step) * step).astype(np.int64)


def ramp(delta: np.ndarray, length: int) -> np.ndarray:
    """0 before day 0, then rising linearly to 1 over `length` days."""
    return np.clip((delta + 1) / length, 0.0, 1.0) * (delta >= 0)


def kst_text(cal: Calendar, day: np.ndarray, sec: np.ndarray) -> pa.Array:
    """`YYYY-MM-DD HH:MM:SS` (KST, no offset)."""
    return S.join(S.take(cal.iso, day), S.hms(sec), sep=" ")


def kst_iso(cal: Calendar, day: np.ndarray, sec: np.ndarray) -> pa.Array:
    """ISO-8601 with the +09:00 offset."""
    return S.join(S.take(cal.iso, day), "T", S.hms(sec), "+09:00")


def lexsort(*keys: np.ndarray) -> np.ndarray:
    """Row order by keys, the first key most significant."""
    return np.lexsort(tuple(reversed(keys)))


def events(rng: np.random.Generator, rate: np.ndarray, hours: np.ndarray,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson event counts per (row, day) as one entry per event, in day and time-of-day order:
    (row index, day index, second of the day)."""
    counts = rng.poisson(rate)
    row, day = np.nonzero(counts)
    reps = counts[row, day]
    row, day = np.repeat(row, reps), np.repeat(day, reps)
    sec = seconds(rng, len(row), hours)
    order = lexsort(day, sec)
    return row[order], day[order], sec[order]


def codes(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    """n distinct random numbers with the given number of digits (no leading zero)."""
    lo, hi = 10 ** (digits - 1), 10 ** digits
    out = np.unique(rng.integers(lo, hi, n + n // 10 + 16))
    while len(out) < n:
        out = np.unique(np.concatenate([out, rng.integers(lo, hi, n)]))
    return rng.permutation(out)[:n]
