"""Stopping a run on request (issue 28): SIGTERM stops it within seconds, and says what it did.

`stop_on_sigterm` makes SIGTERM raise `Stopped` in the main thread (during a flow, Prefect's own handler
raises its TerminationSignal instead, then hands the signal back to this one). The flow kills its
pool's workers and skips its report (flows/pipeline.py); the command line prints `stopped_message`:
whether the run had published, read from the exception (`mark_published`, below).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_STOPPED = 128 + signal.SIGTERM   # what a shell reports for a process ended by SIGTERM


# what this process's run has done so far (set by flows/pipeline.py), for a stop outside its stages
progress = {"started": False, "published": False}


class Stopped(BaseException):
    """The process was asked to stop (SIGTERM)."""


def _raise(signum: int, _frame: Any) -> None:
    raise Stopped(signal.Signals(signum).name)


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within: SIGTERM raises `Stopped` (main thread only; elsewhere nothing changes)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:   # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped_message(error: BaseException) -> str:
    """One sentence: the run was stopped, and what happened to the data."""
    why = "SIGTERM" if isinstance(error, Stopped) or type(error).__name__ == "TerminationSignal" else \
        "Ctrl-C" if isinstance(error, KeyboardInterrupt) else type(error).__name__
    published = published_before(error)
    if published is None and progress["started"]:
        published = progress["published"]
    if published:
        return f"stopped ({why}) after the run PUBLISHED its new marts (analysts see tonight's data)"
    if published is None:
        return (f"stopped ({why}) before the run began: nothing was published (analysts keep the previous "
                "publication)")
    return f"stopped ({why}): the run published nothing new (analysts keep the previous publication)"


def mark_published(error: BaseException, published: bool) -> None:
    """Tell whoever catches `error` whether the run had published its marts before it failed."""
    with contextlib.suppress(AttributeError, TypeError):  # an exception type without a __dict__
        error.panro_published = published  # type: ignore[attr-defined]


def published_before(error: BaseException) -> bool | None:
    """Whether the run had published when `error` (or an error it hides) was raised; None: unknown."""
    seen, link = set(), error
    while link is not None and id(link) not in seen:   # a later error hides the first
        seen.add(id(link))
        published = getattr(link, "panro_published", None)
        if published is not None:
            return bool(published)
        link = link.__context__ or link.__cause__
    return None
