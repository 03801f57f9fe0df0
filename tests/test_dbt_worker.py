"""A run's dbt process (panro.dbt_worker): it builds like dbt in-process, and it never outlives
the run — not when the run ends, not when the run's process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from panro import dbt_worker, transform
from panro.dbt_worker import DbtWorker, WorkerDied
from panro.settings import DataDirs
from panro.transform import build_for_run, duckdb_threads, project_fingerprint
from tests.support.dbt_docs import assert_docs_carry_compiled_sql_and_catalog
from tests.support.published import warehouse_rows, write_small_delivery


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a dead child of this process stays a zombie until reaped; it no longer runs
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "\nState:\tZ" in status.read_text():
            return True
        time.sleep(0.1)
    return False


def test_a_build_in_the_worker_gives_what_a_build_in_process_gives(tmp_path: Path) -> None:
    in_worker, in_process = (DataDirs.from_env(tmp_path / name) for name in ("worker", "process"))
    for dirs in (in_worker, in_process):
        write_small_delivery(dirs)
    with DbtWorker(in_worker) as dbt:
        dbt.parse_ahead()
        worker_run = dbt.build_for_run()     # starts from the parse the worker did ahead
    process_run = build_for_run(in_process)  # parses itself
    assert worker_run.success, worker_run.summary()
    assert worker_run.statuses == process_run.statuses  # every node, with the same outcome
    assert worker_run.nodes > 100
    for relation in ("marts.mart_program_kpis", "marts.mart_festival_sales", "marts.mart_support_reach"):
        built = warehouse_rows(in_worker.work_warehouse, relation)
        assert built and built == warehouse_rows(in_process.work_warehouse, relation), relation
    assert (in_worker.work / "built_with.fingerprint").read_text() == project_fingerprint()


def test_docs_after_a_build_in_the_worker_carry_its_compiled_sql_and_the_catalog(dirs: DataDirs) -> None:
    with DbtWorker(dirs) as dbt:
        assert dbt.build_for_run().success
        docs = dbt.refresh_docs_in_background()   # the run writes its report meanwhile
        run = docs()
    assert run is not None and run.success, run and run.summary()
    assert_docs_carry_compiled_sql_and_catalog(dirs)


def test_a_worker_started_before_the_run_imports_dbt_and_writes_nothing_until_the_run_takes_it(
        dirs: DataDirs) -> None:
    early = dbt_worker.start_early(dirs)   # as the command line does, before the run holds its lock
    try:
        early.wait_ready()                 # dbt imported
        assert not (dirs.work / "dbt_target").exists()  # the parse writes there: the lock's holder only
        dbt = dbt_worker.for_run(dirs)
        assert dbt is early and dbt.pid == early.pid
        dbt.parse_ahead()
        dbt.wait_ready()
        assert (dirs.work / "dbt_target" / "manifest.json").exists()
        with dbt_worker.for_run(dirs) as next_run:
            assert next_run is not early  # taken once; the next run gets its own
    finally:
        early.close()


def test_a_worker_started_for_another_data_directory_is_stopped_not_used(tmp_path: Path) -> None:
    mine, other = DataDirs.from_env(tmp_path / "mine"), DataDirs.from_env(tmp_path / "other")
    early = dbt_worker.start_early(other)
    pid = early.pid
    assert pid is not None
    with dbt_worker.for_run(mine) as dbt:
        assert dbt is not early and dbt.dirs == mine
        assert gone(pid)


def test_a_new_data_directory_parses_from_the_projects_last_parse(tmp_path: Path) -> None:
    first, second = DataDirs.from_env(tmp_path / "first"), DataDirs.from_env(tmp_path / "second")
    for dirs in (first, second):
        with DbtWorker(dirs) as dbt:
            dbt.parse_ahead()
            dbt.wait_ready()
    parsed = {d: json.loads((d.work / "dbt_target" / "perf_info.json").read_text()) for d in (first, second)}
    assert parsed[second]["path_count"] > 100
    assert parsed[second]["parsed_path_count"] == 0   # dbt re-read no file: the first directory's parse
    assert (second.work / "dbt_target" / "manifest.json").exists()


def test_the_worker_stops_with_the_run(dirs: DataDirs) -> None:
    dbt = DbtWorker(dirs)
    pid = dbt.pid
    assert pid is not None
    dbt.close()
    assert gone(pid)


def test_a_worker_killed_mid_command_is_reported_not_waited_for(dirs: DataDirs) -> None:
    with DbtWorker(dirs) as dbt:
        assert dbt.pid is not None
        os.kill(dbt.pid, signal.SIGKILL)
        with pytest.raises(WorkerDied, match="dbt process died during the build"):
            dbt.build_for_run()


KILLED_PARENT = """
import sys, time
from panro.dbt_worker import DbtWorker
from panro.settings import DataDirs
dbt = DbtWorker(DataDirs.from_env(sys.argv[1], sys.argv[1] + "/landing"))
print(dbt.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_the_worker_exits_when_the_run_process_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT, str(tmp_path / "data")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        parent.kill()  # like kill -9: no atexit, no finally
        parent.wait(timeout=10)
        assert gone(worker), f"the dbt worker {worker} outlived the killed run"
    finally:
        parent.kill()


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4)])
def test_duckdb_gives_each_of_dbts_threads_its_share_of_the_cores(cores: int, threads: int) -> None:
    assert duckdb_threads(cores) == threads


def test_dbts_duckdb_runs_with_the_threads_panro_gives_it(dirs: DataDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's own default is every core of the machine; under dbt it gets its share."""
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    result, _ = transform._invoke(dirs, ["show", "--inline", "select current_setting('threads') as threads",
                                         "--output", "json"])
    assert result.success, result.exception
    assert [int(v) for v in result.result.results[0].agate_table.columns["threads"]] == [4]
