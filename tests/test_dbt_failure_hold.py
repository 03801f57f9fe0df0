"""A bad row or a failing dbt data test never blocks the programme for more than a night (issue 22).

Through the real command line on a few generated days: a run with several files of a feed, one of
which loses a row to the gate, publishes everything else and names the row; a dbt data test that
fails on the night's data names the test and the batches whose rows it found, an operator holds
them back, the next night publishes everything else, and a corrected re-delivery brings the file
back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panro.generate import generate

pytestmark = pytest.mark.slow(minutes=20)

PANRO = Path(sys.executable).parent / "panro"
DAYS = (dt.date(2023, 5, 1), dt.date(2023, 5, 3))
NEXT = dt.date(2023, 5, 4)


def _panro(data_dir: Path, landing: Path, api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_API_URL": api_url, "PANRO_DATA_DIR": str(data_dir), "PANRO_LANDING": str(landing)}
    return subprocess.run([str(PANRO), *args], env=env, capture_output=True, text=True, timeout=900)


def _staged(data_dir: Path, model: str) -> dict[str, int]:
    con = duckdb.connect(str(data_dir / "work" / "panro_work.duckdb"), read_only=True)
    try:
        return dict(con.execute(f"select _source_file, count(*) from staging.{model} group by 1").fetchall())
    finally:
        con.close()


def _published_at(data_dir: Path) -> str:
    con = duckdb.connect(str(data_dir / "warehouse" / "panro.duckdb"), read_only=True)
    try:
        return str(con.execute("select published_at from marts._publication").fetchone()[0])
    finally:
        con.close()


def _last_report(data_dir: Path) -> dict:
    return json.loads(sorted((data_dir / "reports").glob("run-*.json"))[-1].read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three days of every feed (small scale), and the fourth day apart: (landing, the fourth's landing)."""
    root = tmp_path_factory.mktemp("delivered")
    generate(root / "landing", start=DAYS[0], end=DAYS[1], scale=0.05)
    generate(root / "next", start=NEXT, end=NEXT, scale=0.05)
    return root / "landing", root / "next"


def test_one_bad_row_among_several_files_of_a_feed_is_rejected_and_the_rest_published(
        tmp_path: Path, delivered: tuple[Path, Path], prefect_api_url: str) -> None:
    """The issue's reproduction: one BRN off by its check digit in the middle file of three."""
    landing = tmp_path / "landing"
    subprocess.run(["cp", "-r", str(delivered[0]), str(landing)], check=True)
    orders = landing / "yogiyo" / "orders" / "orders_daily_20230502.csv"
    lines = orders.read_text(encoding="utf-8").splitlines(keepends=True)
    delivered_rows = len(lines) - 1
    lines[1] = "1234567890" + lines[1][lines[1].index(","):]
    orders.write_text("".join(lines), encoding="utf-8")
    data_dir = tmp_path / "data"

    result = _panro(data_dir, landing, prefect_api_url, "backfill", "--start", str(DAYS[0]), "--end", str(DAYS[1]))

    assert result.returncode == 0, result.stderr[-3000:]
    assert "rows rejected: yogiyo/orders orders_daily_20230502.csv" in result.stderr
    assert "row 1: '1234567890'" in result.stderr
    staged = _staged(data_dir, "stg_yogiyo__orders")
    assert staged["orders_daily_20230502.csv"] == delivered_rows - 1
    assert len(staged) == 3
    batch = next(b for b in _last_report(data_dir)["batches"] if b["file_name"] == "orders_daily_20230502.csv")
    assert (batch["rows_rejected"], batch["rows_published"]) == (1, delivered_rows - 1)
    assert "row 1: '1234567890'" in batch["reason"]
    assert "orders_daily_20230502.csv" in (data_dir / "reports" / "latest.html").read_text(encoding="utf-8")

    following = _panro(data_dir, landing, prefect_api_url, "run", "--date", str(NEXT))
    assert following.returncode == 0, following.stderr[-3000:]
    assert _staged(data_dir, "stg_yogiyo__orders") == staged


def test_a_failing_dbt_test_names_its_batches_and_holding_them_lets_the_next_night_publish(
        tmp_path: Path, delivered: tuple[Path, Path], prefect_api_url: str) -> None:
    landing, data_dir = tmp_path / "landing", tmp_path / "data"
    subprocess.run(["cp", "-r", str(delivered[0]), str(landing)], check=True)
    assert _panro(data_dir, landing, prefect_api_url, "backfill", "--start", str(DAYS[0]),
                  "--end", str(DAYS[1])).returncode == 0

    # 지그재그 sends the fourth day with every row twice: the gate holds it (its key is not unique) …
    name = "zigzag_sales_20230504.parquet"
    good = pq.read_table(delivered[1] / "zigzag" / "sales" / name)
    pq.write_table(pa.concat_tables([good, good]), landing / "zigzag" / "sales" / name)
    held = _panro(data_dir, landing, prefect_api_url, "run", "--date", str(NEXT))
    assert held.returncode == 2, held.stderr[-3000:]
    before = _published_at(data_dir)
    # … and an operator accepts it as delivered, on the partner's word
    qid = next(line.split()[0] for line in _panro(data_dir, landing, prefect_api_url, "quarantine", "list")
               .stdout.splitlines() if line.startswith(name))
    accepted = _panro(data_dir, landing, prefect_api_url, "quarantine", "release", qid, "--accept",
                      "--reason", "partner says the orders were split", "--by", "ops")
    assert accepted.returncode == 0, accepted.stderr

    # the night's dbt test finds the doubled rows: the run fails, naming test, partner, file and batch
    failed = _panro(data_dir, landing, prefect_api_url, "run", "--date", str(NEXT))
    assert failed.returncode == 1
    assert "unique_combination_stg_zigzag__sales" in failed.stderr
    assert f"rows from zigzag/sales {name}" in failed.stderr
    batch_id = f"zigzag/sales/{qid}"
    assert f"panro quarantine hold {batch_id}" in failed.stderr
    assert _published_at(data_dir) == before                       # analysts keep the last publication
    report = _last_report(data_dir)
    (test,) = [f for f in report["dbt_failures"] if "stg_zigzag__sales" in f["node"]]
    assert [b["batch_id"] for b in test["batches"]] == [batch_id]
    assert test["batches"][0]["rows"] == 2 * good.num_rows
    assert batch_id in (data_dir / "reports" / "latest.html").read_text(encoding="utf-8")

    # holding the batch lets the next night publish everything else
    hold = _panro(data_dir, landing, prefect_api_url, "quarantine", "hold", batch_id, "--reason",
                  "every row twice", "--by", "ops")
    assert hold.returncode == 0, hold.stderr
    listed = _panro(data_dir, landing, prefect_api_url, "quarantine", "list").stdout
    assert qid in listed and "held by ops: every row twice" in listed
    night = _panro(data_dir, landing, prefect_api_url, "run", "--date", str(NEXT))
    assert night.returncode == 0, night.stderr[-3000:]
    assert _published_at(data_dir) != before
    assert name not in _staged(data_dir, "stg_zigzag__sales")

    # a re-audit of the held batch holds it again (it still has every row twice) …
    again = _panro(data_dir, landing, prefect_api_url, "quarantine", "release", qid, "--by", "ops")
    assert again.returncode == 2 and "quarantined" in again.stdout
    # … and the way back is the partner's corrected file, which the next night publishes
    pq.write_table(good, landing / "zigzag" / "sales" / name)
    back = _panro(data_dir, landing, prefect_api_url, "run", "--date", str(NEXT))
    assert back.returncode == 0, back.stderr[-3000:]
    assert _staged(data_dir, "stg_zigzag__sales")[name] == good.num_rows
    assert "nothing is held back" in _panro(data_dir, landing, prefect_api_url, "quarantine", "list").stdout


def test_holding_needs_a_published_batch_and_a_reason(tmp_path: Path, delivered: tuple[Path, Path],
                                                      prefect_api_url: str) -> None:
    data_dir = tmp_path / "data"
    unknown = _panro(data_dir, delivered[0], prefect_api_url, "quarantine", "hold", "kakao/talkchannel/x@1",
                     "--reason", "r")
    assert unknown.returncode == 1 and "no batch 'kakao/talkchannel/x@1'" in unknown.stderr
    no_reason = _panro(data_dir, delivered[0], prefect_api_url, "quarantine", "hold", "x", "--reason", " ")
    assert no_reason.returncode == 1 and "needs a reason" in no_reason.stderr
