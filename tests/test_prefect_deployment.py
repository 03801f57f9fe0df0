"""prefect.yaml deploys to a real Prefect server, and a process worker runs the nightly deployment."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from panro.settings import REPO_ROOT

pytestmark = pytest.mark.slow(minutes=3)

BIN = Path(sys.executable).parent


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(BIN / "prefect"), *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_prefect_yaml_declares_the_nightly_schedule_and_a_backfill() -> None:
    doc = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in doc["deployments"]}
    assert by_name["nightly"]["entrypoint"] == "flows/pipeline.py:nightly"
    assert by_name["nightly"]["schedules"] == [{"cron": "0 3 * * *", "timezone": "Asia/Seoul", "active": True}]
    assert by_name["backfill"]["entrypoint"] == "flows/pipeline.py:backfill"
    assert {d["work_pool"]["name"] for d in doc["deployments"]} == {"panro"}


@pytest.mark.usefixtures("prefect_api_url")
def test_nightly_deployment_runs_on_a_process_worker_and_publishes(prefect_api_url: str, tmp_path: Path,
                                                                   small_landing: Path) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    data_dir = tmp_path / "data"
    data_dir.mkdir()   # a deployment's run never creates a data directory by accident (panro.extract.preflight)
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "PANRO_DATA_DIR": str(data_dir),
           "PANRO_LANDING": str(small_landing), "PREFECT_LOGGING_LEVEL": "INFO"}
    prefect_cli(env, "work-pool", "create", "panro", "--type", "process", "--overwrite")
    prefect_cli(env, "--no-prompt", "deploy", "--all")

    with get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["nightly", "backfill"])))}
        assert set(deployments) == {"nightly", "backfill"}
        schedule = deployments["nightly"].schedules[0].schedule
        assert (schedule.cron, schedule.timezone) == ("0 3 * * *", "Asia/Seoul")
        run = client.create_flow_run_from_deployment(deployments["nightly"].id,
                                                     parameters={"run_date": "2023-05-03"})

    worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "panro", "--run-once"],
                              cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline:
                state = client.read_flow_run(run.id).state
                if state is not None and state.is_final():
                    break
                time.sleep(2)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=60)[0]
    assert state is not None and state.is_completed(), f"flow run ended {state}:\n{output[-4000:]}"

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[run.id])))
    by_key = {a.key: a for a in artifacts}
    assert {"panro-batches", "panro-summary"} <= set(by_key)
    assert by_key["panro-batches"].type == "table" and "kdeal_orders" in str(by_key["panro-batches"].data)
    assert "Programme KPIs 2023" in str(by_key["panro-summary"].data)

    con = duckdb.connect(str(data_dir / "warehouse" / "panro.duckdb"), read_only=True)
    try:
        run_id, published_at = con.execute("select run_id, published_at from marts._publication").fetchone()
        merchants = con.execute("select count(*) from marts.dim_merchant").fetchone()[0]
    finally:
        con.close()
    assert run_id == str(run.id)
    assert published_at > dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert merchants > 0
