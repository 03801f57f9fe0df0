"""How much of the dbt project a run's build rebuilds (panro.transform.rebuild, decision 0032).

A night with nothing new published builds only the feed status and what depends on it, and leaves
the warehouse a whole build leaves. Anything published, replaced or held since the last successful
build brings every model back, and so do a failed build, any other dbt command, a work warehouse
put back from a copy, and a published zone without an index: the record of what the last build read
is written by a successful build only.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import load_contracts
from panro.freshness.status import FeedStatus, judge, write_status
from panro.lake.batches import INDEX_FILE
from panro.settings import DataDirs
from panro.transform.build import BUILT_FROM, DbtRun, run_dbt
from panro.transform.rebuild import Scope, build_for_run
from tests.support.published import (
    M,
    dashed,
    index_published,
    warehouse_rows,
    warehouse_snapshot,
    write_published,
    write_small_delivery,
)

pytestmark = pytest.mark.slow(minutes=2)

LATE = "KDEAL_ORDER_20230511.csv"
# why a build built what it built (the run's progress line ends with it)
FIRST = "in full: the first build of this work folder"
CHANGED = "every model: batches published, replaced or held since the last build"
NO_RECORD = "every model: the last dbt command was not a successful build"
QUIET = "only the feed status and what depends on it: nothing new published since the last build"


def _order(no: str) -> dict:
    return {"주문번호": no, "사업자등록번호": dashed(M[6]), "주문일시": "2023-05-11 10:00:00", "주문금액": "9,000",
            "할인금액": "0", "쿠폰번호": None, "주문상태": "결제완료"}


def _night(dirs: DataDirs, run_date: dt.date) -> None:
    """The feed status a run writes before its build: every feed last delivered 2023-05-10, as of `run_date`."""
    last = dt.date(2023, 5, 10)
    write_status(dirs, [FeedStatus(c.partner, c.feed, c.freshness.cadence, c.freshness.overdue_after_days,
                                   c.figures, last, None, 0, run_date, *judge(c, last, run_date))
                        for c in load_contracts()])


def _delivered(root: Path, name: str) -> DataDirs:
    dirs = DataDirs.from_env(root / name)
    write_small_delivery(dirs)
    index_published(dirs)
    return dirs


def _built(build: tuple[DbtRun, Scope], why: str) -> set[str]:
    """The models a run's build built, after checking that it succeeded and says `why` it built them."""
    run, scope = build
    assert run.success, run.summary()
    assert why in scope.reason, scope.reason
    return {str(r["name"]) for r in run.results if r["resource_type"] == "model"}


def test_a_night_with_nothing_new_builds_only_the_status_and_leaves_what_a_whole_build_leaves(tmp_path: Path) -> None:
    night = _delivered(tmp_path, "night")
    _night(night, dt.date(2023, 5, 11))
    whole_models = _built(build_for_run(night), FIRST)
    assert {"stg_yogiyo__orders", "mart_daily_sales", "mart_feed_status"} <= whole_models
    fresh = warehouse_rows(night.work_warehouse, "marts.mart_feed_status")

    _night(night, dt.date(2023, 6, 30))          # weeks later, nothing delivered since: feeds overdue
    quiet = build_for_run(night)
    assert _built(quiet, QUIET) == {"stg_panro__feed_status", "int_partner_figures_completeness", "mart_feed_status",
                                    "mart_festival_sales", "mart_program_kpis", "mart_support_outcomes"}
    assert quiet[0].nodes < 40                    # and their data tests
    overdue = warehouse_rows(night.work_warehouse, "marts.mart_feed_status")
    assert overdue != fresh and "overdue" in {v for row in overdue for v in row}

    whole = _delivered(tmp_path, "whole")         # the same zone and status, built in one whole build
    _night(whole, dt.date(2023, 6, 30))
    assert len(_built(build_for_run(whole), FIRST)) == len(whole_models)
    assert warehouse_snapshot(night.work_warehouse) == warehouse_snapshot(whole.work_warehouse)


def test_a_publication_a_hold_a_restored_warehouse_another_command_or_no_index_build_it_all(tmp_path: Path) -> None:
    dirs = _delivered(tmp_path, "data")
    everything = _built(build_for_run(dirs), FIRST)
    backup = tmp_path / "backup.duckdb"
    shutil.copy2(dirs.work_warehouse, backup)

    write_published(dirs, "kt/kdeal_orders", LATE, [_order("O9")])
    index_published(dirs)                         # the gate published a late file
    assert _built(build_for_run(dirs), CHANGED) == everything
    assert "O9" in {r[0] for r in warehouse_rows(dirs.work_warehouse, "staging.stg_kt__kdeal_orders")}

    shutil.copy2(backup, dirs.work_warehouse)     # an operator puts back the warehouse of a night before
    assert _built(build_for_run(dirs), "the work warehouse is not the one the last build left") == everything
    assert "O9" in {r[0] for r in warehouse_rows(dirs.work_warehouse, "staging.stg_kt__kdeal_orders")}

    index_published(dirs, leave_out=_batches_in(_late_file(dirs)))   # an operator held it back
    assert _built(build_for_run(dirs), CHANGED) == everything
    assert "O9" not in {r[0] for r in warehouse_rows(dirs.work_warehouse, "staging.stg_kt__kdeal_orders")}

    assert (dirs.work / BUILT_FROM).exists()
    assert run_dbt(dirs, "run", select="mart_daily_sales").success   # any other dbt command
    assert not (dirs.work / BUILT_FROM).exists()
    assert _built(build_for_run(dirs), NO_RECORD) == everything

    (dirs.published / INDEX_FILE).unlink()        # staging scans the zone: nothing says what changed
    assert _built(build_for_run(dirs), "the published zone has no index") == everything
    assert not (dirs.work / BUILT_FROM).exists()


def test_after_a_failed_build_the_zone_it_started_from_is_built_whole_again(tmp_path: Path) -> None:
    """The trap: a build that failed had written some of a bad batch's rows; holding the batch gives
    back the index of the last good build, and only a whole build takes those rows out again."""
    dirs = _delivered(tmp_path, "data")
    everything = _built(build_for_run(dirs), FIRST)
    good = warehouse_snapshot(dirs.work_warehouse)

    write_published(dirs, "kt/kdeal_orders", LATE, [_order("O9"), _order("O9")])   # one order twice
    index_published(dirs)
    failed, _ = build_for_run(dirs)
    assert not failed.success
    assert not (dirs.work / BUILT_FROM).exists()
    index_published(dirs, leave_out=_batches_in(_late_file(dirs)))

    assert _built(build_for_run(dirs), NO_RECORD) == everything
    assert warehouse_snapshot(dirs.work_warehouse) == good


def _late_file(dirs: DataDirs) -> Path:
    (path,) = (dirs.published / "kt" / "kdeal_orders").glob(f"{LATE}*.parquet")
    return path


def _batches_in(path: Path) -> list[str]:
    return sorted(set(pq.read_table(path, columns=["_batch_id"]).column("_batch_id").to_pylist()))
