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

from panro.dbt_worker import DbtWorker, WorkerDied
from panro.settings import DataDirs


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


def test_a_build_in_the_worker_gives_what_a_build_in_process_gives(dirs: DataDirs) -> None:
    with DbtWorker(dirs) as dbt:
        run = dbt.build_for_run()
    assert run.success, run.summary()
    assert run.nodes > 100  # every model, seed and data test of the project, on no data
    assert (dirs.work / "built_with.fingerprint").exists()
    assert dirs.work_warehouse.exists()


def test_docs_after_a_build_in_the_worker_carry_its_compiled_sql_and_the_catalog(dirs: DataDirs) -> None:
    with DbtWorker(dirs) as dbt:
        assert dbt.build_for_run().success
        run = dbt.refresh_docs()
    assert run is not None and run.success, run and run.summary()
    docs = dirs.reports / "dbt_docs"
    manifest = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    assert "from" in manifest["nodes"]["model.panro.mart_program_kpis"]["compiled_code"]
    assert "mart_program_kpis" in (docs / "catalog.json").read_text(encoding="utf-8")


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
