"""How runs behave for the people who depend on them (issue 5), through the real command line.

Each test runs `panro` as a user does, against a real Prefect server on loopback, on a week of generated
feeds: the history is 2023-04-27 … 2023-05-02 and the night under test is 2023-05-03.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.support.marts import marts_of
from tests.support.webhook import Webhook

pytestmark = pytest.mark.slow(minutes=10)

PANRO = Path(sys.executable).parent / "panro"
HISTORY = ("2023-04-27", "2023-05-02")
NIGHT = "2023-05-03"

Runner = Callable[..., subprocess.CompletedProcess[str]]


def parquet_marts_of(data_dir: Path) -> dict[str, list[tuple]]:
    return {p.stem: sorted((tuple(r.values()) for r in pq.read_table(p).to_pylist()), key=repr)
            for p in sorted((data_dir / "marts").glob("*.parquet"))}


@pytest.fixture(scope="module")
def run_panro(prefect_api_url: str, small_landing: Path) -> Runner:
    def run(data_dir: Path, *args: str, landing: Path = small_landing, **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "PANRO_DATA_DIR": str(data_dir),
                    "PANRO_LANDING": str(landing), **env}
        return subprocess.run([str(PANRO), *args], env=full_env, capture_output=True, text=True, timeout=900)
    return run


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, run_panro: Runner) -> Path:
    """A data directory that has run the history: the state every night under test starts from."""
    data_dir = tmp_path_factory.mktemp("history") / "data"
    result = run_panro(data_dir, "backfill", "--start", HISTORY[0], "--end", HISTORY[1])
    assert result.returncode == 0, result.stderr[-3000:]
    return data_dir


@pytest.fixture(scope="module")
def clean_night(tmp_path_factory: pytest.TempPathFactory, history: Path, run_panro: Runner) -> dict:
    """The marts after an undisturbed night: what every disturbed night must end up with."""
    data_dir = tmp_path_factory.mktemp("clean") / "data"
    shutil.copytree(history, data_dir, symlinks=True)
    result = run_panro(data_dir, "run", "--date", NIGHT)
    assert result.returncode == 0, result.stderr[-3000:]
    return marts_of(data_dir / "warehouse" / "panro.duckdb")


@pytest.fixture
def data_dir(tmp_path: Path, history: Path) -> Path:
    """A private copy of the history's data directory."""
    target = tmp_path / "data"
    shutil.copytree(history, target, symlinks=True)
    return target


def test_the_same_night_run_twice_gives_identical_marts(data_dir: Path, run_panro: Runner, clean_night) -> None:
    first = run_panro(data_dir, "run", "--date", NIGHT)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_panro(data_dir, "run", "--date", NIGHT)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "0 batches" in second.stdout  # nothing new arrived: nothing extracted, audited or added
    assert "only the feed status and what depends on it: nothing new published since the last build" in second.stderr
    assert marts_of(data_dir / "warehouse" / "panro.duckdb") == clean_night


def test_a_reader_holding_the_warehouse_open_blocks_nothing_and_sees_one_version(
        data_dir: Path, run_panro: Runner, clean_night) -> None:
    warehouse = data_dir / "warehouse" / "panro.duckdb"
    before = marts_of(warehouse)
    reader = duckdb.connect(str(warehouse), read_only=True)
    try:
        result = run_panro(data_dir, "run", "--date", NIGHT)
        assert result.returncode == 0, result.stderr[-3000:]
        held = {n: sorted(map(tuple, reader.execute(f"select * from marts.{n}").fetchall()), key=repr)
                for n in before}
    finally:
        reader.close()
    assert held == before                         # the open connection kept yesterday's complete marts
    assert marts_of(warehouse) == clean_night     # a new connection sees today's complete marts
    assert clean_night != before


@pytest.mark.parametrize("kill_at", ["extract@0.2", "audit@0.3", "transform@2", "publish.swap"])
def test_a_run_killed_in_any_phase_leaves_the_publication_intact_and_the_next_run_completes(
        kill_at: str, data_dir: Path, run_panro: Runner, clean_night) -> None:
    warehouse = data_dir / "warehouse" / "panro.duckdb"
    before = marts_of(warehouse)
    killed = run_panro(data_dir, "run", "--date", NIGHT, PANRO_KILL_AT=kill_at)
    assert killed.returncode == -9, f"expected SIGKILL, got {killed.returncode}: {killed.stderr[-2000:]}"

    after_kill = marts_of(warehouse)
    assert after_kill in (before, clean_night), "the warehouse must be yesterday's or today's, never a mix"
    if kill_at != "publish.swap":
        assert after_kill == before
    parquet = parquet_marts_of(data_dir)
    assert set(parquet) == set(before)            # every Parquet mart is there and readable

    rerun = run_panro(data_dir, "run", "--date", NIGHT)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert marts_of(warehouse) == clean_night


def test_a_failed_run_exits_1_and_leaves_the_previous_publication(data_dir: Path, run_panro: Runner) -> None:
    """Someone holds the pipeline's private work warehouse open for writing: dbt cannot build."""
    warehouse = data_dir / "warehouse" / "panro.duckdb"
    before = marts_of(warehouse)
    blocker = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                                f"c = duckdb.connect({str(data_dir / 'work' / 'panro_work.duckdb')!r}); "
                                "print('holding', flush=True); time.sleep(600)"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert blocker.stdout.readline().strip() == "holding"
        result = run_panro(data_dir, "run", "--date", NIGHT)
    finally:
        blocker.kill()
        blocker.wait()
    assert result.returncode == 1
    assert "published nothing new" in result.stderr
    assert marts_of(warehouse) == before


def test_a_quarantined_batch_exits_2_names_the_file_notifies_and_keeps_it_out_of_the_marts(
        tmp_path: Path, data_dir: Path, run_panro: Runner, small_landing: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    bad = landing / "yogiyo" / "orders" / "orders_daily_20230503.csv"
    rows = list(csv.DictReader(io.StringIO(bad.read_text(encoding="utf-8"))))
    for r in rows:
        r["gross_sales_krw"] = str(-int(r["gross_sales_krw"]))   # a broken export: every amount negative
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    bad.write_text(out.getvalue(), encoding="utf-8")

    with Webhook() as hook:
        result = run_panro(data_dir, "run", "--date", NIGHT, landing=landing, PANRO_NOTIFY_WEBHOOK=hook.url)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "held back: yogiyo/orders orders_daily_20230503.csv (quarantined):" in result.stderr
    assert [m["event"] for m in hook.received] == ["batches_held_back"]
    assert [(h["partner"], h["feed"], h["file"]) for h in hook.received[0]["held_back"]] == [
        ("yogiyo", "orders", "orders_daily_20230503.csv")]

    con = duckdb.connect(str(data_dir / "warehouse" / "panro.duckdb"), read_only=True)
    try:
        negative = con.execute("select count(*) from marts.mart_festival_sales where sales_krw < 0").fetchone()[0]
    finally:
        con.close()
    assert negative == 0
    listing = run_panro(data_dir, "quarantine", "list", landing=landing)
    assert listing.returncode == 0
    assert "orders_daily_20230503.csv" in listing.stdout
