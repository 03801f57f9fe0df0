"""The nightly pipeline, as Prefect flows.

    discover → extract → audit (gate) → transform (dbt build) → publish → report

`nightly(run_date)` processes business date D (default: yesterday in KST) plus every late or
corrected file found since the last run; `backfill(start, end)` does the same for a range as one
run: one extraction over all files, one gate pass, one dbt build, one publication.
A partner's bad file or quarantined batch never stops the others; a failed dbt build publishes
nothing, and analysts keep the previous publication.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context
from prefect.futures import as_completed
from prefect.states import Failed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from panro import dbt_failures, engines, faults, feed_alerts, freshness, gate, lake, notify, report, transform
from panro.extract.extract import ExtractContext, FeedSegments, FileDone, extract
from panro.extract.extract import extract_feed as _extract_feed
from panro.gate.docs import DocsJob
from panro.gate.wap import CheckRun, FeedCheck, FeedJob
from panro.gate.wap import check as _check_feed
from panro.ledger import Ledger
from panro.outcome import RunOutcome, batches_touched_since, describe, schema_drift
from panro.publish import publish
from panro.runlock import run_lock
from panro.settings import DataDirs

KST = dt.timezone(dt.timedelta(hours=9), "KST")
T = TypeVar("T")


class FeedsOverdue(RuntimeError):
    """`fail_on_overdue`: the run published, and a feed is overdue — the flow run fails on purpose
    (`_finish`). `summary` is what the flow would have returned (the CLI prints it and exits 2)."""

    def __init__(self, summary: dict) -> None:
        names = ", ".join(f"{f['partner']}/{f['feed']} (last {f['last_business_date']})" for f in summary["overdue"])
        super().__init__(f"{len(summary['overdue'])} feed(s) overdue: {names}")
        self.summary = summary


class TransformFailed(RuntimeError):
    """dbt build (models or tests) failed: nothing is published. `failed` names each failing node and,
    for a data test, the published batches its rows come from (plain data, for the report)."""

    def __init__(self, message: str, failed: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.failed = failed or []


def _transient_io(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only I/O that may succeed on a second try (network, remote storage), never data errors."""
    try:
        state.result()
    except (TimeoutError, ConnectionError, BlockingIOError, InterruptedError):
        return True
    except OSError as e:
        return not isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError))
    except BaseException:
        return False
    return False


