"""The CLI boots Prefect's temporary server in the background while the pipeline imports; the
flow then runs on that same server, not on a second one, and the run's process never imports
Prefect's server module. Each case runs in its own interpreter, as the CLI does, with its own
Prefect home."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILDREN = """
def children():
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            stat = open(f'/proc/{pid}/stat').read()
        except OSError:
            continue
        if stat.rsplit(')', 1)[1].split()[1] == str(os.getpid()):
            found.append(int(pid))
    return found
"""

SCRIPT = """
import json, os, sys
from panro import ephemeral

server = ephemeral.start_in_background()   # first, as in the CLI: before anything imports Prefect
launched = children()
from prefect import flow, get_client

@flow(name="ephemeral-probe")
def probe() -> int | None:
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency

with ephemeral.serving(server):
    during = os.environ.get("PREFECT_API_URL")
    heartbeat = probe()
    with get_client(sync_client=True) as client:
        runs = [r.name for r in client.read_flow_runs()]
        api = str(client.api_url)
again = ephemeral.start_in_background()
from prefect.settings import get_current_settings
print(json.dumps({"launched": launched, "server_pid": server.process.pid, "url": server.api_url,
                  "during": during, "after": os.environ.get("PREFECT_API_URL"), "api": api, "runs": len(runs),
                  "same_server_again": again is server, "children": children(), "heartbeat": heartbeat,
                  "heartbeat_after": get_current_settings().flows.heartbeat_frequency,
                  "server_module": "prefect.server.api.server" in sys.modules}))
"""


def run_script(tmp_path: Path, code: str, **env: str) -> tuple[dict, str]:
    environment = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    environment.pop("PREFECT_API_URL", None)
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", "import os\n" + CHILDREN + code], env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What one flow run through the CLI's start of the server shows (one interpreter, as the CLI)."""
    found, stderr = run_script(tmp_path_factory.mktemp("probe"), SCRIPT, PREFECT_LOGGING_LEVEL="INFO")
    return {**found, "stderr": stderr}


def test_the_flow_runs_on_the_server_started_in_the_background(seen: dict) -> None:
    assert seen["launched"] == [seen["server_pid"]]           # launched before Prefect was imported
    assert seen["children"] == [seen["server_pid"]]           # and the flow did not start another
    assert seen["during"] == seen["url"]
    assert seen["api"].rstrip("/") == seen["url"].rstrip("/")
    assert seen["runs"] == 1


def test_the_runs_process_never_imports_prefects_server_module(seen: dict) -> None:
    """Prefect's own start of its temporary server imports the server module (~3 s of CPU) into
    the process that only runs flows; the server launched by the CLI spares it."""
    assert seen["runs"] == 1
    assert seen["server_module"] is False


def test_the_api_url_is_the_servers_only_while_serving_and_the_server_stays_for_the_process(
        seen: dict) -> None:
    assert seen["after"] is None                # the process's settings as they were
    assert seen["same_server_again"] is True    # one temporary server per process, as Prefect's


def test_flows_on_the_temporary_server_send_no_heartbeats_and_the_setting_is_restored_after(seen: dict) -> None:
    """A heartbeat tells a server the run's process is alive; this server stops with that process.
    Prefect's default (one every 180 s) is back once the block ends."""
    assert seen["heartbeat"] is None
    assert seen["heartbeat_after"] == 180


def test_the_run_logs_no_link_to_a_ui_the_temporary_server_does_not_serve(seen: dict) -> None:
    assert "Beginning flow run" in seen["stderr"]
    assert "View at" not in seen["stderr"], seen["stderr"][-2000:]


def test_the_server_stops_when_the_process_exits(seen: dict) -> None:
    assert not alive(seen["server_pid"])


