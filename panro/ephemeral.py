"""Prefect's temporary server, booted while the pipeline's modules import.

With no `PREFECT_API_URL`, the first flow call starts a temporary Prefect server (a uvicorn
subprocess; several seconds, more on a fresh PREFECT_HOME) and waits for it. To start it, Prefect
also imports its server module into the calling process: about 3 s of CPU for a process that
never serves anything (measured in 2023 backfills: the run's process took 8.4–8.9 s of CPU this
way, 10.3–10.9 s when Prefect's server object, and with it that module, was in the process).

The command line launches the same uvicorn process first thing instead (the command and
environment `SubprocessASGIServer` gives it in the Prefect version mirrored here), before it even
imports Prefect itself: the server's boot (about 5 s of CPU, Prefect's import included) and this
process's imports then run on two cores at once. A Prefect API URL that only Prefect's settings
name (a profile, a settings file: read with Prefect's import) means no server was needed; the one
launched is stopped. The command line imports the pipeline while the server boots, and points
Prefect's client at it for the run (`serving`: the API URL in the process's settings, as Prefect's
own test harness does). The flow then runs on it as on Prefect's own temporary server, and the
run's process never imports the server module (and its flows send no heartbeats, which a server
that stops with the run cannot use: `HEARTBEAT`). Like Prefect's, it is one server per process,
stopped when the process exits, and also when the process is killed (SIGTERM, SIGKILL: no exit
handler runs), as the run's other processes are (`panro.subprocess_life.exit_with`). Any other
Prefect version, or a launch that fails or never answers, leaves the server to Prefect, as before.

A `PREFECT_API_URL` that is set but blank (`PREFECT_API_URL=` in a shell or an env file) means no
server, as an operator expects. Prefect itself would start the temporary server for its API client
but send its events to the blank address: they are lost, and every state change logs an error with
a traceback. It is removed before Prefect reads its settings.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIRRORED_PREFECT = "3.9."       # SubprocessASGIServer._run_uvicorn_command of this version
# A flow run's heartbeats tell a server that the run's process is still alive, so that a lost run
# can be marked crashed. The temporary server stops with that process: no heartbeat can tell it
# anything. And they cost each run up to a second at its end: Prefect 3.9 waits for its heartbeat
# thread, which sleeps in steps of 1 s (measured: 0.7–1.2 s between a backfill's last task and its
# flow's end). On the temporary server, flows run without them; a served deployment keeps them.
HEARTBEAT = "flows.heartbeat_frequency"
_START_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 5.0           # then killed, as SubprocessASGIServer.stop does


@dataclass
class TemporaryServer:
    """The uvicorn process of Prefect's temporary server, launched by this process."""

    port: int
    process: subprocess.Popen[Any]
    _up: bool | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait_until_up(self, timeout: float = _START_TIMEOUT_S) -> bool:
        """Whether the server answers its health check (asked until it does, it exits, or `timeout`)."""
        import httpx

        with self._lock:
            if self._up is None:
                deadline = time.monotonic() + timeout
                self._up = False
                with httpx.Client() as client:
                    while time.monotonic() < deadline and self.process.poll() is None:
                        with contextlib.suppress(httpx.HTTPError):
                            if client.get(f"{self.api_url}/health").status_code == 200:
                                self._up = True
                                break
                        time.sleep(0.1)
                if not self._up:
                    self.stop()
            return self._up and self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_server: TemporaryServer | None = None
_server_lock = threading.Lock()


def start_in_background() -> TemporaryServer | None:
    """Launch the temporary server if this process will need one and has none running; None if it
    needs none (a Prefect API URL is configured) or Prefect is to start its own (see the module's doc).

    Call it before anything imports Prefect: a blank PREFECT_API_URL is dropped first, and the server
    is launched before this process imports Prefect (about 1.4 s of CPU), which the server process
    does too, on another core. A server that Prefect's settings then name (in a profile or a
    settings file, not the environment) means none was needed: the one launched is stopped."""
    global _server
    forget_blank_api_url()
    if os.environ.get("PREFECT_API_URL"):
        return None
    with _server_lock:
        if _server is None or _server.process.poll() is not None:
            _server = _launch()
            if _server is not None:
                atexit.register(_server.stop)
        server = _server
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        with _server_lock:
            if server is not None:
                server.stop()
                _server = None
        return None
    return server


@contextlib.contextmanager
def serving(server: TemporaryServer | None) -> Iterator[None]:
    """Run the block's flows on `server` once it is up: Prefect's API URL is its, for this process,
    until the block ends, and the flows send no heartbeats (`HEARTBEAT`). Without a server that
    answers, Prefect is left to start its own."""
    if server is None or not server.wait_until_up():
        yield
        return
    from prefect.context import refresh_global_settings_context
    from prefect.settings import temporary_settings

    # no UI link in the run's log: the temporary server serves none, as with Prefect's own
    settings = {"PREFECT_API_URL": server.api_url, "PREFECT_UI_URL": os.environ.get("PREFECT_UI_URL", "")}
    prior = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    refresh_global_settings_context()
    try:
        with temporary_settings(updates={HEARTBEAT: None}):
            yield
    finally:
        _drain()
        for name, value in prior.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        refresh_global_settings_context()


def _drain() -> None:
    """Send the run's last logs and events to the server now. Prefect keeps one sender per kind of
    client, which reads the API URL once: a later run in this process on another server (a test's)
    must get a new one."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=_STOP_TIMEOUT_S)


def forget_blank_api_url() -> None:
    """Treat `PREFECT_API_URL=` (set, but blank) as not set: the temporary server, events included."""
    if "PREFECT_API_URL" in os.environ and not os.environ["PREFECT_API_URL"].strip():
        del os.environ["PREFECT_API_URL"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch() -> TemporaryServer | None:
    """The uvicorn process `SubprocessASGIServer._run_uvicorn_command` would start, started now,
    without importing Prefect here. Prefect's own passes the server this process's Prefect settings
    as variables; at the command line's start they are the environment's and those of the profile
    and settings files, which the server process reads itself."""
    try:
        version = importlib.metadata.version("prefect")
        spec = importlib.util.find_spec("prefect")
    except (importlib.metadata.PackageNotFoundError, ImportError, ValueError):
        return None
    if not version.startswith(MIRRORED_PREFECT) or spec is None or spec.origin is None:
        return None
    try:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, *_uvicorn(), "--app-dir", str(Path(spec.origin).parent.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1"},
        )
    except OSError:
        return None
    return TemporaryServer(port, process)


# `python -c _ENDS_WITH_LAUNCHER PID …` is `python -m uvicorn …` in a process that stops (SIGTERM:
# uvicorn's graceful stop) once the process PID that launched it is gone, however it ended: a run
# killed with SIGTERM or SIGKILL skips its `atexit`, and would leave the server running.
_ENDS_WITH_LAUNCHER = """\
import runpy, sys
from panro.subprocess_life import exit_with
exit_with(int(sys.argv.pop(1)), grace=5.0)
sys.argv[0] = "uvicorn"
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


def _uvicorn() -> list[str]:
    """The interpreter's arguments that run uvicorn, ending with this process."""
    return ["-c", _ENDS_WITH_LAUNCHER, str(os.getpid())]