def _timed(timings: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    faults.arm(name)
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = round(time.perf_counter() - t0, 2)


# -- the units of work: mapped over the run's task runner (panro.engines) --------------------------
# Each takes and returns plain data; the ledger, the decisions and the publication stay in the flow.

@task(name="extract", task_run_name="extract {unit.label}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=[10, 60], retry_condition_fn=_transient_io, timeout_seconds=1800)
def extract_feed(context: ExtractContext, unit: FeedSegments) -> list[FileDone]:
    """Decode a feed's new landing files and write them as raw segment files (durable when it
    returns); what the ledger is to learn of each file, bad ones with their reason."""
    return _extract_feed(context, unit)


@task(name="check", task_run_name="check {job.contract.name}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=[10, 60], retry_condition_fn=_transient_io, timeout_seconds=1800)
def check_feed(run: CheckRun, job: FeedJob) -> FeedCheck:
    """Validate one feed's pending batches with its GX suites: each batch's failures, no rows."""
    return _check_feed(run, job)


@task(name="data-docs", cache_policy=NO_CACHE, timeout_seconds=900)
def render_data_docs(job: DocsJob) -> Path:
    """The gate's Data Docs, from the results its checks stored (rendered while dbt builds)."""
    return job.build()


def _mapped(runner: TaskRunner, unit: Any, shared: str, each: str) -> Callable[[Any, list], Iterator[Any]]:
    """`unit` mapped over `runner`: (what every call shares, the list to map over) → each call's result,
    in the order they finish (so the flow records one while the workers do the next)."""
    def run(common: Any, items: list) -> Iterator[Any]:
        futures = runner.map(unit, {shared: unmapped(common), each: items})
        for future in as_completed(list(futures)):
            yield future.result()
    return run


# -- the stages ----------------------------------------------------------------------------------

def reach_storage(dirs: DataDirs) -> None:
    """List the landing and the lake once, before any work: an object store that does not answer (or
    refuses, or has no such bucket) fails the run here, with its URL, and nothing is published."""
    lake.check_reachable(dirs.landing_url, "landing")
    if dirs.lake_url is not None:
        lake.check_reachable(dirs.lake_url, "lake")


def extract_feeds(dirs: DataDirs, dates: list[dt.date], ledger: Ledger, runner: TaskRunner) -> Any:
    """Decode every selected landing file into a raw batch (bad files are recorded, not raised): each
    feed's files on the task runner, the ledger here, as they come back."""
    result = extract(dirs, dates, ledger=ledger, run_feeds=_mapped(runner, extract_feed, "context", "unit"))
    get_run_logger().info("extract: %s", result.summary())
    return result


def audit_batches(dirs: DataDirs, ledger: Ledger, run_id: str, runner: TaskRunner) -> Any:
    """Validate every extracted batch with its GX suite (the feeds on the task runner); publish, reject
    rows, or quarantine here. Its Data Docs are left to render while dbt builds (`run_pipeline`)."""
    result = gate.audit(dirs, ledger, run_id=run_id, docs="later",
                        check_feeds=_mapped(runner, check_feed, "run", "job"))
    get_run_logger().info("gate: %s", result.summary())
    return result


@task(name="freshness", cache_policy=NO_CACHE, timeout_seconds=300)
def feed_freshness(dirs: DataDirs, ledger: Ledger, run_date: dt.date) -> list[dict[str, object]]:
    """Every contracted feed's status as of the run's business date, from the ledger, written beside the
    published index for dbt (`published/_feeds.parquet`: mart_feed_status, the marts' completeness)."""
    feeds = freshness.refresh(dirs, ledger, run_date)
    for f in freshness.overdue(feeds):
        get_run_logger().warning("overdue: %s/%s — no published file since %s (%s days; overdue after %s)",
                                 f["partner"], f["feed"], f["last_business_date"], f["days_since_last"],
                                 f["overdue_after_days"])
    return feeds


@task(name="transform", cache_policy=NO_CACHE, timeout_seconds=3600)
def build_marts(dirs: DataDirs) -> Any:
    """dbt build (models and data tests) into the private work warehouse: incremental, or in full
    after the dbt project changed (panro.transform.build_for_run), with dbt's runner in this process.

    dbt's unit tests check the SQL logic, not the night's data: they run in the test suite, not here."""
    log = get_run_logger()
    result = transform.build_for_run(dirs)
    if not result.success:
        failed = dbt_failures.trace(dirs.work_warehouse, result.failed_nodes)
        lines = [f.describe() for f in failed] or list(result.failures[:10])
        for line in lines:
            log.error("%s", line)
        raise TransformFailed("dbt build failed: " + "; ".join(lines[:10]), [f.to_dict() for f in failed])
    log.info("dbt build passed in %.1f s", result.elapsed)
    return result


@task(name="publish", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_transient_io, timeout_seconds=900)
def publish_marts(dirs: DataDirs, run_id: str) -> Any:
    """Swap the new marts in for analysts: warehouse file and Parquet folder, atomically."""
    publication = publish(dirs, run_id)
    get_run_logger().info("published %d tables to %s", len(publication.tables), publication.warehouse)
    return publication


@task(name="report", cache_policy=NO_CACHE, timeout_seconds=600)
def report_run(dirs: DataDirs, outcome: RunOutcome) -> None:
    """Prefect artifacts (batches table, KPI summary) and the HTML report under reports/, then dbt docs
    when the dbt project changed (not at the same time: both open the work warehouse)."""
    report.write(dirs, outcome)
    generated = transform.refresh_docs(dirs) if outcome.published else None
    if generated is not None and not generated.success:
        get_run_logger().warning("dbt docs could not be generated: %s", generated.summary())


# -- the flows -----------------------------------------------------------------------------------

def yesterday_kst() -> dt.date:
    return dt.datetime.now(KST).date() - dt.timedelta(days=1)


def _run_id() -> str:
    ctx = get_run_context()
    flow_run = getattr(ctx, "flow_run", None)
    return str(flow_run.id) if flow_run else uuid.uuid4().hex


def run_pipeline(dirs: DataDirs, dates: list[dt.date], kind: str, *, dask_address: str | None = None,
                 engine: str | None = None, fail_on_overdue: bool = False) -> RunOutcome:
    log = get_run_logger()
    run_id = _run_id()
    outcome = RunOutcome(run_id, kind, (min(dates), max(dates)), dt.datetime.now(dt.UTC),
                         fail_on_overdue=fail_on_overdue)
    runner = engines.task_runner(kind, address=dask_address, engine=engine)
    log.info("%s run %s for %s … %s on %s (landing %s, lake %s); extraction and checks on %s", kind, run_id,
             min(dates), max(dates), dirs.root, dirs.landing_url, dirs.lake_url or dirs.root,
             engines.describe(kind, address=dask_address, engine=engine))
    data_docs = None
    with run_lock(dirs):
        parse = threading.Thread(target=transform.parse_ahead, args=(dirs,), name="dbt-parse", daemon=True)
        parse.start()   # dbt parses the project while the run extracts and checks
        try:
            with engines.workers_report_here(), contextlib.ExitStack() as engine, \
                    Ledger(dirs.ledger_path) as ledger:
                engine.enter_context(runner)
                engines.check_reachable(runner)
                if isinstance(runner, ThreadPoolTaskRunner):
                    gate.import_in_background()   # the checks run here: GX loads while the run extracts
                ledger.start_run(run_id, kind)
                try:
                    _timed(outcome.timings, "storage", lambda: reach_storage(dirs))
                    _timed(outcome.timings, "extract", lambda: extract_feeds(dirs, dates, ledger, runner))
                    audited = _timed(outcome.timings, "audit", lambda: audit_batches(dirs, ledger, run_id, runner))
                    if audited.docs_job is not None:   # while dbt builds
                        data_docs = runner.submit(render_data_docs, {"job": quote(audited.docs_job)})
                    outcome.schema_drift = schema_drift(audited.batches)
                    outcome.feeds = _timed(outcome.timings, "freshness",
                                           lambda: feed_freshness(dirs, ledger, max(dates)))
                    if isinstance(runner, ProcessPoolTaskRunner):
                        # its workers (GX, the frames they checked) give their memory back for dbt's build
                        data_docs = _join_data_docs(data_docs)
                        engine.close()
                    parse.join()
                    _timed(outcome.timings, "transform", lambda: build_marts(dirs))
                    _timed(outcome.timings, "publish", lambda: publish_marts(dirs, run_id))
                    outcome.published = True
                except Exception as e:
                    outcome.error = f"{type(e).__name__}: {e}"
                    outcome.dbt_failures = getattr(e, "failed", [])
                    raise
                finally:
                    outcome.batches = batches_touched_since(ledger, outcome.started_at)
                    ledger.finish_run(run_id, "failed" if outcome.error else f"exit {outcome.exit_code}",
                                      outcome.error or "")
                    _join_data_docs(data_docs)
        finally:
            parse.join()   # dbt writes its target folder, which the lock's holder alone may
            _announce(dirs, outcome)  # still under the lock: the report reads the run's own warehouse
    return outcome


def _join_data_docs(rendering: Any) -> None:
    """Wait for the Data Docs (None once joined)."""
    if rendering is None:
        return
    try:
        rendering.result()
    except Exception as e:  # a report, not data: the run goes on, the failure is logged
        get_run_logger().error("could not build the GX Data Docs: %s: %s", type(e).__name__, e)


def _announce(dirs: DataDirs, outcome: RunOutcome) -> None:
    """Report and notify whatever happened; never let reporting turn a good run into a failed one."""
    log = get_run_logger()
    try:
        outcome.kpis = report.read_kpis(dirs) if outcome.published else []
        # quoted: Prefect would walk through every batch of the outcome looking for futures (twice)
        _timed(outcome.timings, "report", lambda: report_run(dirs, quote(outcome)))
    except Exception as e:  # the run's data is published; a broken report is logged, not fatal
        log.error("could not write the run report: %s: %s", type(e).__name__, e)
    for b in outcome.held_back:
        log.warning("held back: %s", describe(b.partner, b.feed, b.file_name, b.status, b.reason))
    feed_alerts.announce(dirs, outcome.feeds, {"run_id": outcome.run_id, "kind": outcome.kind})
    if outcome.exit_code == 1 or outcome.held_back:
        event = "run_failed" if outcome.exit_code == 1 else "batches_held_back"
        notify.notify(event, {
            "run_id": outcome.run_id, "kind": outcome.kind, "error": outcome.error,
            "dates": [str(d) for d in outcome.dates],
            "held_back": [{"partner": b.partner, "feed": b.feed, "file": b.file_name,
                           "status": b.status, "reason": b.reason} for b in outcome.held_back],
            "dbt_failures": outcome.dbt_failures,
        })


def _dirs(data_dir: str | None, landing: str | None, lake_url: str | None) -> DataDirs:
    return DataDirs.from_env(data_dir, landing, lake_url)


def _finish(outcome: RunOutcome) -> Any:
    """The flow's return value; with `fail_on_overdue` and a feed overdue, a Failed state holding
    FeedsOverdue (returned, not raised: the run did its work, and raising would log a traceback)."""
    summary = outcome.summary()
    if outcome.fail_on_overdue and outcome.overdue and outcome.published:
        failure = FeedsOverdue(summary)
        return Failed(message=str(failure), data=failure)
    return summary


@flow(name="panro-nightly", log_prints=True)
def nightly(run_date: str | None = None, data_dir: str | None = None, landing: str | None = None,
            dask_address: str | None = None, engine: str | None = None, fail_on_overdue: bool = False,
            lake: str | None = None) -> dict:
    """The nightly job for business date `run_date` (default: yesterday in KST), plus late files.

    `dask_address` (else PANRO_DASK_ADDRESS): extract and check on that Dask cluster; `engine`
    (else PANRO_ENGINE): `threads` (the default) or `processes` on this machine (panro.engines).
    `fail_on_overdue`: a feed overdue fails the flow run (exit status 2 on the command line).
    `landing`, `lake` (else PANRO_LANDING, PANRO_LAKE): URLs without credentials (panro.lake)."""
    day = dt.date.fromisoformat(run_date) if run_date else yesterday_kst()
    outcome = run_pipeline(_dirs(data_dir, landing, lake), [day], "nightly", dask_address=dask_address, engine=engine,
                           fail_on_overdue=fail_on_overdue)
    return _finish(outcome)


@flow(name="panro-backfill", log_prints=True)
def backfill(start: str, end: str, data_dir: str | None = None, landing: str | None = None,
             dask_address: str | None = None, engine: str | None = None, fail_on_overdue: bool = False,
             lake: str | None = None) -> dict:
    """The same as nightly for every business date from `start` to `end`, as one run (on processes
    by default: `engine`, `dask_address` as for nightly); freshness is judged as of `end`."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise ValueError(f"backfill end {last} is before its start {first}")
    dates = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    outcome = run_pipeline(_dirs(data_dir, landing, lake), dates, "backfill", dask_address=dask_address, engine=engine,
                           fail_on_overdue=fail_on_overdue)
    return _finish(outcome)


if __name__ == "__main__":  # pragma: no cover - `python -m flows.pipeline [DATE]`
    nightly(sys.argv[1] if len(sys.argv) > 1 else None, os.environ.get("PANRO_DATA_DIR"))