KILLED = """
import sys, time
from panro import ephemeral
server = ephemeral.start_in_background()
print(server.process.pid, server.wait_until_up(), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_the_server_stops_when_the_process_is_killed(tmp_path: Path, signal_name: str) -> None:
    """A run killed by a scheduler skips its exit handlers; its temporary server does not outlive it."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "ERROR"}
    env.pop("PREFECT_API_URL", None)
    run = subprocess.Popen([sys.executable, "-c", KILLED], env=env, stdout=subprocess.PIPE, text=True)
    pid = ""
    try:
        assert run.stdout is not None
        pid, up = run.stdout.readline().split()
        assert up == "True"
        assert alive(int(pid))
        run.send_signal(getattr(signal, signal_name))
        run.wait(timeout=30)
        deadline = time.monotonic() + 15
        while alive(int(pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(int(pid))
    finally:
        run.kill()
        run.wait()
        if pid and alive(int(pid)):
            os.kill(int(pid), signal.SIGKILL)   # no orphan left behind by a failing test


def test_a_blank_api_url_means_the_temporary_server_with_its_events(tmp_path: Path) -> None:
    """`PREFECT_API_URL=` is no address: Prefect would run the flow on a temporary server but send
    its events to the blank one, logging an error with a traceback at every state change."""
    seen, stderr = run_script(tmp_path, SCRIPT, PREFECT_API_URL="")
    assert seen["children"] == [seen["server_pid"]]
    assert seen["runs"] == 1
    assert "EventsWorker" not in stderr and "Error emitting event" not in stderr, stderr[-2000:]


def test_with_a_configured_server_no_temporary_one_is_started(tmp_path: Path) -> None:
    code = ("import json\n"
            "from panro import ephemeral\n"
            "server = ephemeral.start_in_background()\n"
            "with ephemeral.serving(server):\n"
            "    url = os.environ['PREFECT_API_URL']\n"
            "print(json.dumps({'server': server is None, 'children': children(), 'url': url}))\n")
    seen, _ = run_script(tmp_path, code, PREFECT_API_URL="http://127.0.0.1:9/api")  # never contacted
    assert seen == {"server": True, "children": [], "url": "http://127.0.0.1:9/api"}


def test_the_server_is_launched_before_the_process_imports_prefect(tmp_path: Path) -> None:
    """Prefect's import (~1.4 s of CPU) in this process overlaps the server's own boot."""
    code = ("import json, subprocess, sys\n"
            "launches = []\n"
            "popen = subprocess.Popen.__init__\n"
            "def recording(self, args, *a, **k):\n"
            "    launches.append('prefect' in sys.modules)\n"
            "    popen(self, args, *a, **k)\n"
            "subprocess.Popen.__init__ = recording\n"
            "from panro import ephemeral\n"
            "server = ephemeral.start_in_background()\n"
            "print(json.dumps({'prefect_imported_at_launch': launches, 'server': server is not None,\n"
            "                  'up': server.wait_until_up()}))\n")
    seen, _ = run_script(tmp_path, code)
    assert seen == {"prefect_imported_at_launch": [False], "server": True, "up": True}


def test_a_server_named_in_a_prefect_profile_stops_the_one_launched_ahead(tmp_path: Path) -> None:
    """The server is launched before Prefect reads its settings; a profile's PREFECT_API_URL, read
    with them, means none was needed: it is stopped, and the runs go to the profile's server."""
    home = tmp_path / "prefect"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "remote"\n\n[profiles.remote]\n'
                                        'PREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    code = ("import json\n"
            "from panro import ephemeral\n"
            "server = ephemeral.start_in_background()\n"
            "from prefect.settings import PREFECT_API_URL\n"
            "with ephemeral.serving(server):\n"
            "    url = PREFECT_API_URL.value()\n"
            "print(json.dumps({'server': server is None, 'children': children(), 'url': url}))\n")
    seen, _ = run_script(tmp_path, code)   # never contacted
    assert seen == {"server": True, "children": [], "url": "http://127.0.0.1:9/api"}


def test_a_server_that_never_answers_leaves_the_flow_to_prefects_own(tmp_path: Path) -> None:
    """The launched process dies before it answers: the block runs anyway, on the temporary server
    Prefect starts itself, as without the early launch."""
    code = ("import json\n"
            "from panro import ephemeral\n"
            "server = ephemeral.start_in_background()\n"
            "server.process.kill(); server.process.wait()\n"
            "from prefect import flow\n"
            "@flow(name='fallback-probe')\n"
            "def probe() -> int:\n"
            "    return 7\n"
            "with ephemeral.serving(server):\n"
            "    result = probe()\n"
            "print(json.dumps({'result': result, 'url': os.environ.get('PREFECT_API_URL')}))\n")
    seen, _ = run_script(tmp_path, code)
    assert seen == {"result": 7, "url": None}
