"""Business dates are counted in Korea's time (panro.domain.kst): the nightly's default date is
yesterday there, and a file dated after today there is early, whatever the machine's clock zone."""

from __future__ import annotations

import datetime as dt

from panro.domain.kst import today_kst, yesterday_kst


def test_the_day_turns_at_midnight_in_seoul_not_at_midnight_utc() -> None:
    before = dt.datetime(2023, 5, 1, 14, 59, tzinfo=dt.UTC)     # 23:59 on 1 May in Seoul
    after = dt.datetime(2023, 5, 1, 15, 0, tzinfo=dt.UTC)       # 00:00 on 2 May in Seoul
    assert (today_kst(before), yesterday_kst(before)) == (dt.date(2023, 5, 1), dt.date(2023, 4, 30))
    assert (today_kst(after), yesterday_kst(after)) == (dt.date(2023, 5, 2), dt.date(2023, 5, 1))


def test_a_clock_in_another_zone_gives_the_same_day() -> None:
    new_york = dt.timezone(dt.timedelta(hours=-4))
    assert today_kst(dt.datetime(2023, 5, 1, 11, 0, tzinfo=new_york)) == dt.date(2023, 5, 2)
