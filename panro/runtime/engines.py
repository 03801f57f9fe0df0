"""Where a run's units of work run: one of Prefect's task runners, chosen by configuration.

The flows map two kinds of unit over a task runner (flows/stages.py): extraction's segments (a
feed's landing files, decoded and written as one raw file) and the gate's feeds (a feed's pending
batches, checked with GX); the Data Docs render as one more task. Everything else (the ledger, the
decisions, the publication, dbt) stays in the flow's process.

- a Dask scheduler's address (`dask_address`, or `PANRO_DASK_ADDRESS`, as `tcp://HOST:PORT`): the
  units run on that cluster's workers (prefect-dask's `DaskTaskRunner`). A worker needs the project
  installed and the data directory and landing reachable at the same paths or URLs as the run, and
  the run's Prefect API (a `PREFECT_API_URL` the workers reach, when they are on other machines);
- otherwise `engine` (or `PANRO_ENGINE`): `threads` (`ThreadPoolTaskRunner`, the flow's process)
  or `processes` (Prefect's `ProcessPoolTaskRunner`, spawned processes on this machine);
- by default, a nightly on threads (too little work for processes to pay) and a backfill on
  processes, one per core: decoding partner files and GX's pandas validation hold the GIL, so one
  process works on about one core. A backfill of less than `settings.PROCESSES_MIN_BYTES` of landing
  files runs on threads too: a spawned worker imports panro, Prefect and GX (about 5 s of a core)
  before its first unit, more than a second core saves on a few megabytes (decision 0032).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from panro import settings

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

DASK_ADDRESS_VAR = "PANRO_DASK_ADDRESS"
ENGINE_VAR = "PANRO_ENGINE"
LOCAL_ENGINES = ("threads", "processes")


class EngineUnavailable(RuntimeError):
    """The configured engine cannot run the work (no scheduler answers at the address, a bad name)."""


def dask_address(given: str | None = None) -> str | None:
    """The Dask scheduler to run on: the one given, else `PANRO_DASK_ADDRESS`; None for neither (or blank)."""
    return (given or os.environ.get(DASK_ADDRESS_VAR) or "").strip() or None


def local_engine(kind: str, given: str | None = None, *, work_bytes: int | None = None) -> str:
    """`threads` or `processes`: the one given, else `PANRO_ENGINE`, else by the run's kind and size
    (`work_bytes`: the landing files the run may decode; None: not known, taken as big)."""
    engine = (given or os.environ.get(ENGINE_VAR) or "").strip() or _by_size(kind, work_bytes)
    if engine not in LOCAL_ENGINES:
        raise EngineUnavailable(f"unknown engine {engine!r} ({ENGINE_VAR} or the flow's `engine`): "
                                f"expected one of {', '.join(LOCAL_ENGINES)}, or a Dask scheduler's address "
                                f"in {DASK_ADDRESS_VAR} / --dask-address")
    return engine


def _by_size(kind: str, work_bytes: int | None) -> str:
    if kind != "backfill" or (work_bytes is not None and work_bytes < settings.PROCESSES_MIN_BYTES):
        return "threads"
    return "processes"


def describe(kind: str, *, address: str | None = None, engine: str | None = None,
             work_bytes: int | None = None) -> str:
    """Where a run of `kind` runs its units, in words (for the run's log)."""
    address = dask_address(address)
    return f"the Dask cluster at {address}" if address else f"local {local_engine(kind, engine, work_bytes=work_bytes)}"


def task_runner(kind: str, *, address: str | None = None, engine: str | None = None,
                work_bytes: int | None = None) -> TaskRunner:
    """A new, unstarted task runner for a run of `kind` ("nightly" or "backfill"), of `work_bytes` of
    landing files (`local_engine`): use it as a context manager around the units' `map`/`submit` calls
    (`connected` starts it and checks it)."""
    address = dask_address(address)
    if address:
        if "://" not in address:
            raise EngineUnavailable(f"not a Dask scheduler address: {address!r} (expected tcp://HOST:PORT)")
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    if local_engine(kind, engine, work_bytes=work_bytes) == "processes":
        return ProcessPoolTaskRunner(max_workers=settings.WORKERS, initializer=end_with_the_run)
    return ThreadPoolTaskRunner(max_workers=settings.WORKERS)


def end_with_the_run() -> None:
    """In a process-pool worker (the runner's `initializer`): end as soon as the run's process is
    gone. A run killed with SIGKILL (a scheduler's timeout, the OOM killer) leaves its pool's workers
    waiting for work forever otherwise, each holding its imports and GX; one still decoding would go
    on writing raw files nobody records. The worker waits on its parent's sentinel, which
    multiprocessing closes when the parent exits, however it ended."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGKILL)   # its work is the run's, and the run is gone

    threading.Thread(target=watch, name="end-with-the-run", daemon=True).start()


def stop_workers() -> int:
    """Kill this process's multiprocessing children (a process pool's workers) now: a run being
    stopped does not wait for their decoding or checks to end, and none of them outlives it. Their
    results would not be recorded anyway; what they wrote is durable or a temporary file (a raw
    segment is renamed into place once complete). Returns how many were killed."""
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
    for child in children:
        child.join(timeout=5)
    return len(children)


def stop_workers_when_stopped(exc_type: type[BaseException] | None, *_: object) -> bool:
    """An exit callback (`ExitStack.push`) for a run's task runner: when the run is being stopped —
    SIGTERM (Prefect raises its TerminationSignal), Ctrl-C — kill the pool's workers before the runner
    waits for them (which took the rest of their work: 80-120 s). An error of the run's own
    (`Exception`) leaves them to finish as usual."""
    if exc_type is not None and not issubclass(exc_type, Exception):
        stop_workers()
    return False


def check_reachable(runner: TaskRunner) -> None:
    """For a started Dask runner: connect now, so that a scheduler nobody runs fails the run before
    it does any work, with its address (the runner would otherwise connect at its first task)."""
    prefect_dask = sys.modules.get("prefect_dask")
    if prefect_dask is None or not isinstance(runner, prefect_dask.DaskTaskRunner):
        return
    try:
        runner.client  # noqa: B018 - prefect-dask connects on first access
    except (OSError, TimeoutError) as e:
        raise EngineUnavailable(f"no Dask scheduler answers at {runner.address}: {type(e).__name__}: {e}") from e


def workers_report_here() -> AbstractContextManager[object]:
    """Within a flow: the API its task runs report to, named for workers in other processes.

    Without `PREFECT_API_URL`, a flow runs on Prefect's temporary server, which its process starts
    and which no setting names: a process-pool or Dask worker would start a temporary server of its
    own for the task runs it is given (seconds each, and the flow's run would not see them). The
    flow's own server is named in the settings the task runners pass their workers."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        return nullcontext()
    with get_client(sync_client=True) as client:
        url = str(client.api_url).rstrip("/")
    return temporary_settings(updates={PREFECT_API_URL: url})
