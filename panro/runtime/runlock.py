"""One pipeline run at a time per data directory (a second run fails fast instead of racing)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from panro.settings import DataDirs


class RunInProgress(RuntimeError):
    pass


@contextmanager
def run_lock(dirs: DataDirs) -> Iterator[None]:
    dirs.state.mkdir(parents=True, exist_ok=True)
    path = dirs.state / "run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(f"another panro run holds {path}; wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed
