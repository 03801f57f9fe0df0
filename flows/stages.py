"""The stages of a run, as the flow calls them: each tells its progress (panro.runtime.progress),
maps its units over the run's task runner or calls its task (flows/tasks.py), and returns what
the flow records (`timed`: how long each took). The last, `announce`, reports and notifies whatever
happened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from prefect import get_run_logger, unmapped
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.tasks import (
    TransformFailed,
    build_marts,
    check_feed,
    extract_feed,
    publish_marts,
    render_data_docs,
    report_run,
)
from panro import gate
from panro.extract.extract import extract
from panro.freshness import alerts as feed_alerts
from panro.lake.ledger import Ledger
from panro.report import events as run_events
from panro.report import figures
from panro.report.outcome import RunOutcome, describe
from panro.runtime import faults, notify, progress
from panro.settings import DataDirs

T = TypeVar("T")


def timed(timings: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    faults.arm(name)
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = round(time.perf_counter() - t0, 2)


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
        if isinstance(runner, ThreadPoolTaskRunner):
            gate.import_in_background()   # the checks will run here: GX loads while the files decode
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


def transform_marts(dirs: DataDirs, outcome: RunOutcome, checks: list[Any]) -> None:
    """dbt build, after the gate's checks (`wait_for`: the task graph shows the marts follow the audit)."""
    progress.started("transform", "dbt build of the marts from the published batches")
    t0 = time.perf_counter()
    try:
        built = build_marts(dirs, wait_for=checks)
    except TransformFailed as e:
        outcome.dbt_models = e.models
        progress.finished("transform", f"dbt build FAILED: {_dbt_counts(e.models)}", time.perf_counter() - t0)
        raise
    outcome.dbt_models = built["models"]
    progress.finished("transform", f"dbt build passed: {_dbt_counts(outcome.dbt_models)}; {built['scope']}",
                      time.perf_counter() - t0)


def _dbt_counts(models: list[dict[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for m in models:
        kinds[str(m["status"])] = kinds.get(str(m["status"]), 0) + 1
    return f"{progress.plural(len(models), 'node')} (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")"


def publish_new_marts(dirs: DataDirs, run_id: str) -> None:
    progress.started("publish", "swapping the new marts in for analysts")
    t0 = time.perf_counter()
    publication = publish_marts(dirs, run_id)
    progress.finished("publish", f"{progress.plural(len(publication.tables), 'table')} published to "
                      f"{publication.warehouse}", time.perf_counter() - t0)


# -- the report -------------------------------------------------------------------------------------

def submit_data_docs(stack: contextlib.ExitStack, runner: TaskRunner, job: Any) -> Any:
    """Render the gate's Data Docs (a `panro.gate.docs.DocsJob`) as a task run. The pages are written under
    the data directory, which is this machine's: on a Dask cluster they are rendered here, on a thread."""
    if not isinstance(runner, ThreadPoolTaskRunner | ProcessPoolTaskRunner):
        runner = stack.enter_context(ThreadPoolTaskRunner(max_workers=1))
    return runner.submit(render_data_docs, {"job": quote(job)})


def join_data_docs(rendering: Any) -> None:
    """Wait for the Data Docs (None once joined)."""
    if rendering is None:
        return
    try:
        rendering.result()
    except Exception as e:  # a report, not data: the run goes on, the failure is logged
        get_run_logger().error("could not build the GX Data Docs: %s: %s", type(e).__name__, e)


def announce(dirs: DataDirs, outcome: RunOutcome) -> None:
    """Report and notify whatever happened; never let reporting turn a good run into a failed one."""
    log = get_run_logger()
    try:
        outcome.kpis = figures.read_kpis(dirs.warehouse) if outcome.published else []
        progress.started("report", "the run's report and Prefect artifacts")
        # quoted: Prefect would walk through every batch of the outcome looking for futures (twice)
        timed(outcome.timings, "report", lambda: report_run(dirs, quote(outcome)))
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

