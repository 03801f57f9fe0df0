"""What a run is doing, stage by stage, told as it happens (issue 25).

The flow tells `started(stage, detail, total)`, `advanced(stage, done, total)` and
`finished(stage, detail, seconds)`; who listens is the caller's choice. By default (a deployment's
run on a worker) each stage's start and end is a line of the flow run's log. The command line
installs its own listener (`reporting(...)`, panro.runtime.console): a line per stage on stderr, and a
progress bar while files are extracted and batches checked when stderr is a terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Listener(Protocol):
    def started(self, stage: str, detail: str, total: int | None) -> None: ...

    def advanced(self, stage: str, done: int, total: int) -> None: ...

    def finished(self, stage: str, detail: str, seconds: float) -> None: ...


def _logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:   # outside a Prefect run
        return logging.getLogger("panro.runtime.progress")


class LogListener:
    """Each stage's start and end as a line of the run's log (the bar's steps are not logged)."""

    def started(self, stage: str, detail: str, total: int | None) -> None:
        _logger().info("%s: %s", stage, detail)

    def advanced(self, stage: str, done: int, total: int) -> None:
        pass

    def finished(self, stage: str, detail: str, seconds: float) -> None:
        _logger().info("%s: %s (%s)", stage, detail, elapsed(seconds))


_listener: Listener = LogListener()


@contextmanager
def reporting(listener: Listener) -> Iterator[Listener]:
    """Tell `listener` what runs in this process do while the block runs."""
    global _listener
    saved, _listener = _listener, listener
    try:
        yield listener
    finally:
        _listener = saved


def elapsed(seconds: float) -> str:
    """`0.4 s`, `12.3 s`, `2 min 05 s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def started(stage: str, detail: str, total: int | None = None) -> None:
    """`stage` begins: what it found (`detail`), and how many steps its bar has (`total`), if any."""
    try:
        _listener.started(stage, detail, total)
    except Exception:   # telling never fails the run
        logging.getLogger("panro.runtime.progress").debug("progress listener failed", exc_info=True)


def advanced(stage: str, done: int, total: int) -> None:
    try:
        _listener.advanced(stage, done, total)
    except Exception:
        logging.getLogger("panro.runtime.progress").debug("progress listener failed", exc_info=True)


def finished(stage: str, detail: str, seconds: float) -> None:
    try:
        _listener.finished(stage, detail, seconds)
    except Exception:
        logging.getLogger("panro.runtime.progress").debug("progress listener failed", exc_info=True)
