"""Selection: the run's dates, plus late and corrected files up to max(dates); later files wait."""

from __future__ import annotations

import datetime as dt

import pytest

from panro.extract import extract
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.landing import SAMPLES, deliver

D = dt.date(2023, 5, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def _outcomes(report) -> dict[tuple[str, dt.date | None], str]:
    return {(f.feed_name, f.business_date): f.outcome for f in report.files}


def test_dates_plus_late_files_and_later_files_wait(dirs: DataDirs) -> None:
    for n in (-2, -1, 0, 1):
        deliver(dirs, "yogiyo/orders", day(n))
    deliver(dirs, "zigzag/sales", day(1))

    first = extract(dirs, [day(-1)], today=day(5))

    # day -2 is new and dated before max(dates): taken; days 0 and 1 wait for their run
    assert _outcomes(first) == {("yogiyo/orders", day(-2)): "extracted", ("yogiyo/orders", day(-1)): "extracted"}
    assert first.deferred == 3

    deliver(dirs, "kt/kdeal_orders", day(-30))                                   # very late
    deliver(dirs, "yogiyo/orders", day(-2), SAMPLES["yogiyo/orders"].rows[:1])   # corrected
    second = extract(dirs, [day(0)], today=day(5))

    assert _outcomes(second) == {
        ("kt/kdeal_orders", day(-30)): "extracted",
        ("yogiyo/orders", day(-2)): "extracted",
        ("yogiyo/orders", day(0)): "extracted",
    }  # day -1 is unchanged and not asked for: not even mentioned
    assert second.deferred == 2
    with Ledger(dirs.ledger_path) as ledger:
        assert len(ledger.versions("yogiyo", "orders", SAMPLES["yogiyo/orders"].file_name(day(-2)))) == 2


def test_a_date_asked_for_again_reports_its_files_unchanged(dirs: DataDirs) -> None:
    deliver(dirs, "kakao/talkchannel", D)
    extract(dirs, [D], today=day(1))
    report = extract(dirs, [D], today=day(1))
    assert _outcomes(report) == {("kakao/talkchannel", D): "unchanged"}
    assert report.totals()["rows"] == 0


def test_a_backfill_range_takes_its_dates(dirs: DataDirs) -> None:
    for n in range(5):
        deliver(dirs, "skplanet/okcashback_promo", day(n))
    report = extract(dirs, [day(1), day(2), day(3)], today=day(9))
    assert sorted(f.business_date for f in report.extracted) == [day(0), day(1), day(2), day(3)]
    assert report.deferred == 1


def test_no_dates_means_every_file(dirs: DataDirs) -> None:
    for n in (-100, 0, 3):
        deliver(dirs, "zigzag/coupons", day(n))
    report = extract(dirs, None, today=day(3))
    assert len(report.extracted) == 3 and report.deferred == 0
    assert extract(dirs, None, today=day(3)).totals()["unchanged"] == 3


def test_today_defaults_to_korea(dirs: DataDirs) -> None:
    kst_today = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()
    deliver(dirs, "yogiyo/orders", kst_today)
    deliver(dirs, "yogiyo/orders", kst_today + dt.timedelta(days=2))
    report = extract(dirs)
    assert {f.business_date: f.outcome for f in report.files} == {
        kst_today: "extracted", kst_today + dt.timedelta(days=2): "failed"}


def test_an_empty_date_list_is_a_mistake(dirs: DataDirs) -> None:
    with pytest.raises(ValueError, match="no dates"):
        extract(dirs, [], today=D)


def test_the_callers_ledger_is_used_and_left_open(dirs: DataDirs) -> None:
    deliver(dirs, "yogiyo/orders", D)
    with Ledger(dirs.ledger_path) as ledger:
        report = extract(dirs, [D], today=day(1), ledger=ledger)
        [batch] = ledger.batches()
        assert batch.batch_id == report.extracted[0].batch_id
