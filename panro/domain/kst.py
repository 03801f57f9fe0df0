"""Korea's time, in which every business date is counted (feeds.md: "KST, no offset").

The nightly's default date is yesterday here, and a file named for a date after today here is early.
Korea keeps no daylight saving time, so a fixed +09:00 is exact."""

from __future__ import annotations

import datetime as dt

KST = dt.timezone(dt.timedelta(hours=9), "KST")
ZONE = "Asia/Seoul"   # its IANA name: DuckDB's TimeZone setting, pandas' tz_convert


def today_kst(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Korea (at `now`, an aware time; default: the clock)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(KST).date()


def yesterday_kst(now: dt.datetime | None = None) -> dt.date:
    """The business date a nightly run processes by default."""
    return today_kst(now) - dt.timedelta(days=1)
