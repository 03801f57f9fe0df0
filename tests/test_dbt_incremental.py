"""Incremental builds: re-runs, re-deliveries and late files never double count, and always equal a
full refresh (architecture.md, "The batch-version rule").

Staging tables and the large intermediate facts (sales records, coupon events) are incremental by
published batch: a run reads only batches the table does not hold yet, deletes rows of batches no
longer published, and replaces a re-delivered file's rows (delete by `_source_file`, insert).
Each scenario compares every table of staging, intermediate and marts with a full refresh, once
with the published zone's index (as the gate keeps it: staging reads the files of new batches only)
and once without (a bare dbt call on files put there by hand: staging scans every published file).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from panro.domain.contracts import contract_for
from panro.lake.batches import INDEX_FILE
from panro.settings import DataDirs
from panro.transform.build import run_dbt
from panro.transform.rebuild import build_for_run, project_fingerprint
from tests.support.published import (
    M,
    dashed,
    ensure_schemas,
    index_published,
    remove_published,
    small_delivery_files,
    warehouse_rows,
    warehouse_snapshot,
    write_published,
    write_published_together,
    write_small_delivery,
)

MODELS_ONLY = "resource_type:test resource_type:unit_test"


def build(dirs: DataDirs, *, full_refresh: bool = False) -> None:
    """dbt build; where the published zone has an index, it is first brought up to date (the gate's job)."""
    if (dirs.published / INDEX_FILE).exists():
        index_published(dirs)
    run = run_dbt(dirs, "build", full_refresh=full_refresh, exclude=MODELS_ONLY)
    assert run.success, run.summary()


def incremental_then_full(dirs: DataDirs) -> tuple[dict, dict]:
    """Build incrementally, snapshot; rebuild everything (--full-refresh), snapshot."""
    build(dirs)
    incremental = warehouse_snapshot(dirs.work_warehouse)
    build(dirs, full_refresh=True)
    full = warehouse_snapshot(dirs.work_warehouse)
    return incremental, full


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def order(no: str, brn: str, at: str, amount: str, discount: str = "0", coupon: str | None = None,
          status: str = "결제완료") -> dict:
    return {"주문번호": no, "사업자등록번호": dashed(brn), "주문일시": at, "주문금액": amount,
            "할인금액": discount, "쿠폰번호": coupon, "주문상태": status}


def kt_festival_sales(path: Path) -> dict[str, int]:
    return {r[2]: r[7] for r in warehouse_rows(path, "marts.mart_festival_sales") if r[1] == "kt"}


@pytest.fixture(scope="module", params=["with the index", "without an index"])
def dirs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DataDirs:
    dirs = DataDirs.from_env(tmp_path_factory.mktemp("incremental") / "data")
    write_small_delivery(dirs)
    if request.param == "with the index":
        index_published(dirs)
    build(dirs)
    return dirs


def test_a_second_run_changes_nothing(dirs: DataDirs) -> None:
    before = warehouse_snapshot(dirs.work_warehouse)
    build(dirs)
    assert_same(warehouse_snapshot(dirs.work_warehouse), before)


def test_identical_redelivery_is_a_no_op(dirs: DataDirs) -> None:
    before = warehouse_snapshot(dirs.work_warehouse)
    rows = small_delivery_files()[("kt/kdeal_orders", "KDEAL_ORDER_20230505.csv")]
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230505.csv", rows)
    build(dirs)
    assert_same(warehouse_snapshot(dirs.work_warehouse), before)


def test_a_replaced_file_replaces_its_rows(dirs: DataDirs) -> None:
    # the corrected 05-05 K-deal file: O5 is 18,000 (not 15,000), O3 is gone, O6 is new
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230505.csv", [
        order("O4", M[4], "2023-05-05 11:00:00", "20,000", "2,000", "KC-2"),
        order("O5", M[5], "2023-05-05 12:00:00", "18,000"),
        order("O6", M[4], "2023-05-05 13:00:00", "7,000"),
    ])
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    # 52 (M4): O3 gone, O4 still cancelled, O6 new → 7,000; 41 (M5): 18,000 — not 15,000 + 18,000
    assert kt_festival_sales(dirs.work_warehouse) == {"52": 7_000, "41": 18_000}
    records = warehouse_rows(dirs.work_warehouse, "intermediate.int_sales_records_unioned")
    assert sum(r[0] == "kt" for r in records) == 2 + 3 + 1


