"""Boot Prefect's temporary server while the pipeline's modules import.

With no `PREFECT_API_URL`, the first flow call starts a temporary Prefect server (a uvicorn
subprocess; several seconds, more on a fresh PREFECT_HOME) and waits for it. Importing the pipeline
(Prefect, its server module, Great Expectations …) also takes seconds, in this process. Started
first, the server boots on the other core while the imports run; the flow then finds it up.

It is the same server object Prefect would start itself (`SubprocessASGIServer()` is one per
process), stopped the same way when the process exits. Prefect's server module alone takes ~3 s to
import, so with the Prefect version whose start-up this mirrors, the uvicorn process is launched
before that import, with the command and environment `SubprocessASGIServer` would give it, and
handed to the server object once the module is in (`_adopt`). Any other version, or a launch that
fails, leaves it to `SubprocessASGIServer.start()` as before.

A `PREFECT_API_URL` that is set but blank (`PREFECT_API_URL=` in a shell or an env file) means no
server, as an operator expects. Prefect itself would start the temporary server for its API client
but send its events to the blank address: they are lost, and every state change logs an error with
a traceback. It is removed before Prefect reads its settings.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

MIRRORED_PREFECT = "3.9."       # SubprocessASGIServer.start / _run_uvicorn_command of this version
_START_TIMEOUT_S = 90.0


def start_in_background() -> Callable[[], None]:
    """Start the temporary server if this process will need one; returns a wait-until-up function.

    A failure to start is left to the flow call, which starts (and reports) it again.
    Call it before anything imports Prefect: a blank PREFECT_API_URL is dropped first."""
    forget_blank_api_url()
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return lambda: None
    early = _launch()

    def boot() -> None:
        # on failure start() marks the server not running: the flow call starts it again and raises
        adopted = False
        try:
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            if early is not None and not server.running:
                adopted = _adopt(server, *early)
            server.start()   # a no-op once the early process is adopted
        except Exception:
            pass
        finally:
            if early is not None and not adopted:
                _stop(early[1])

    thread = threading.Thread(target=boot, name="prefect-ephemeral-server", daemon=True)
    thread.start()
    return thread.join


def forget_blank_api_url() -> None:
    """Treat `PREFECT_API_URL=` (set, but blank) as not set: the temporary server, events included."""
    if "PREFECT_API_URL" in os.environ and not os.environ["PREFECT_API_URL"].strip():
        del os.environ["PREFECT_API_URL"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch() -> tuple[int, subprocess.Popen[Any]] | None:
    """The uvicorn process `SubprocessASGIServer._run_uvicorn_command` would start, started now."""
    import prefect
    from prefect.settings import get_current_settings

    if not prefect.__version__.startswith(MIRRORED_PREFECT):
        return None
    try:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                 "PREFECT__SERVER_FINAL": "1",
                 **get_current_settings().to_environment_variables(exclude_unset=True)},
        )
    except OSError:
        return None
    return port, process


def _adopt(server: Any, port: int, process: subprocess.Popen[Any]) -> bool:
    """Make the early process the server object's own once it answers, as `start()` would have;
    False (the server object untouched) if it never does."""
    import httpx

    deadline = time.monotonic() + _START_TIMEOUT_S
    with httpx.Client() as client:
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    server.port, server.server_process, server.running = port, process, True
                    atexit.register(server.stop)
                    return True
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
