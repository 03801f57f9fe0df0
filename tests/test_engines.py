"""A run's units of work on real engines (panro.runtime.engines), through the command line as a user runs it.

A backfill of four days of the small week, on Prefect's process pool and on a real Dask cluster
started on 127.0.0.1 (two worker processes of one thread each), gives the marts that the same
backfill on threads gives, row for row; the cluster's scheduler runs the extraction's and the
gate's tasks; a worker killed with SIGKILL mid-run leaves a run that completes (its tasks run
again elsewhere) or fails with exit 1 and nothing published, and the next run completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.marts import marts_of

pytestmark = pytest.mark.slow(minutes=11)

PANRO = Path(sys.executable).parent / "panro"
START, END = "2023-04-27", "2023-04-30"

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def panro_env(prefect_api_url: str, small_landing: Path) -> Callable[..., dict[str, str]]:
    def env(data_dir: Path, **extra: str) -> dict[str, str]:
        values = {k: v for k, v in os.environ.items() if k not in ("PANRO_DASK_ADDRESS", "PANRO_ENGINE")}
        return {**values, "PREFECT_API_URL": prefect_api_url, "PANRO_DATA_DIR": str(data_dir),
                "PANRO_LANDING": str(small_landing), "PREFECT_LOGGING_LEVEL": "INFO", **extra}
    return env


@pytest.fixture(scope="module")
def backfill(panro_env: Callable[..., dict[str, str]]) -> Runner:
    def run(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(PANRO), "backfill", "--start", START, "--end", END, *args],
                              env=panro_env(data_dir, **env), capture_output=True, text=True, timeout=600)
    return run


@pytest.fixture(scope="module")
def on_threads(tmp_path_factory: pytest.TempPathFactory, backfill: Runner) -> dict:
    """The marts of the backfill with every unit on threads of the run's process."""
    data_dir = tmp_path_factory.mktemp("threads") / "data"
    result = backfill(data_dir, PANRO_ENGINE="threads")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "extraction and checks on local threads" in result.stderr
    return marts_of(data_dir / "warehouse" / "panro.duckdb")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """A Dask cluster of its own on 127.0.0.1: a scheduler and two worker processes of one thread each."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as local, distributed.Client(local) as client:
        client.wait_for_workers(2, timeout=120)
        yield client


def test_a_backfill_on_the_process_pool_gives_the_threads_marts(tmp_path: Path, backfill: Runner,
                                                                   on_threads: dict) -> None:
    data_dir = tmp_path / "data"
    result = backfill(data_dir, PANRO_ENGINE="processes")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "extraction and checks on local processes" in result.stderr
    marts = marts_of(data_dir / "warehouse" / "panro.duckdb")
    assert marts == on_threads
    assert sum(map(len, marts.values())) > 100


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_backfill_killed_mid_run_leaves_no_process_pool_worker_behind(
        tmp_path: Path, panro_env: Callable[..., dict[str, str]]) -> None:
    """SIGKILL skips every exit handler of the run's process: its pool's workers end by themselves."""
    env = panro_env(tmp_path / "data", PANRO_ENGINE="processes", PANRO_KILL_AT="audit@0.5")
    run = subprocess.Popen([str(PANRO), "backfill", "--start", START, "--end", END], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        while run.poll() is None:
            workers |= _children(run.pid)
            time.sleep(0.05)
    finally:
        run.kill()
        run.wait()
    assert run.returncode == -signal.SIGKILL
    assert len(workers) >= 2          # the pool's two workers (and multiprocessing's resource tracker)
    deadline = time.monotonic() + 30
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:                  # no orphan left by a failing test either
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} process(es) of the killed run still running"


def test_a_backfill_on_a_dask_cluster_gives_the_threads_marts_and_the_scheduler_ran_its_units(
        tmp_path: Path, backfill: Runner, on_threads: dict, cluster) -> None:
    from distributed import get_task_stream
    from distributed.utils import key_split

    data_dir = tmp_path / "data"
    with get_task_stream(cluster) as stream:
        result = backfill(data_dir, "--dask-address", cluster.scheduler.address)
    assert result.returncode == 0, result.stderr[-3000:]
    assert marts_of(data_dir / "warehouse" / "panro.duckdb") == on_threads
    ran = Counter(key_split(task["key"]) for task in stream.data)
    assert ran["extract_feed"] == 12 and ran["check_feed"] == 12, ran   # each feed extracted, then checked
    # the Data Docs are written under the data directory, the flow's machine's: rendered there, not on a worker
    assert ran["render_data_docs"] == 0 and "could not build the GX Data Docs" not in result.stderr
    assert (data_dir / "reports" / "data_docs" / "index.html").exists()
    workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2, workers                                       # both workers took units


def _busy_worker(client, prefixes: tuple[str, ...]) -> str | None:
    from distributed.utils import key_split

    for worker, keys in client.processing().items():
        if any(key_split(k) in prefixes for k in keys):
            return worker
    return None


def test_a_dask_worker_killed_mid_run_leaves_a_complete_run_or_none_and_the_next_run_completes(
        tmp_path: Path, panro_env: Callable[..., dict[str, str]], backfill: Runner, on_threads: dict,
        cluster) -> None:
    data_dir = tmp_path / "data"
    pids = cluster.run(os.getpid)                       # worker address → its process
    run = subprocess.Popen([str(PANRO), "backfill", "--start", START, "--end", END, "--dask-address",
                            cluster.scheduler.address], env=panro_env(data_dir), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    killed = None
    try:
        deadline = time.monotonic() + 300
        while killed is None and run.poll() is None and time.monotonic() < deadline:
            worker = _busy_worker(cluster, ("extract_feed", "check_feed"))
            if worker is not None:
                os.kill(pids[worker], signal.SIGKILL)    # like the OOM killer or a lost machine
                killed = worker
            time.sleep(0.02)
        _, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert killed is not None, "no worker was seen working on the run's units"
    warehouse = data_dir / "warehouse" / "panro.duckdb"
    assert run.returncode in (0, 1), err[-3000:]
    if run.returncode == 0:     # its units ran again on the other worker
        assert marts_of(warehouse) == on_threads
    else:                       # failed, loudly, and published nothing
        assert "the run failed and published nothing new" in err
        assert not warehouse.exists()
    cluster.wait_for_workers(2, timeout=120)           # the nanny restarts the killed worker
    again = backfill(data_dir, "--dask-address", cluster.scheduler.address)
    assert again.returncode == 0, again.stderr[-3000:]
    assert marts_of(warehouse) == on_threads


def test_a_dask_scheduler_nobody_runs_fails_the_run_before_any_work(tmp_path: Path, backfill: Runner) -> None:
    data_dir = tmp_path / "data"
    result = backfill(data_dir, "--dask-address", "tcp://127.0.0.1:9", DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="3s")
    assert result.returncode == 1
    assert "no Dask scheduler answers at tcp://127.0.0.1:9" in result.stderr
    assert not (data_dir / "raw").exists() and not (data_dir / "warehouse").exists()
