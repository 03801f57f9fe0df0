"""Write-audit-publish: every `extracted` batch is validated by its feed's GX suite, then published
(whole, or without the rows a row rule rejects) or held in the quarantine. `audit` runs one gate run;
each step is a module of its own, and imports go one way (docs/decisions/0029-gate-in-parts.md):

    outcomes   what the gate reports (`BatchOutcome`, `GateReport`), one batch under audit (`BatchAudit`)
    reading    a feed's pending batches read in one go, each batch's rows found in the union
    checking   GX over each feed (`check`: a unit of work any task runner can run)
    deciding   publish, reject rows or hold: a pure function of the checks and the contract's tolerance
    applying   publication, quarantine folders, the ledger

The process that holds the ledger decides and publishes each feed as its check comes back, while the
workers check the next ones. `panro quarantine release` calls `audit`; the gate never calls the
quarantine commands (it writes quarantine folders through `panro.gate.quarantine_files`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

import numpy as np

from panro import settings
from panro.domain.contracts import FeedContract, load_contracts
from panro.domain.kst import today_kst
from panro.gate.applying import apply_decisions
from panro.gate.checking import CheckRun, FeedChecker, FeedJob, in_threads
from panro.gate.deciding import Decision, decide
from panro.gate.docs import DocsJob
from panro.gate.outcomes import BatchAudit, BatchOutcome, GateReport
from panro.gate.reading import read_rows
from panro.gate.state import write_index
from panro.lake.batches import ensure_published_schemas
from panro.lake.ledger import Batch, Ledger, now_utc
from panro.settings import DataDirs


def _published_history(ledger: Ledger, contract: FeedContract) -> dict[dt.date, int]:
    """Rows per business date of the feed's published deliveries (the volume rule's history)."""
    rows: dict[dt.date, int] = {}
    for b in ledger.batches(partner=contract.partner, feed=contract.feed, status="published"):
        n = b.rows_delivered if b.rows_delivered is not None else (b.rows_published or 0) + (b.rows_rejected or 0)
        if b.business_date is not None:
            rows[b.business_date] = n
    return rows


def audit(dirs: DataDirs, ledger: Ledger, *, run_id: str, contracts: tuple[FeedContract, ...] | None = None,
          batch_ids: list[str] | None = None, decided_by: str = "gate", reason: str | None = None,
          today: dt.date | None = None, dry_run: bool = False, docs: Literal["now", "later"] = "now",
          check_feeds: FeedChecker | None = None) -> GateReport:
    """Audit every `extracted` batch (or only `batch_ids`): publish, reject rows, or quarantine.

    Returns the per-batch outcomes with reconciliation totals; Data Docs are built once, at the end,
    into `dirs.reports / "data_docs"` — or, with docs="later", left to the caller
    (`GateReport.docs_job`, `GateReport.render_docs_in_background`). Other partners' batches go on
    whatever one batch does. `dry_run`: decide only — nothing is published, held, recorded in the
    ledger or stored. `check_feeds`: where the feeds are checked (default: `in_threads()`); the
    decisions, the publication and the ledger stay in this process, and are the same wherever the
    checks ran.
    """
    started, clock = now_utc(), time.perf_counter()
    contracts = tuple(contracts or load_contracts())
    if not dry_run:
        ensure_published_schemas(dirs, contracts)
    pending = ledger.batches(status="extracted")
    if batch_ids is not None:
        pending = [b for b in pending if b.batch_id in set(batch_ids)]
    by_name = {c.name: c for c in contracts}
    today = today or today_kst()
    timings: dict[str, float] = {}
    if not pending:
        if not dry_run:
            write_index(dirs, ledger, contracts)   # as of the ledger, whatever an earlier run was stopped in
        return GateReport(run_id, started, now_utc(), [], None, timings)
    check_run = CheckRun(dirs, run_id, now_utc(), keep_results=not dry_run)
    docs_job = DocsJob(dirs, run_id, check_run.run_time)
    orphans: list[Decision] = []  # batches of a feed without a contract
    by_feed: dict[str, list[Batch]] = defaultdict(list)
    for b in pending:
        by_feed[b.feed_name].append(b)
    jobs: list[FeedJob] = []
    for feed, batches in by_feed.items():
        contract = by_name.get(feed)
        if contract is None:
            for b in batches:
                orphan = BatchAudit(b, _orphan_contract(b), rows=b.rows_delivered or 0)
                orphan.fatal.append(f"no contract for feed {feed}")
                orphans.append(Decision(orphan, "quarantined", np.zeros(0, np.int64),
                                        [f"{feed} {b.file_name} — no contract for feed {feed}"], []))
            continue
        jobs.append(FeedJob(contract, tuple(batches), _published_history(ledger, contract), today,
                            settings.VALIDATION_ROWS))
    jobs.sort(key=lambda j: -j.rows)   # biggest feeds first, so the workers finish together

    def settle(decided: list[Decision]) -> list[BatchOutcome]:
        """Publish or hold one feed's decided batches (on the publisher's thread)."""
        for d in decided:
            if not d.published_whole:   # held, cut, or published in the contract's schema
                read_rows(d.audit)
        return apply_decisions(dirs, ledger, decided, run_id, decided_by, reason, dry_run=dry_run)

    # A feed is published as soon as it is decided, one feed at a time, while the workers check the
    # next ones: the run's process would otherwise wait for them, then publish a year's 4,000
    # batches alone (~1.5 s). Every feed's batches are recorded together once in place.
    settled: list[Future[list[BatchOutcome]]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="gate-publish") as publisher:
        if orphans:
            settled.append(publisher.submit(settle, orphans))
        if jobs:
            for checked in (check_feeds or in_threads())(check_run, jobs):
                timings[checked.feed] = checked.seconds
                docs_job.add(checked.suites, checked.results)
                settled.append(publisher.submit(settle, [decide(a) for a in checked.audits]))
        timings["checks"] = round(time.perf_counter() - clock, 3)
        t = time.perf_counter()
        outcomes = sorted((o for f in settled for o in f.result()), key=lambda o: (o.partner, o.feed))
    if not dry_run:
        write_index(dirs, ledger, contracts)
    timings["publish"] = round(time.perf_counter() - t, 3)   # what was left to publish after the checks
    t = time.perf_counter()
    index, later = None, None
    if docs_job.results and not dry_run:
        if docs == "later":
            index, later = dirs.data_docs / "index.html", docs_job
        else:
            index = docs_job.build()
    timings["data_docs"] = round(time.perf_counter() - t, 3)
    timings["total"] = round(time.perf_counter() - clock, 3)
    return GateReport(run_id, started, now_utc(), outcomes, index, timings, docs_job=later)


def _orphan_contract(b: Batch) -> FeedContract:
    return FeedContract(partner=b.partner, feed=b.feed, description="", file_pattern=r"(?P<date>.*)",
                        date_format="%Y%m%d", format="csv", encoding="utf-8", delimiter=",", sheet=None,
                        records=None, document_fields=(), kind="events", key=(), columns=())
