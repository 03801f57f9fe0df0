"""One pipeline run at a time per data directory (a second run fails fast instead of racing).

Every writer of the data directory's state takes this lock: a run, `quarantine release` and
`quarantine hold`; `quarantine list` and `show` take it too (the ledger is DuckDB: one process
opens it at a time). A command that finds it held waits up to `wait` seconds (default
`PANRO_LOCK_WAIT`, else 0), then refuses with one sentence (`RunInProgress`).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from panro.settings import DataDirs

WAIT_VAR = "PANRO_LOCK_WAIT"


class RunInProgress(RuntimeError):
    pass


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


def default_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_VAR, "0") or 0))
    except ValueError:
        return 0.0


@contextmanager
def run_lock(dirs: DataDirs, wait: float | None = None, doing: str = "") -> Iterator[None]:
    """Hold the data directory's run lock; `doing` names what waits for it, for the refusal."""
    wait = default_wait() if wait is None else wait
    dirs.state.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = dirs.state / "run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    what = f"; {doing} waits until it ends" if doing else ""
                    waited = f" (waited {wait:.0f} s)" if wait else ""
                    raise RunInProgress(f"another panro run{_holder(fd)} holds {path}{waited}: try again when it "
                                        f"has finished{what}") from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed
