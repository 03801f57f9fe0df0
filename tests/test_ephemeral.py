"""The CLI boots Prefect's temporary server in the background while the pipeline imports; the
flow then runs on that same server, not on a second one. Each case runs in its own interpreter,
as the CLI does, with its own Prefect home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
from panro.ephemeral import start_in_background

wait = start_in_background()   # first, as in the CLI: before anything imports Prefect
from prefect.server.api.server import SubprocessASGIServer
wait()
started = [s.api_url for s in SubprocessASGIServer._instances.values() if s.running]

from prefect import flow, get_client

@flow(name="ephemeral-probe")
def probe() -> int:
    return 1

probe()
with get_client(sync_client=True) as client:
    runs = [r.name for r in client.read_flow_runs()]
    api = str(client.api_url)
servers = [s.api_url for s in SubprocessASGIServer._instances.values() if s.running]
print(json.dumps({"started": started, "servers": servers, "api": api, "runs": len(runs)}))
"""


def probe(tmp_path: Path, **env: str) -> dict:
    environment = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    environment.pop("PREFECT_API_URL", None)
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "stderr": done.stderr}


def test_the_flow_runs_on_the_server_started_in_the_background(tmp_path: Path) -> None:
    seen = probe(tmp_path)
    assert len(seen["started"]) == 1                 # up before the first flow call
    assert seen["servers"] == seen["started"]        # and the flow did not start another
    assert seen["api"].rstrip("/") == seen["started"][0].rstrip("/")
    assert seen["runs"] == 1


def test_a_blank_api_url_means_the_temporary_server_with_its_events(tmp_path: Path) -> None:
    """`PREFECT_API_URL=` is no address: Prefect would run the flow on a temporary server but send
    its events to the blank one, logging an error with a traceback at every state change."""
    seen = probe(tmp_path, PREFECT_API_URL="")
    assert len(seen["started"]) == 1 and seen["servers"] == seen["started"]
    assert seen["runs"] == 1
    assert "EventsWorker" not in seen["stderr"] and "Error emitting event" not in seen["stderr"], seen["stderr"][-2000:]


def test_with_a_configured_server_no_temporary_one_is_started(tmp_path: Path) -> None:
    code = ("import json\n"
            "from panro.ephemeral import start_in_background\n"
            "from prefect.server.api.server import SubprocessASGIServer\n"
            "start_in_background()()\n"
            "print(json.dumps(len(SubprocessASGIServer._instances)))\n")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_API_URL": "http://127.0.0.1:9/api"}  # never contacted
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == 0


def test_the_server_process_starts_before_prefects_server_module_is_imported(tmp_path: Path) -> None:
    """The uvicorn process is launched first (the server module alone takes seconds to import) and
    becomes the server object's own, which the flow's client then finds up and Prefect stops at exit."""
    code = ("import json, os, sys\n"
            "from panro.ephemeral import start_in_background\n"
            "wait = start_in_background()\n"
            "def children():\n"
            "    found = []\n"
            "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
            "        try:\n"
            "            stat = open(f'/proc/{pid}/stat').read()\n"
            "        except OSError:\n"
            "            continue\n"
            "        if stat.rsplit(')', 1)[1].split()[1] == str(os.getpid()):\n"
            "            found.append(int(pid))\n"
            "    return found\n"
            "early = children()\n"
            "wait()\n"
            "from prefect.server.api.server import SubprocessASGIServer\n"
            "server = SubprocessASGIServer()\n"
            "print(json.dumps({'early': early, 'pid': server.server_process.pid, 'running': server.running}))\n")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["running"]
    assert seen["pid"] in seen["early"]   # the process launched before the module import, adopted