def test_a_late_file_is_picked_up(dirs: DataDirs) -> None:
    # a cancellation of O6 arrives in a later file; and a new store snapshot day
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230509.csv", [
        order("O6", M[4], "2023-05-05 13:00:00", "7,000", status="취소")])
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    assert kt_festival_sales(dirs.work_warehouse) == {"41": 18_000}


def test_a_cancellation_nets_the_day_of_its_order_even_when_dated_otherwise(dirs: DataDirs) -> None:
    # O5 (ordered 05-05) is cancelled in the 05-10 file by a line carrying another 주문일시: the
    # day recomputed is the order's day, not the cancellation line's
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230510.csv", [
        order("O5", M[5], "2023-05-10 09:00:00", "18,000", status="취소")])
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    assert kt_festival_sales(dirs.work_warehouse) == {}


def test_a_file_replaced_by_an_empty_version_loses_its_rows(dirs: DataDirs) -> None:
    # 요기요 coupon events of 05-06 (Y2's cancel, Y3's expiry) re-delivered as a header-only file
    write_published(dirs, "yogiyo/coupons", "coupon_events_20230506.jsonl", [])
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    yogiyo = [r for r in warehouse_rows(dirs.work_warehouse, "marts.mart_coupon_redemption") if r[0] == "yogiyo"]
    assert [(r[5], r[6], r[7]) for r in yogiyo] == [(3, 2, 0)]  # Y2 stands redeemed, Y3 no longer expired


def test_a_withdrawn_file_loses_its_rows(dirs: DataDirs) -> None:
    remove_published(dirs, "zigzag/sales", "zigzag_sales_20230410.parquet")
    remove_published(dirs, "kt/kdeal_stores", "KDEAL_STORE_20230504.csv")
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    festival = {r[1]: r[10] for r in warehouse_rows(dirs.work_warehouse, "marts.mart_festival_sales")
                if r[1] == "zigzag"}
    assert festival == {"zigzag": 0}  # the baseline came from the withdrawn file


def test_a_store_mapped_to_another_merchant_takes_its_coupons_along(dirs: DataDirs) -> None:
    # a later 지그재그 sales file maps ZZ-002 to M1 (the latest delivery wins): coupon ZC2 is M1's now,
    # though none of its own records changed
    write_published(dirs, "zigzag/sales", "zigzag_sales_20230512.parquet", [
        {"store_id": "ZZ-002", "biz_reg_no": M[1], "sales_date": dt.date(2023, 5, 12), "orders": 1, "gmv_krw": 1000,
         "coupon_discount_krw": 0}])
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    coupons = {r[1]: r[5] for r in warehouse_rows(dirs.work_warehouse, "intermediate.int_coupons_resolved")
               if r[0] == "zigzag"}
    assert coupons == {"ZC1": M[9], "ZC2": M[1]}


def test_a_corrected_file_with_as_many_rows_per_day_is_recomputed(dirs: DataDirs) -> None:
    # 요기요 re-delivers 05-05 with M8's sales corrected: the same two rows, one day; only the file's
    # version tells the day changed
    write_published(dirs, "yogiyo/orders", "orders_daily_20230505.csv", [
        {"biz_reg_no": M[7], "order_date": "2023-05-05", "orders": "20", "gross_sales_krw": "250,000",
         "coupon_discount_krw": "3,000", "delivery_fee_krw": "3,000"},
        {"biz_reg_no": M[8], "order_date": "2023-05-05", "orders": "1", "gross_sales_krw": "12,000",
         "coupon_discount_krw": "0", "delivery_fee_krw": "3,000"},
    ])
    incremental, full = incremental_then_full(dirs)
    assert_same(incremental, full)
    days = {(r[1], str(r[2])): r[4] for r in warehouse_rows(dirs.work_warehouse, "intermediate.int_daily_sales_netted")
            if r[0] == "yogiyo"}
    assert days[(M[8], "2023-05-05")] == 12_000


def test_incremental_from_scratch_equals_one_full_build(tmp_path: Path) -> None:
    """Delivered day by day (one build per day) or all at once: the same warehouse."""
    files = small_delivery_files()
    daily = DataDirs.from_env(tmp_path / "daily")
    ensure_schemas(daily)
    index_published(daily)  # night by night as the pipeline does it, with the index
    by_day: dict[str, list] = {}
    for (feed, name), rows in files.items():
        by_day.setdefault(str(contract_for(feed).business_date(name)), []).append((feed, name, rows))
    for day in [*sorted(by_day)[:3], None]:  # three nights one by one, then the rest at once
        for d in sorted(by_day) if day is None else [day]:
            for feed, name, rows in by_day.pop(d, []):
                write_published(daily, feed, name, rows)
        build(daily)
    once = DataDirs.from_env(tmp_path / "once")
    write_small_delivery(once)
    build(once)
    assert_same(warehouse_snapshot(daily.work_warehouse), warehouse_snapshot(once.work_warehouse))


