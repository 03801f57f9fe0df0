"""Loaded into a helpers' forkserver by a test (tests/test_helpers_exit.py): an object whose finalizer
leaves a mark in $PANRO_EXIT_PROBE when Python's finalization reaches it at the process's exit."""

import os
from pathlib import Path


class _Probe:
    def __init__(self) -> None:
        self.pid = os.getpid()

    def __del__(self) -> None:
        if os.getpid() == self.pid:   # the forkserver itself, not a forked helper
            Path(os.environ["PANRO_EXIT_PROBE"]).write_text("finalized")


probe = _Probe()
