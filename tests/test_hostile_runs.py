"""Hostile and careless input (issue 28), through the real command line: whole runs.

- a night whose landing holds a name forging a "held back" line, an ESC sequence, a link out of the
  landing and a FIFO, told to a webhook that answers garbage, then to one that drips: the run
  publishes, says so (exit 2, not "published nothing new"), names every entry it did not extract in
  one escaped line each, and the dripping webhook holds it no longer than the notification deadline;
- a backfill stopped during extraction — SIGTERM: it ends within seconds, says that nothing new was
  published; SIGKILL: it cannot say anything, and no process it started lives on (Prefect's
  temporary server and the process pool's workers included).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from panro.generate import generate
from tests.support.bad_webhooks import BadWebhook

pytestmark = pytest.mark.slow

PANRO = Path(sys.executable).parent / "panro"
SMALL = ("2023-04-27", "2023-05-03")


def _env(data_dir: Path, landing: Path, **more: str) -> dict[str, str]:
    return {**os.environ, "PANRO_DATA_DIR": str(data_dir), "PANRO_LANDING": str(landing), **more}


@pytest.fixture
def hostile_landing(tmp_path: Path, small_landing: Path) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    orders = landing / "kt" / "kdeal_orders"
    sample = next(orders.iterdir()).read_bytes()
    (orders / "KDEAL_ORDER_20230503.csv\nheld back: nothing tonight, all published").write_bytes(sample)
    (orders / "\x1b[2J\x1b]0;owned\x07KDEAL.csv").write_bytes(sample)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "KDEAL_ORDER_20230426.csv").write_bytes(sample)
    (orders / "KDEAL_ORDER_20230426.csv").symlink_to(outside / "KDEAL_ORDER_20230426.csv")
    os.mkfifo(orders / "KDEAL_ORDER_20230425.csv")
    return landing


def test_a_night_of_hostile_names_and_bad_webhooks_publishes_and_says_so(
        tmp_path: Path, hostile_landing: Path, prefect_api_url: str) -> None:
    data_dir = tmp_path / "data"
    with BadWebhook("garbage") as garbage:
        result = subprocess.run([str(PANRO), "backfill", "--start", SMALL[0], "--end", SMALL[1]],
                                env=_env(data_dir, hostile_landing, PREFECT_API_URL=prefect_api_url,
                                         PANRO_NOTIFY_WEBHOOK=garbage.url),
                                capture_output=True, text=True, timeout=900)
    err = result.stderr
    assert result.returncode == 2, err[-3000:]               # published; something was not extracted
    assert "published nothing new" not in err and garbage.requests >= 1
    lines = err.splitlines()
    assert not [line for line in lines if line.startswith("held back: nothing tonight")]   # no forged line
    assert "\x1b" not in err and "\x07" not in err
    not_extracted = [line for line in lines if line.startswith("not extracted: ")]
    assert len(not_extracted) == 4, not_extracted
    text = "\n".join(not_extracted)
    assert "KDEAL_ORDER_20230503.csv\\nheld back: nothing tonight" in text
    assert "\\x1b[2J\\x1b]0;owned\\x07KDEAL.csv" in text
    assert "leading out of the landing zone" in text and "a FIFO" in text
    (report,) = (data_dir / "reports").glob("run-*.json")
    assert len(json.loads(report.read_text(encoding="utf-8"))["not_extracted"]) == 4
    assert (data_dir / "warehouse" / "panro.duckdb").exists()

    # the same landing again, told to a webhook that drips a byte every second, forever
    with BadWebhook("drip", every=1.0) as drip:
        t0 = time.perf_counter()
        again = subprocess.run([str(PANRO), "run", "--date", SMALL[1]],
                               env=_env(data_dir, hostile_landing, PREFECT_API_URL=prefect_api_url,
                                        PANRO_NOTIFY_WEBHOOK=drip.url, PANRO_NOTIFY_DEADLINE="3"),
                               capture_output=True, text=True, timeout=900)
        took = time.perf_counter() - t0
    print(f"a night told to a dripping webhook (deadline 3 s) took {took:.1f} s")
    assert again.returncode == 2, again.stderr[-3000:]
    assert drip.requests >= 1


def _group(pgid: int) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid=,args="], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.split()[1] == str(pgid)]


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough files that a backfill is still extracting when it is stopped."""
    import datetime as dt

    return generate(tmp_path_factory.mktemp("two-months") / "landing", start=dt.date(2023, 3, 1),
                    end=dt.date(2023, 4, 30), scale=1.0).out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_backfill_stopped_during_extraction_ends_and_leaves_no_process(
        tmp_path: Path, two_months: Path, sig: signal.Signals) -> None:
    """On Prefect's temporary server, as a user runs it: nothing outlives the run."""
    data_dir = tmp_path / "data"
    env = _env(data_dir, two_months, PREFECT_HOME=tempfile.mkdtemp(prefix="panro-hostile-"))
    env.pop("PREFECT_API_URL", None)
    run = subprocess.Popen([str(PANRO), "backfill", "--start", "2023-03-01", "--end", "2023-04-30"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not list((data_dir / "raw").glob("*/*/*.parquet")) and run.poll() is None:
            assert time.monotonic() < deadline, "the backfill never started extracting"
            time.sleep(0.2)
        assert run.poll() is None, run.stderr.read()[-3000:]
        workers = [p for p in _group(run.pid) if "multiprocessing.spawn" in p]
        assert workers and [p for p in _group(run.pid) if "uvicorn" in p]   # the pool and Prefect's server
        t0 = time.monotonic()
        run.send_signal(sig)
        code = run.wait(timeout=120)
        took = time.monotonic() - t0
        err = run.stderr.read()
        print(f"{sig.name}: ended {took:.1f} s after the signal")
        if sig == signal.SIGTERM:
            assert code == 128 + signal.SIGTERM, err[-3000:]
            assert "stopped (SIGTERM): the run published nothing new" in err, err[-3000:]
            assert took < 60, err[-3000:]          # was 80-120 s: the workers finished their feeds first
        else:
            assert code == -signal.SIGKILL
        survivors = _group(run.pid)
        for _ in range(50):
            if not survivors:
                break
            time.sleep(0.2)
            survivors = _group(run.pid)
        assert survivors == []
    finally:
        if run.poll() is None:
            run.kill()
        for line in _group(run.pid):   # never leave them behind, whatever the test found
            os.kill(int(line.split()[0]), signal.SIGKILL)