def test_a_run_after_the_dbt_project_changed_rebuilds_every_table(tmp_path: Path) -> None:
    """Tables written by an older version of the models (here: a staging table with a column the
    models no longer make) would fail an incremental build; a run's build rebuilds them in full."""
    dirs = DataDirs.from_env(tmp_path / "data")
    write_small_delivery(dirs)
    assert build_for_run(dirs)[0].success
    stamp = dirs.work / "built_with.fingerprint"
    assert stamp.read_text() == project_fingerprint()
    with duckdb.connect(str(dirs.work_warehouse)) as con:
        con.execute("alter table staging.stg_yogiyo__orders add column dropped_in_a_new_version varchar")
    assert not run_dbt(dirs, "build", exclude=MODELS_ONLY).success  # incremental: schema changed

    stamp.write_text("the fingerprint of an older project")
    run, scope = build_for_run(dirs)
    assert run.success, run.summary()
    assert scope.reason == "in full: the dbt project changed since the last build"
    assert stamp.read_text() == project_fingerprint()
    with duckdb.connect(str(dirs.work_warehouse)) as con:
        columns = {r[0] for r in con.execute("describe staging.stg_yogiyo__orders").fetchall()}
    assert "dropped_in_a_new_version" not in columns


def test_staging_reads_the_batches_the_index_lists(tmp_path: Path) -> None:
    """With an index, a nightly build takes the published batches from it, not from a scan of every
    file: a file the index does not list yet is not read, and is read once it is listed."""
    dirs = DataDirs.from_env(tmp_path / "data")
    write_small_delivery(dirs)
    index_published(dirs)
    assert run_dbt(dirs, "build", exclude=MODELS_ONLY).success
    late = [order("O9", M[6], "2023-05-11 10:00:00", "9,000")]
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230511.csv", late)

    assert run_dbt(dirs, "build", exclude=MODELS_ONLY).success     # the index is not brought up to date
    orders = warehouse_rows(dirs.work_warehouse, "staging.stg_kt__kdeal_orders")
    assert "O9" not in {r[0] for r in orders}

    index_published(dirs)
    assert run_dbt(dirs, "build", exclude=MODELS_ONLY).success
    orders = warehouse_rows(dirs.work_warehouse, "staging.stg_kt__kdeal_orders")
    assert [r[0] for r in orders].count("O9") == 1


def test_a_published_file_of_several_batches_counts_only_the_batches_the_index_lists(tmp_path: Path) -> None:
    """The gate publishes a raw file of several delivered files as it is (a link); a file among them
    replaced since by a newer version stays in it, and the index no longer lists it."""
    dirs = DataDirs.from_env(tmp_path / "data")
    write_small_delivery(dirs)
    files = small_delivery_files()
    for (feed, name) in list(files):
        if feed == "kt/kdeal_orders":
            remove_published(dirs, feed, name)
    orders = {name: rows for (feed, name), rows in files.items() if feed == "kt/kdeal_orders"}
    _, ids = write_published_together(dirs, "kt/kdeal_orders", orders)      # three files in one
    corrected = [order("O3", M[4], "2023-05-05 10:00:00", "31,000", "3,000", "KC-1")]
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230505.csv", corrected)  # its newer version
    index_published(dirs, leave_out=[ids["KDEAL_ORDER_20230505.csv"]])

    for full_refresh in (True, False):   # a full build; an incremental one that finds nothing new
        assert run_dbt(dirs, "build", full_refresh=full_refresh, exclude=MODELS_ONLY).success
        with duckdb.connect(str(dirs.work_warehouse), read_only=True) as con:
            rows = con.execute("select order_id, order_amount_krw, _source_file from staging.stg_kt__kdeal_orders "
                               "order by all").fetchall()
        assert rows == [("O1", 12000, "KDEAL_ORDER_20230410.csv"), ("O2", 8000, "KDEAL_ORDER_20230410.csv"),
                        ("O3", 31000, "KDEAL_ORDER_20230505.csv"), ("O4", 20000, "KDEAL_ORDER_20230507.csv")]
