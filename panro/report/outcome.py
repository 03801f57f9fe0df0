"""What one run did, batch by batch, read back from the ledger — and the exit status it earns."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from panro.freshness.report import completeness, completeness_line
from panro.lake.ledger import Batch, Ledger
from panro.runtime.signals import published_before

EXIT_OK, EXIT_FAILED, EXIT_HELD_BACK = 0, 1, 2


@dataclass(frozen=True)
class BatchLine:
    partner: str
    feed: str
    file_name: str
    business_date: dt.date | None
    status: str           # published / quarantined / failed / extracted (not yet audited)
    rows_delivered: int
    rows_published: int
    rows_rejected: int
    rows_quarantined: int
    reason: str

    @classmethod
    def from_batch(cls, b: Batch) -> BatchLine:
        delivered = b.rows_delivered or 0
        held = delivered if b.status == "quarantined" else 0
        return cls(b.partner, b.feed, b.file_name, b.business_date, b.status, delivered,
                   b.rows_published or 0, b.rows_rejected or 0, held, b.reason or "")


@dataclass
class RunOutcome:
    run_id: str
    kind: str
    dates: tuple[dt.date, dt.date]
    started_at: dt.datetime
    batches: list[BatchLine] = field(default_factory=list)
    published: bool = False
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    kpis: list[dict[str, object]] = field(default_factory=list)
    dbt_failures: list[dict[str, object]] = field(default_factory=list)   # panro.transform.failures.FailedTest
    feeds: list[dict[str, object]] = field(default_factory=list)     # every feed's status (panro.freshness.status)
    schema_drift: list[dict[str, str]] = field(default_factory=list)  # published with a new column
    fail_on_overdue: bool = False    # an overdue feed makes the exit status 2 (--fail-on-overdue)
    dbt_models: list[dict[str, object]] = field(default_factory=list)  # each dbt node: status, rows, time
    # landing entries not extracted (a symlink out of the landing, a FIFO, a folder, a name no contract
    # fits, an unreadable file): {partner, feed, file_name, reason} — reported, and exit status 2
    not_extracted: list[dict[str, str]] = field(default_factory=list)

    @property
    def held_back(self) -> list[BatchLine]:
        return [b for b in self.batches if b.status in ("quarantined", "failed")]

    @property
    def trimmed(self) -> list[BatchLine]:
        """Published batches that lost rows to a row rule (each row named in its reason)."""
        return [b for b in self.batches if b.status == "published" and b.rows_rejected]

    @property
    def overdue(self) -> list[dict[str, object]]:
        """Feeds with no published file for longer than their contract allows (panro.freshness.status)."""
        return [f for f in self.feeds if f["status"] == "overdue"]

    @property
    def exit_code(self) -> int:
        """1 failed, 2 published but held something back (or, with --fail-on-overdue, a feed is
        overdue), else 0: an overdue feed alone held nothing back."""
        if self.error or not self.published:
            return EXIT_FAILED
        held = self.held_back or self.not_extracted or (self.fail_on_overdue and self.overdue)
        return EXIT_HELD_BACK if held else EXIT_OK

    def totals(self) -> dict[str, int]:
        return {
            "batches": len(self.batches),
            "rows_delivered": sum(b.rows_delivered for b in self.batches),
            "rows_published": sum(b.rows_published for b in self.batches),
            "rows_rejected": sum(b.rows_rejected for b in self.batches),
            "rows_quarantined": sum(b.rows_quarantined for b in self.batches),
            "held_back": len(self.held_back),
            "not_extracted": len(self.not_extracted),
        }

    def as_dict(self) -> dict[str, object]:
        """Everything, every batch included (the run's report: reports/run-*.json)."""
        d = asdict(self)
        d["exit_code"] = self.exit_code
        d["totals"] = self.totals()
        return d

    def summary(self) -> dict[str, object]:
        """What a flow run returns: the run, its exit status and totals, and the batches it held back.
        Every batch is in the run's report and its Prefect artifact; a backfill's thousands in the
        return value also cost Prefect a walk through them all, looking for futures."""
        return {"run_id": self.run_id, "kind": self.kind, "dates": self.dates, "published": self.published,
                "error": self.error, "exit_code": self.exit_code, "totals": self.totals(),
                "held_back": [asdict(b) for b in self.held_back], "trimmed": [asdict(b) for b in self.trimmed],
                "dbt_failures": self.dbt_failures, "timings": dict(self.timings),
                "dbt_models": self.dbt_models,
                "overdue": self.overdue, "schema_drift": self.schema_drift, "not_extracted": self.not_extracted,
                "incomplete": [completeness_line(c) for c in completeness(self.feeds)]}


def describe(partner: str, feed: str, file_name: str, status: str, reason: str | None) -> str:
    """One line naming partner, feed and file once, then why: `kt/kdeal_orders F.csv (quarantined): …`."""
    prefix = f"{partner}/{feed} {file_name} — "
    why = (reason or "").replace(prefix, "")
    return f"{partner}/{feed} {file_name} ({status}): {why}"


def not_extracted(extract_report: Any) -> list[dict[str, str]]:
    """The landing entries an extraction did not extract, with why (panro.extract.report: `unmatched`)."""
    return [{"partner": f.partner, "feed": f.feed, "file_name": f.file_name, "reason": f.reason or ""}
            for f in extract_report.unmatched]


def batches_touched_since(ledger: Ledger, since: dt.datetime) -> list[BatchLine]:
    """Batches first seen or decided during the run that started at `since`."""
    return [BatchLine.from_batch(b) for b in ledger.touched_since(since)]


def schema_drift(gate_batches: list[Any]) -> list[dict[str, str]]:
    """The batches the gate published with a column the contract does not know (its `schema_drift`
    warning): partner, feed, file and which columns are new — for the run's output and report."""
    return [{"partner": b.partner, "feed": b.feed, "file_name": b.file_name, "detail": f.get("detail") or ""}
            for b in gate_batches for f in b.failures if f.get("rule") == "schema_drift"]


def failed_run_message(error: BaseException) -> str:
    """What a failed run did to the data, in one sentence: published or not, and why it failed."""
    published = published_before(error)
    cause = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if published:
        return ("the run PUBLISHED its new marts (analysts see tonight's data), then failed: " + cause)
    if published is None:
        return f"the run failed before it could say whether it published (check `panro quarantine list`): {cause}"
    return f"the run failed and published nothing new (analysts keep the previous publication): {cause}"
