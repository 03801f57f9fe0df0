"""The pipeline's Prefect tasks: each a unit of work or a step the task graph shows, taking and
returning plain data (the ledger, the decisions and the publication stay in the flow: flows/pipeline.py).

`extract_feed`, `check_feed` and `render_data_docs` run on the run's task runner (panro.runtime.engines:
threads, processes, a Dask cluster's workers); the others run in the flow's process.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from panro.extract.segments import ExtractContext, FeedSegments, FileDone
from panro.extract.segments import extract_feed as _extract_feed
from panro.freshness import status as freshness
from panro.gate.checking import CheckRun, FeedCheck, FeedJob
from panro.gate.checking import check as _check_feed
from panro.gate.docs import DocsJob
from panro.lake.ledger import Ledger
from panro.publish.warehouse import publish
from panro.report import html as report
from panro.report.outcome import RunOutcome
from panro.settings import DataDirs
from panro.transform import failures as dbt_failures
from panro.transform import rebuild


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


# -- the steps in the flow's process ---------------------------------------------------------------

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
    """dbt build (models and data tests) into the private work warehouse: incremental, in full after
    the dbt project changed, only the feed status after a night with nothing new published
    (panro.transform.rebuild), with dbt's runner in this process. Returns each node's result and
    why the build took as much as it did (`models`, `scope`).

    dbt's unit tests check the SQL logic, not the night's data: they run in the test suite, not here."""
    log = get_run_logger()
    result, scope = rebuild.build_for_run(dirs)
    log.info("dbt build of %s", scope.reason)
    models = [dict(r) for r in result.results]
    if not result.success:
        failed = dbt_failures.trace(dirs.work_warehouse, result.failed_nodes)
        lines = [f.describe() for f in failed] or list(result.failures[:10])
        for line in lines:
            log.error("%s", line)
        raise TransformFailed("dbt build failed: " + "; ".join(lines[:10]), [f.to_dict() for f in failed], models)
    log.info("dbt build passed in %.1f s", result.elapsed)
    return {"models": models, "scope": scope.reason}


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
    generated = rebuild.refresh_docs(dirs) if outcome.published else None
    if generated is not None and not generated.success:
        get_run_logger().warning("dbt docs could not be generated: %s", generated.summary())
