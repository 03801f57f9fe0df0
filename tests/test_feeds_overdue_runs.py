"""A partner that goes quiet is told, not discovered (issue 27), through the real command line and a real
Prefect server.

Three weeks of generated feeds (2023-05-08 … 05-28, the 동행축제 DH2023-05 ending on 05-28), in which
요기요's daily sales stop a week before the last date: its last file is of 05-21. One 지그재그 coupon
file comes with a column the contract does not know. The backfill of the three weeks, then nightlies
after it, show what the issue asks for.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from panro.domain.contracts import load_contracts
from panro.generate import generate
from tests.support.webhook import Webhook

pytestmark = pytest.mark.slow(minutes=8)

PANRO = Path(sys.executable).parent / "panro"
START, END = dt.date(2023, 5, 8), dt.date(2023, 5, 28)
QUIET = ("yogiyo", "orders")
LAST = dt.date(2023, 5, 21)           # the quiet feed's last file
DRIFTED = "zigzag_coupons_20230520.csv"

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def late_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """요기요's daily sales after 05-21, which it sends late (the recovery night)."""
    return tmp_path_factory.mktemp("late")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory, late_files: Path) -> Path:
    root = generate(tmp_path_factory.mktemp("quiet") / "landing", start=START, end=END, scale=0.05).out
    for path in sorted((root / "yogiyo" / "orders").iterdir()):
        if path.name > f"orders_daily_{LAST:%Y%m%d}.csv":
            shutil.move(path, late_files / path.name)
    coupons = root / "zigzag" / "coupons" / DRIFTED   # a new column at the end of every line
    lines = coupons.read_text(encoding="utf-8").splitlines()
    coupons.write_text("\n".join([lines[0] + ",promo_note"] + [ln + ",봄" for ln in lines[1:]]) + "\n",
                       encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def hook() -> Any:
    with Webhook() as h:
        yield h


@pytest.fixture(scope="module")
def run_panro(prefect_api_url: str, landing: Path, hook: Webhook) -> Runner:
    def run(data_dir: Path, *args: str, landing: Path = landing) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "PANRO_DATA_DIR": str(data_dir),
               "PANRO_LANDING": str(landing), "PANRO_NOTIFY_WEBHOOK": hook.url}
        return subprocess.run([str(PANRO), *args], env=env, capture_output=True, text=True, timeout=900)
    return run


def _received(hook: Webhook, since: int) -> list[dict]:
    time.sleep(0.5)   # the server thread records the last POST
    return hook.received[since:]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory, run_panro: Runner, hook: Webhook) -> dict[str, Any]:
    """The backfill of the three weeks, its output and notifications, and a copy of its data directory."""
    data_dir = tmp_path_factory.mktemp("backfill") / "data"
    seen = len(hook.received)
    result = run_panro(data_dir, "backfill", "--start", str(START), "--end", str(END))
    assert result.returncode == 0, result.stderr[-3000:]
    copy = tmp_path_factory.mktemp("copy") / "data"
    shutil.copytree(data_dir, copy, symlinks=True)
    return {"data_dir": data_dir, "copy": copy, "result": result, "notified": _received(hook, seen)}


@pytest.fixture(scope="module")
def second_night(backfilled: dict[str, Any], run_panro: Runner, hook: Webhook) -> dict[str, Any]:
    """The next night, 05-29: no new files at all."""
    seen = len(hook.received)
    result = run_panro(backfilled["data_dir"], "run", "--date", "2023-05-29")
    return {"result": result, "notified": _received(hook, seen),
            "status": _feed_status(backfilled["data_dir"])}


