"""Boot Prefect's temporary server while the pipeline's modules import.

With no `PREFECT_API_URL`, the first flow call starts a temporary Prefect server (a uvicorn
subprocess; several seconds, more on a fresh PREFECT_HOME) and waits for it. Importing the pipeline
(Prefect, Great Expectations, pandas …) also takes seconds, in this process. Started first, in a
thread, the server boots on the other core while the imports run; the flow then finds it up.
It is the same server object Prefect would start itself (`SubprocessASGIServer()` is one per
process), stopped the same way when the process exits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable


def start_in_background() -> Callable[[], None]:
    """Start the temporary server if this process will need one; returns a wait-until-up function.

    A failure to start is left to the flow call, which starts (and reports) it again."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return lambda: None
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()

    def boot() -> None:
        # on failure start() marks the server not running: the flow call starts it again and raises
        with contextlib.suppress(Exception):
            server.start()

    thread = threading.Thread(target=boot, name="prefect-ephemeral-server", daemon=True)
    thread.start()
    return thread.join
