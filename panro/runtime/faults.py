"""Crash injection for resilience tests: `PANRO_KILL_AT` makes the process die like `kill -9` would.

    PANRO_KILL_AT=transform@1.5     SIGKILL 1.5 s into the transform stage (mid-stage, wherever it is)
    PANRO_KILL_AT=publish.swap      SIGKILL at the named point (between the warehouse and Parquet swaps)

Unset (always, outside tests) it does nothing. It exists so tests can show that a run killed at any
point leaves the published data intact and that the next run completes the work.
"""

from __future__ import annotations

import os
import signal
import threading

_VAR = "PANRO_KILL_AT"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(stage: str) -> None:
    """At the start of a stage: if asked to die `stage@seconds` into it, set the timer."""
    spec = os.environ.get(_VAR, "")
    name, _, delay = spec.partition("@")
    if name == stage and delay:
        timer = threading.Timer(float(delay), _die)
        timer.daemon = True
        timer.start()


def checkpoint(point: str) -> None:
    """At a named point: die here if asked to."""
    if os.environ.get(_VAR) == point:
        _die()
