"""The nightly pipeline, as Prefect flows.

    discover → extract → audit (gate) → transform (dbt build) → publish → report

`nightly(run_date)` processes business date D (default: yesterday in KST) plus every late or
corrected file found since the last run; `backfill(start, end)` does the same for a range as one
run: one extraction over all files, one gate pass, one dbt build, one publication.
A partner's bad file or quarantined batch never stops the others; a failed dbt build publishes
nothing, and analysts keep the previous publication.

Its stages are in flows/stages.py, the tasks they run in flows/tasks.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.states import Completed, Failed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner

from flows.stages import (
    announce,
    audit_batches,
    extract_feeds,
    join_data_docs,
    publish_new_marts,
    submit_data_docs,
    timed,
    transform_marts,
)
from flows.tasks import feed_freshness
from panro.domain.kst import yesterday_kst
from panro.extract import preflight
from panro.extract.discover import forget_listings
from panro.lake.ledger import Ledger
from panro.report import events as run_events
from panro.report.outcome import RunOutcome, batches_touched_since, not_extracted, schema_drift
from panro.runtime import engines, signals
from panro.runtime.runlock import run_lock
from panro.runtime.signals import mark_published
from panro.settings import DataDirs, owner_only
from panro.transform import build as transform


class FeedsOverdue(RuntimeError):
    """`fail_on_overdue`: the run published, and a feed is overdue — the flow run fails on purpose
    (`_finish`). `summary` is what the flow would have returned (the CLI prints it and exits 2)."""

    def __init__(self, summary: dict) -> None:
        names = ", ".join(f"{f['partner']}/{f['feed']} (last {f['last_business_date']})" for f in summary["overdue"])
        super().__init__(f"{len(summary['overdue'])} feed(s) overdue: {names}")
        self.summary = summary


# -- the run ---------------------------------------------------------------------------------------

def _run_id() -> str:
    ctx = get_run_context()
    flow_run = getattr(ctx, "flow_run", None)
    return str(flow_run.id) if flow_run else uuid.uuid4().hex


def run_pipeline(dirs: DataDirs, dates: list[dt.date], kind: str, *, dask_address: str | None = None,
                 engine: str | None = None, fail_on_overdue: bool = False, init: bool = False) -> RunOutcome:
    """The run: `preflight.Misconfigured` before anything is done when it cannot start."""
    log = get_run_logger()
    owner_only()   # what the run writes under the data directory is the pipeline's alone (PANRO_UMASK)
    run_id = _run_id()
    size = preflight.check(dirs, dates, kind, create=init or kind == "backfill")
    outcome = RunOutcome(run_id, kind, (min(dates), max(dates)), dt.datetime.now(dt.UTC),
                         fail_on_overdue=fail_on_overdue)
    runner = engines.task_runner(kind, address=dask_address, engine=engine, work_bytes=size)
    log.info("%s run %s for %s … %s on %s (landing %s, lake %s; %.1f MB dated in the run); extraction and "
             "checks on %s", kind, run_id, min(dates), max(dates), dirs.root, dirs.landing_url,
             dirs.lake_url or dirs.root, size / 2**20,
             engines.describe(kind, address=dask_address, engine=engine, work_bytes=size))
    signals.progress.update(started=True, published=False)
    try:
        return _locked_run(dirs, dates, outcome, runner, run_id)
    except BaseException as e:
        mark_published(e, outcome.published)   # the CLI's message says what happened to the data
        raise
    finally:
        forget_listings()   # the next run lists the landing afresh


def _locked_run(dirs: DataDirs, dates: list[dt.date], outcome: RunOutcome, runner: TaskRunner,
                run_id: str) -> RunOutcome:
    checks: list[Any] = []   # the gate's check task runs: dbt's build waits for them (the task graph shows it)
    data_docs = None
    stopping: list[str] = []   # why the run is being stopped (SIGTERM, Ctrl-C): no waiting, no report
    with run_lock(dirs):
        parse = threading.Thread(target=transform.parse_ahead, args=(dirs,), name="dbt-parse", daemon=True)
        parse.start()   # dbt parses the project while the run extracts and checks
        try:
            with engines.workers_report_here(), contextlib.ExitStack() as engine, \
                    Ledger(dirs.ledger_path) as ledger:
                engine.enter_context(runner)
                engine.push(engines.stop_workers_when_stopped)   # before the runner waits for its work
                engines.check_reachable(runner)
                ledger.start_run(run_id, outcome.kind)
                try:
                    extracted = timed(outcome.timings, "extract",
                                      lambda: extract_feeds(dirs, dates, ledger, runner))
                    outcome.not_extracted = not_extracted(extracted)
                    audited = timed(outcome.timings, "audit",
                                    lambda: audit_batches(dirs, ledger, run_id, runner, checks))
                    if audited.docs_job is not None:   # while dbt builds
                        data_docs = submit_data_docs(engine, runner, audited.docs_job)
                    outcome.schema_drift = schema_drift(audited.batches)
                    outcome.feeds = timed(outcome.timings, "freshness",
                                          lambda: feed_freshness(dirs, ledger, max(dates)))
                    if isinstance(runner, ProcessPoolTaskRunner):
                        # its workers (GX, the frames they checked) give their memory back for dbt's build
                        data_docs = join_data_docs(data_docs)
                        engine.close()
                    parse.join()
                    timed(outcome.timings, "transform", lambda: transform_marts(dirs, outcome, checks))
                    timed(outcome.timings, "publish", lambda: publish_new_marts(dirs, run_id))
                    outcome.published = signals.progress["published"] = True
                except Exception as e:
                    outcome.error = f"{type(e).__name__}: {e}"
                    outcome.dbt_failures = getattr(e, "failed", [])
                    raise
                except BaseException as e:   # SIGTERM (Prefect's TerminationSignal), Ctrl-C: stop now
                    stopping.append(type(e).__name__)
                    outcome.error = f"stopped ({type(e).__name__}): " + (
                        "after publishing" if outcome.published else "nothing new published")
                    raise
                finally:
                    outcome.batches = batches_touched_since(ledger, outcome.started_at)
                    ledger.finish_run(run_id, "failed" if outcome.error else f"exit {outcome.exit_code}",
                                      outcome.error or "")
                    if not stopping:
                        join_data_docs(data_docs)
        finally:
            # dbt writes its target folder, which the lock's holder alone may: a stopped run waits a
            # moment only (dbt's parse thread dies with the process)
            parse.join(timeout=2 if stopping else None)
            if not stopping:
                announce(dirs, outcome)  # still under the lock: the report reads the run's own warehouse
    return outcome


# -- the flows -------------------------------------------------------------------------------------

def _dirs(data_dir: str | None, landing: str | None, lake_url: str | None) -> DataDirs:
    return DataDirs.from_env(data_dir, landing, lake_url)


def _finish(outcome: RunOutcome) -> Any:
    """The flow run's final state, which Prefect (and its Automations) see:
    - a feed overdue with `fail_on_overdue`: Failed, holding FeedsOverdue (returned, not raised: the run
      did its work, and raising would log a traceback);
    - something held back: Completed, named "Completed with holds", its message saying how many;
    - else the summary (Completed)."""
    summary = outcome.summary()
    if outcome.fail_on_overdue and outcome.overdue and outcome.published:
        failure = FeedsOverdue(summary)
        return Failed(message=str(failure), data=failure)
    if outcome.held_back:
        return Completed(name=HELD_STATE, message=holds_message(outcome), data=summary)
    return summary


HELD_STATE = "Completed with holds"


def holds_message(outcome: RunOutcome) -> str:
    held = outcome.held_back
    feeds = sorted({f"{b.partner}/{b.feed}" for b in held})
    return (f"{len(held)} batch{'es' if len(held) != 1 else ''} held back "
            f"({', '.join(feeds[:6])}{' …' if len(feeds) > 6 else ''}); everything else published")


def _misconfigured(e: preflight.Misconfigured, kind: str, dates: tuple[dt.date, dt.date]) -> Any:
    """The run could not start: a Failed state saying what to fix (no traceback), and the event."""
    get_run_logger().error("%s", e)
    run_events.run_failed(_run_id(), kind, dates, str(e))
    return Failed(message=str(e), data=e)


# Prefect's form for a deployment's parameters shows each one's type (dates as dates) and the description
# its flow's docstring gives it (Args:). The backfill's start and end have no default: Run asks for them.


@flow(name="panro-nightly", log_prints=True)
def nightly(run_date: dt.date | None = None, data_dir: str | None = None, landing: str | None = None,
            dask_address: str | None = None, engine: str | None = None, fail_on_overdue: bool = False,
            init: bool = False, lake: str | None = None) -> dict:
    """The nightly job for business date `run_date` (default: yesterday in KST), plus late files.

    A run that held batches back ends "Completed with holds"; one that cannot start (no data directory,
    no landing, nothing delivered) fails before doing anything (panro.extract.preflight).

    Args:
        run_date: Business date D to process; empty: yesterday in KST. Late or corrected files of
            earlier dates are taken too.
        data_dir: The data directory; empty: the worker's PANRO_DATA_DIR, else ./data. It must exist
            (see init).
        landing: Where partners deliver, a folder or any fsspec URL; empty: the worker's PANRO_LANDING,
            else DATA_DIR/landing.
        dask_address: Extract and check on this Dask cluster (tcp://HOST:PORT); empty: PANRO_DASK_ADDRESS,
            else this machine.
        engine: threads or processes on this machine; empty: PANRO_ENGINE, else threads.
        fail_on_overdue: Fail the flow run when a feed is overdue (it still publishes).
        init: Create the data directory if it does not exist (a first run); else a missing one fails the run.
        lake: Where the raw, published and quarantine zones are, a folder or any fsspec URL (credentials
            and endpoint from the worker's AWS environment, never in the URL); empty: the worker's
            PANRO_LAKE, else DATA_DIR.
    """
    day = _as_date(run_date) if run_date else yesterday_kst()
    try:
        outcome = run_pipeline(_dirs(data_dir, landing, lake), [day], "nightly", dask_address=dask_address,
                               engine=engine, fail_on_overdue=fail_on_overdue, init=init)
    except preflight.Misconfigured as e:
        return _misconfigured(e, "nightly", (day, day))
    return _finish(outcome)


@flow(name="panro-backfill", log_prints=True)
def backfill(start: dt.date, end: dt.date, data_dir: str | None = None, landing: str | None = None,
             dask_address: str | None = None, engine: str | None = None, fail_on_overdue: bool = False,
             lake: str | None = None) -> dict:
    """The same as nightly for every business date from `start` to `end`, as one run; freshness is judged
    as of `end`. It creates the data directory when there is none.

    Args:
        start: First business date to process.
        end: Last business date to process, not before start.
        data_dir: The data directory; empty: the worker's PANRO_DATA_DIR, else ./data (created if missing).
        landing: Where partners deliver, a folder or any fsspec URL; empty: the worker's PANRO_LANDING,
            else DATA_DIR/landing.
        dask_address: Extract and check on this Dask cluster (tcp://HOST:PORT); empty: PANRO_DASK_ADDRESS,
            else this machine.
        engine: threads or processes on this machine; empty: PANRO_ENGINE, else processes (threads
            for less than PANRO_PROCESSES_MIN_MB of landing files).
        fail_on_overdue: Fail the flow run when a feed is overdue (it still publishes).
        lake: Where the raw, published and quarantine zones are (as for nightly).
    """
    first, last = _as_date(start), _as_date(end)
    if last < first:
        raise ValueError(f"backfill end {last} is before its start {first}")
    dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    try:
        outcome = run_pipeline(_dirs(data_dir, landing, lake), dates, "backfill", dask_address=dask_address,
                               engine=engine, fail_on_overdue=fail_on_overdue)
    except preflight.Misconfigured as e:
        return _misconfigured(e, "backfill", (first, last))
    return _finish(outcome)


def _as_date(value: dt.date | str) -> dt.date:
    """A date parameter: a date (Prefect validates the deployment's parameters), or its ISO text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


if __name__ == "__main__":  # pragma: no cover - `python -m flows.pipeline [DATE]`
    nightly(sys.argv[1] if len(sys.argv) > 1 else None, os.environ.get("PANRO_DATA_DIR"))
