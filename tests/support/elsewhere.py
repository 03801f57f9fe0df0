"""Units of work run in other processes, as a task runner's workers run them (spawned, so that
nothing reaches them but their pickled arguments): for tests that show a unit takes and returns
plain data and gives there what it gives in the run's process."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

from panro.extract.extract import FeedRunner
from panro.extract.segments import ExtractContext, FeedSegments, FileDone, extract_feed
from panro.gate.checking import CheckRun, FeedCheck, FeedChecker, FeedJob, check


@contextmanager
def processes(n: int) -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _in(pool: ProcessPoolExecutor, fn: Any) -> Any:
    def run(common: Any, items: list) -> Iterator[Any]:
        for future in as_completed([pool.submit(fn, common, item) for item in items]):
            yield future.result()
    return run


def feeds_in(pool: ProcessPoolExecutor) -> FeedRunner:
    run: FeedRunner = _in(pool, extract_feed)
    return run


def checks_in(pool: ProcessPoolExecutor) -> FeedChecker:
    run: FeedChecker = _in(pool, check)
    return run


__all__ = ["CheckRun", "ExtractContext", "FeedCheck", "FeedJob", "FeedSegments", "FileDone", "checks_in", "feeds_in",
           "processes"]
