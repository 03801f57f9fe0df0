"""README, "Deploying with Prefect": its bash block, taken from the README itself, run as a newcomer pastes it
(issue 25) — a real `prefect server start` on 127.0.0.1 (a free port, a Prefect home of its own), the work
pool, the deploy, a worker and a run — then checked through the server's API: the run, its artifacts,
its task graph, and the deployments' typed parameters."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from panro.settings import REPO_ROOT

pytestmark = pytest.mark.slow

README = REPO_ROOT / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"### {title}")
    end = text.find("\n## ", start)
    return text[start:end if end > 0 else None]


def code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_readme_shows_an_automation_prefect_accepts() -> None:
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore

    (doc,) = [yaml.safe_load(b) for b in code_blocks(section("Deploying with Prefect"), "yaml")]
    (automation,) = [AutomationCore.model_validate(a) for a in doc["automations"]]
    assert automation.trigger.expect == {"panro.batch.held_back"}
    assert isinstance(automation.actions[0], SendNotification)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The README's block, run by bash from the repository root with nothing of the tests' environment:
    no PREFECT_API_URL, no virtualenv on PATH. Background processes it starts (server, worker) are
    ended with its process group once the checks have read what they need."""
    (block,) = code_blocks(section("Deploying with Prefect"), "bash")
    root = tmp_path_factory.mktemp("deploy")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PANRO_", "VIRTUAL_ENV"))}
    env.update({"PATH": os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                        if Path(sys.executable).parent != Path(p)),
                "HOME": str(root), "PREFECT_HOME": str(root / "prefect"), "PREFECT_SERVER_API_PORT": str(port),
                "PANRO_DATA_DIR": str(root / "data"), "PANRO_LANDING": str(root / "landing"),
                "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_API_HOST": "127.0.0.1"})
    log = root / "block.log"
    with log.open("w") as out:
        shell = subprocess.Popen(["bash", "-euo", "pipefail", "-c", block], cwd=REPO_ROOT, env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            code = shell.wait(timeout=1500)
            api = f"http://127.0.0.1:{port}/api"
            yield {"code": code, "api": api, "log": log, "root": root, "reads": _read_everything(api)}
        finally:
            _end_group(shell.pid)


def _end_group(pgid: int) -> None:
    """SIGTERM to the block's process group, then SIGKILL to whatever is left of it after 5 s: a Prefect
    worker whose server is gone can spend minutes shutting down gracefully, and would outlive the run."""
    with contextlib.suppress(ProcessLookupError):   # raised once nothing of the group is left
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)
            time.sleep(0.2)
        os.killpg(pgid, signal.SIGKILL)


def _read_everything(api: str) -> dict:
    """What the server knows of the deployments and the run, read while it still runs."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

    with SyncPrefectClient(api) as client:
        deployments = {d.name: d for d in client.read_deployments()}
        # the one run the block asked for (the nightly's schedule adds runs for the nights to come)
        runs = [r for r in client.read_flow_runs() if r.parameters.get("run_date") == "2023-05-03"]
        if not runs:
            return {"deployments": deployments, "runs": []}
        run = runs[0]
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[run.id])))
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    return {"deployments": deployments, "runs": runs, "artifacts": artifacts, "tasks": tasks}


def test_the_readme_block_deploys_and_runs_the_nightly_with_its_artifacts(deployed: dict) -> None:
    assert deployed["code"] == 0, deployed["log"].read_text()[-5000:]
    runs = deployed["reads"]["runs"]
    assert len(runs) == 1, deployed["log"].read_text()[-5000:]
    (run,) = runs
    assert run.state is not None and run.state.is_completed()
    assert str(run.parameters["run_date"]) == "2023-05-03"
    by_key = {a.key: a for a in deployed["reads"]["artifacts"]}
    assert {"panro-batches", "panro-summary", "panro-feeds", "panro-dbt"} <= set(by_key)
    assert "yogiyo" in str(by_key["panro-batches"].data)
    dbt = by_key["panro-dbt"].data
    assert "mart_program_kpis" in str(dbt) and "success" in str(dbt)
    assert (deployed["root"] / "data" / "warehouse" / "panro.duckdb").exists()


def test_in_the_task_graph_transform_follows_the_gate(deployed: dict) -> None:
    tasks = deployed["reads"]["tasks"]
    checks = {str(t.id) for t in tasks if t.task_key.startswith("check") or t.name.startswith("check ")}
    (transform,) = [t for t in tasks if t.name.startswith("transform")]
    waited = {str(i.id) for i in transform.task_inputs.get("wait_for", [])}
    assert checks and checks <= waited


def test_the_deployments_parameters_are_typed_described_and_the_backfill_has_no_default_range(
        deployed: dict) -> None:
    deployments = deployed["reads"]["deployments"]
    nightly = deployments["nightly"].parameter_openapi_schema
    run_date = nightly["properties"]["run_date"]
    assert "date" in str(run_date) and "yesterday in KST" in run_date["description"]
    backfill = deployments["backfill"]
    schema = backfill.parameter_openapi_schema
    assert set(schema["required"]) >= {"start", "end"}
    assert schema["properties"]["start"]["format"] == "date" and schema["properties"]["start"]["description"]
    assert not {"start", "end"} & set(backfill.parameters)