@pytest.fixture(scope="module")
def recovered(second_night: dict[str, Any], backfilled: dict[str, Any], landing: Path, late_files: Path,
              run_panro: Runner, hook: Webhook, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The night after, 05-30: 요기요 delivers its late files (05-22 … 05-28)."""
    later = tmp_path_factory.mktemp("later") / "landing"
    shutil.copytree(landing, later)             # the files as they were, and the late ones
    for path in late_files.iterdir():
        shutil.copy(path, later / "yogiyo" / "orders" / path.name)
    seen = len(hook.received)
    result = run_panro(backfilled["data_dir"], "run", "--date", "2023-05-30", landing=later)
    return {"result": result, "notified": _received(hook, seen), "status": _feed_status(backfilled["data_dir"])}


def _query(data_dir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "warehouse" / "panro.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _feed_status(data_dir: Path) -> dict[tuple[str, str], tuple]:
    rows = _query(data_dir, "select partner_code, feed, status, last_business_date, days_since_last, "
                            "overdue_after_days, held_back_batches from marts.mart_feed_status")
    return {(r[0], r[1]): r[2:] for r in rows}


DAILY = sorted((c.partner, c.feed) for c in load_contracts() if c.freshness.cadence == "daily")


# -- the backfill ------------------------------------------------------------------------------------

def test_the_quiet_feed_is_overdue_with_its_last_business_date_and_every_other_daily_feed_fresh(
        backfilled: dict[str, Any]) -> None:
    status = _feed_status(backfilled["data_dir"])
    assert set(status) == {(c.partner, c.feed) for c in load_contracts()}
    assert status[QUIET] == ("overdue", LAST, 7, 2, 0)
    for feed in DAILY:
        if feed != QUIET:
            assert status[feed][:3] == ("fresh", END, 0), feed


def test_festival_and_kpi_figures_of_that_partner_are_marked_incomplete_through_its_last_date(
        backfilled: dict[str, Any]) -> None:
    data_dir = backfilled["data_dir"]
    festival = _query(data_dir, "select partner_code, data_complete_through, period_complete, count(*) "
                                "from marts.mart_festival_sales where festival_code = 'DH2023-05' group by all")
    assert {r[0]: r[1:3] for r in festival} == {
        "baemin": (END, True), "kt": (END, True), "yogiyo": (LAST, False), "zigzag": (END, True)}
    kpis = {(r[0], r[1]): r[2:] for r in _query(
        data_dir, "select partner_code, kpi_code, data_complete_through, period_complete "
                  "from marts.mart_program_kpis where year = 2023")}
    for kpi in ("festival_sales_krw", "avg_sales_growth_multiple"):
        assert kpis[("yogiyo", kpi)] == (LAST, False)
        assert kpis[("kt", kpi)][0] == kpis[("zigzag", kpi)][0] == END
    assert kpis[("ALL", "festival_sales_krw")] == (LAST, False)      # the programme's sum is short too
    assert kpis[("yogiyo", "merchants_reached")][0] == END           # its support feed kept delivering
    outcomes = {r[0]: r[1] for r in _query(data_dir, "select distinct partner_code, data_complete_through "
                                                     "from marts.mart_support_outcomes")}
    assert outcomes.get("yogiyo", LAST) == LAST and set(outcomes.values()) <= {LAST, END}


def test_the_run_tells_of_it_without_failing(backfilled: dict[str, Any]) -> None:
    err = backfilled["result"].stderr
    assert backfilled["result"].returncode == 0                      # nothing was held back
    assert f"overdue: yogiyo/orders — no published file since {LAST}: 7 days before {END}" in err
    assert "incomplete: 요기요 sales complete through 05-21" in err
    report = (backfilled["data_dir"] / "reports" / "latest.html").read_text(encoding="utf-8")
    assert report.index("Overdue feeds (1)") < report.index("Programme KPIs")
    assert "요기요 sales complete through 05-21" in report


def test_one_notification_names_the_quiet_feed(backfilled: dict[str, Any]) -> None:
    assert [m["event"] for m in backfilled["notified"]] == ["feeds_overdue"]
    [message] = backfilled["notified"]
    assert [(f["partner"], f["feed"], f["last_business_date"], f["days_since_last"]) for f in message["overdue"]] == [
        ("yogiyo", "orders", str(LAST), 7)]


def _run_id(data_dir: Path) -> str:
    latest = max((data_dir / "reports").glob("run-*.json"))
    return json.loads(latest.read_text(encoding="utf-8"))["run_id"]


def test_the_prefect_artifact_and_event_say_so(backfilled: dict[str, Any], prefect_api_url: str) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    run_id = _run_id(backfilled["data_dir"])
    with get_client(sync_client=True) as client:
        artifacts = {a.key: a for a in client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))}
        summary = str(artifacts["panro-summary"].data)
        assert summary.index("## Overdue feeds (1)") < summary.index("## Programme KPIs 2023")
        assert "요기요 sales complete through 05-21" in summary
        assert "zigzag/coupons zigzag_coupons_20230520.csv — new column(s) ['promo_note']" in summary
        table = artifacts["panro-feeds"].data
        feeds = {r["feed"]: r["status"] for r in (json.loads(table) if isinstance(table, str) else table)}
        assert feeds["yogiyo/orders"] == "overdue" and feeds["zigzag/sales"] == "fresh"

        events_filter = EventFilter(event=EventNameFilter(prefix=["panro.feed."]),
                                    related=EventRelatedFilter(id=[f"prefect.flow-run.{run_id}"]))
        deadline, events = time.monotonic() + 30, []
        while time.monotonic() < deadline and not events:
            events = client.read_events(filter=events_filter, limit=50).events   # the server allows 50
            time.sleep(1)
    assert [(e.event, e.resource.id) for e in events] == [("panro.feed.overdue", "panro.feed.yogiyo.orders")]
    assert events[0].payload["last_business_date"] == str(LAST)


def test_a_new_column_is_named_in_the_output_and_kept_out_of_the_marts(backfilled: dict[str, Any]) -> None:
    err = backfilled["result"].stderr
    assert (f"new column: zigzag/coupons {DRIFTED} — new column(s) ['promo_note']: kept in the raw zone, "
            "not published") in err
    data_dir = backfilled["data_dir"]
    con = duckdb.connect(str(data_dir / "state" / "ledger.duckdb"), read_only=True)
    try:
        raw_path, status = con.execute("select raw_path, status from batches where file_name = ?",
                                       [DRIFTED]).fetchone()
    finally:
        con.close()
    assert status == "published"
    kept = duckdb.sql(f"select distinct promo_note from read_parquet('{raw_path}') "
                      f"where _source_file = '{DRIFTED}'").fetchall()
    assert kept == [("봄",)]
    columns = {r[0] for r in _query(data_dir, "select column_name from information_schema.columns "
                                              "where table_schema = 'marts'")}
    assert "promo_note" not in columns


# -- the nights after ----------------------------------------------------------------------------------

def test_a_second_nightly_with_no_new_files_sends_nothing(second_night: dict[str, Any]) -> None:
    assert second_night["result"].returncode == 0, second_night["result"].stderr[-3000:]
    assert second_night["notified"] == []
    assert second_night["status"][QUIET] == ("overdue", LAST, 8, 2, 0)
    err = second_night["result"].stderr
    assert "overdue: yogiyo/orders" in err                              # still in the run's output
    assert [ln for ln in err.splitlines() if ln.startswith("incomplete:")] == [
        "incomplete: 요기요 sales complete through 05-21"]             # the others' lag of a day is no news
    for feed in DAILY:
        if feed != QUIET:
            assert second_night["status"][feed][:3] == ("fresh", END, 1), feed


def test_late_files_make_it_fresh_again_and_that_is_told_once(recovered: dict[str, Any]) -> None:
    assert recovered["result"].returncode == 0, recovered["result"].stderr[-3000:]
    assert recovered["status"][QUIET][:3] == ("fresh", END, 2)
    assert [m["event"] for m in recovered["notified"]] == ["feeds_recovered"]
    assert [(f["partner"], f["feed"]) for f in recovered["notified"][0]["recovered"]] == [QUIET]
    assert "overdue:" not in recovered["result"].stderr


def test_fail_on_overdue_exits_2_and_fails_the_flow_run(backfilled: dict[str, Any], run_panro: Runner,
                                                      hook: Webhook, prefect_api_url: str) -> None:
    from prefect import get_client

    seen = len(hook.received)
    result = run_panro(backfilled["copy"], "run", "--date", "2023-05-29", "--fail-on-overdue")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "overdue: yogiyo/orders" in result.stderr and "failed and published nothing" not in result.stderr
    assert _received(hook, seen) == []                 # already announced by the backfill
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(_run_id(backfilled["copy"])).state
    assert state.is_failed() and "yogiyo/orders (last 2023-05-21)" in (state.message or "")
    assert _feed_status(backfilled["copy"])[QUIET][0] == "overdue"      # published all the same
