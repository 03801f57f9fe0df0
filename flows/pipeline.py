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
from prefect.states import Completed, Failed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from panro import gate
from panro.extract import preflight
from panro.extract.discover import forget_listings
from panro.extract.extract import extract
from panro.extract.segments import ExtractContext, FeedSegments, FileDone
from panro.extract.segments import extract_feed as _extract_feed
from panro.freshness import alerts as feed_alerts
from panro.freshness import status as freshness
from panro.gate.checking import CheckRun, FeedCheck, FeedJob
from panro.gate.checking import check as _check_feed
from panro.gate.docs import DocsJob
from panro.lake.ledger import Ledger
from panro.publish.warehouse import publish
from panro.report import events as run_events
from panro.report import figures
from panro.report import html as report
from panro.report.outcome import (
    RunOutcome,
    batches_touched_since,
    describe,
    not_extracted,
    schema_drift,
)
from panro.runtime import engines, faults, notify, progress, signals
from panro.runtime.runlock import run_lock
from panro.runtime.signals import mark_published
from panro.settings import DataDirs, owner_only
from panro.transform import build as transform
from panro.transform import failures as dbt_failures

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

    def __init__(self, message: str, failed: list[dict[str, object]] | None = None,
                 models: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.failed = failed or []
        self.models = models or []   # every dbt node's result (panro.transform.build.DbtRun.results)


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


# -- the units of work: mapped over the run's task runner (panro.runtime.engines) --------------------------
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


def _mapped(runner: TaskRunner, unit: Any, shared: str, each: str, *, stage: str, size: Callable[[Any], int],
            futures: list[Any] | None = None) -> Callable[[Any, list], Iterator[Any]]:
    """`unit` mapped over `runner`: (what every call shares, the list to map over) → each call's result,
    in the order they finish (so the flow records one while the workers do the next). Each result
    advances `stage`'s progress by `size(item)` (files, batches); `futures` collects the task runs
    (for the tasks that follow them: `wait_for`)."""
    def run(common: Any, items: list) -> Iterator[Any]:
        mapped = list(runner.map(unit, {shared: unmapped(common), each: items}))
        if futures is not None:
            futures.extend(mapped)
        sizes = {id(f): size(item) for f, item in zip(mapped, items, strict=True)}
        total, done = sum(sizes.values()), 0
        for future in as_completed(mapped):
            result = future.result()
            done += sizes[id(future)]
            progress.advanced(stage, done, total)
            yield result
    return run


# -- the stages ----------------------------------------------------------------------------------

def _files(unit: Any) -> int:
    return sum(len(s.files) for s in unit.segments)


def extract_feeds(dirs: DataDirs, dates: list[dt.date], ledger: Ledger, runner: TaskRunner) -> Any:
    """Decode every selected landing file into a raw batch (bad files are recorded, not raised): each
    feed's files on the task runner, the ledger here, as they come back."""
    mapped = _mapped(runner, extract_feed, "context", "unit", stage="extract", size=_files)

    told: list[bool] = []

    def run_feeds(context: Any, units: list) -> Iterator[Any]:
        files = sum(_files(u) for u in units)
        progress.started("extract", f"{progress.plural(files, 'new or changed file')} of "
                         f"{progress.plural(len(units), 'feed')} to decode", total=files)
        told.append(True)
        yield from mapped(context, units)

    t0 = time.perf_counter()
    result = extract(dirs, dates, ledger=ledger, run_feeds=run_feeds)
    if not told:   # nothing new in the landing: the units were never mapped
        progress.started("extract", "no new or changed file to decode")
    t = result.totals()
    progress.finished("extract", f"{progress.plural(t['extracted'], 'file')} extracted, {t['rows']:,} rows; "
                      f"{t['unchanged']:,} unchanged, {t['failed']:,} failed, {t['unmatched']:,} unmatched",
                      time.perf_counter() - t0)
    get_run_logger().info("extract: %s", result.summary())
    return result


def audit_batches(dirs: DataDirs, ledger: Ledger, run_id: str, runner: TaskRunner, checks: list[Any]) -> Any:
    """Validate every extracted batch with its GX suite (the feeds on the task runner); publish, reject
    rows, or quarantine here. Its Data Docs are left to render while dbt builds (`run_pipeline`).
    `checks` collects the check task runs (dbt's build waits for them: the task graph shows it)."""
    mapped = _mapped(runner, check_feed, "run", "job", stage="audit", size=lambda job: len(job.batches),
                     futures=checks)

    told: list[bool] = []

    def check_feeds(run: Any, jobs: list) -> Iterator[Any]:
        batches = sum(len(j.batches) for j in jobs)
        rows = sum(j.rows for j in jobs)
        progress.started("audit", f"{progress.plural(batches, 'batch', 'batches')} ({rows:,} rows) of "
                         f"{progress.plural(len(jobs), 'feed')} to check", total=batches)
        told.append(True)
        yield from mapped(run, jobs)

    t0 = time.perf_counter()
    result = gate.audit(dirs, ledger, run_id=run_id, docs="later", check_feeds=check_feeds)
    if not told:
        progress.started("audit", "no batch to check")
    c = result.counts()
    progress.finished("audit", f"{progress.plural(len(result.batches), 'batch', 'batches')}: {c['published']:,} "
                      f"published, {c['published_with_rejections']:,} with rows rejected, {c['quarantined']:,} "
                      f"quarantined; {result.rows_published:,} rows published", time.perf_counter() - t0)
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
    after the dbt project changed (panro.transform.build.build_for_run), with dbt's runner in this process.

    dbt's unit tests check the SQL logic, not the night's data: they run in the test suite, not here."""
    log = get_run_logger()
    result = transform.build_for_run(dirs)
    models = [dict(r) for r in result.results]
    if not result.success:
        failed = dbt_failures.trace(dirs.work_warehouse, result.failed_nodes)
        lines = [f.describe() for f in failed] or list(result.failures[:10])
        for line in lines:
            log.error("%s", line)
        raise TransformFailed("dbt build failed: " + "; ".join(lines[:10]), [f.to_dict() for f in failed], models)
    log.info("dbt build passed in %.1f s", result.elapsed)
    return models


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


def _transform(dirs: DataDirs, outcome: RunOutcome, checks: list[Any]) -> None:
    """dbt build, after the gate's checks (`wait_for`: the task graph shows the marts follow the audit)."""
    progress.started("transform", "dbt build of the marts from the published batches")
    t0 = time.perf_counter()
    try:
        outcome.dbt_models = build_marts(dirs, wait_for=checks)
    except TransformFailed as e:
        outcome.dbt_models = e.models
        progress.finished("transform", f"dbt build FAILED: {_dbt_counts(e.models)}", time.perf_counter() - t0)
        raise
    progress.finished("transform", f"dbt build passed: {_dbt_counts(outcome.dbt_models)}", time.perf_counter() - t0)


def _dbt_counts(models: list[dict[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for m in models:
        kinds[str(m["status"])] = kinds.get(str(m["status"]), 0) + 1
    return f"{progress.plural(len(models), 'node')} (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")"


def _publish(dirs: DataDirs, run_id: str) -> None:
    progress.started("publish", "swapping the new marts in for analysts")
    t0 = time.perf_counter()
    publication = publish_marts(dirs, run_id)
    progress.finished("publish", f"{progress.plural(len(publication.tables), 'table')} published to "
                      f"{publication.warehouse}", time.perf_counter() - t0)


def run_pipeline(dirs: DataDirs, dates: list[dt.date], kind: str, *, dask_address: str | None = None,
                 engine: str | None = None, fail_on_overdue: bool = False, init: bool = False) -> RunOutcome:
    """The run: `preflight.Misconfigured` before anything is done when it cannot start."""
    log = get_run_logger()
    owner_only()   # what the run writes under the data directory is the pipeline's alone (PANRO_UMASK)
    run_id = _run_id()
    preflight.check(dirs, dates, kind, create=init or kind == "backfill")
    outcome = RunOutcome(run_id, kind, (min(dates), max(dates)), dt.datetime.now(dt.UTC),
                         fail_on_overdue=fail_on_overdue)
    runner = engines.task_runner(kind, address=dask_address, engine=engine)
    log.info("%s run %s for %s … %s on %s (landing %s, lake %s); extraction and checks on %s", kind, run_id,
             min(dates), max(dates), dirs.root, dirs.landing_url, dirs.lake_url or dirs.root,
             engines.describe(kind, address=dask_address, engine=engine))
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
                if isinstance(runner, ThreadPoolTaskRunner):
                    gate.import_in_background()   # the checks run here: GX loads while the run extracts
                ledger.start_run(run_id, outcome.kind)
                try:
                    extracted = _timed(outcome.timings, "extract",
                                       lambda: extract_feeds(dirs, dates, ledger, runner))
                    outcome.not_extracted = not_extracted(extracted)
                    audited = _timed(outcome.timings, "audit",
                                     lambda: audit_batches(dirs, ledger, run_id, runner, checks))
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
                    _timed(outcome.timings, "transform", lambda: _transform(dirs, outcome, checks))
                    _timed(outcome.timings, "publish", lambda: _publish(dirs, run_id))
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
                        _join_data_docs(data_docs)
        finally:
            # dbt writes its target folder, which the lock's holder alone may: a stopped run waits a
            # moment only (dbt's parse thread dies with the process)
            parse.join(timeout=2 if stopping else None)
            if not stopping:
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
        outcome.kpis = figures.read_kpis(dirs.warehouse) if outcome.published else []
        progress.started("report", "the run's report and Prefect artifacts")
        # quoted: Prefect would walk through every batch of the outcome looking for futures (twice)
        _timed(outcome.timings, "report", lambda: report_run(dirs, quote(outcome)))
        progress.finished("report", f"{dirs.reports / 'latest.html'}", outcome.timings["report"])
    except Exception as e:  # the run's data is published; a broken report is logged, not fatal
        log.error("could not write the run report: %s: %s", type(e).__name__, e)
    for b in outcome.held_back:
        log.warning("held back: %s", describe(b.partner, b.feed, b.file_name, b.status, b.reason))
    run_events.announce(outcome)   # Prefect events, for Prefect Automations
    for n in outcome.not_extracted:
        log.warning("not extracted: %s", n["reason"])
    feed_alerts.announce(dirs, outcome.feeds, {"run_id": outcome.run_id, "kind": outcome.kind})
    try:
        _notify(outcome)
    except Exception as e:  # a notification never decides a run's outcome (notify itself never raises)
        log.error("could not notify: %s: %s", type(e).__name__, e)


def _notify(outcome: RunOutcome) -> None:
    if outcome.exit_code == 1 or outcome.held_back or outcome.not_extracted:
        event = "run_failed" if outcome.exit_code == 1 else "batches_held_back"
        notify.notify(event, {
            "run_id": outcome.run_id, "kind": outcome.kind, "error": outcome.error,
            "dates": [str(d) for d in outcome.dates],
            "held_back": [{"partner": b.partner, "feed": b.feed, "file": b.file_name,
                           "status": b.status, "reason": b.reason} for b in outcome.held_back],
            "not_extracted": outcome.not_extracted,
            "dbt_failures": outcome.dbt_failures,
        })


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
        engine: threads or processes on this machine; empty: PANRO_ENGINE, else processes.
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
