"""What the gate reports — each batch's outcome (`BatchOutcome`), the run's (`GateReport`), each failed
expectation as it concerns one batch (`RuleFailure`) — and one batch under audit (`BatchAudit`), the plain
record the reading, checking, deciding and applying modules pass along.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from panro.domain.contracts import FeedContract
from panro.gate.docs import DocsJob
from panro.lake.ledger import Batch

log = logging.getLogger("panro.gate")


OUTCOMES = ("published", "published_with_rejections", "quarantined")


# -- what the gate reports -------------------------------------------------------------------------

@dataclass
class RuleFailure:
    """One failed expectation, as it concerns one batch."""

    rule: str
    severity: str            # critical | warning | info
    unit: str                # row | batch
    reason: str              # the suite's short reason
    expectation_type: str
    columns: list[str]
    count: int               # failing rows of this batch (1 for a batch-level failure)
    rows: int                # rows of the batch
    samples: list[str] = field(default_factory=list)   # "row 5: '123-45-67890'" — personal data masked
    positions: np.ndarray | None = field(default=None, repr=False)   # union positions (row failures)
    detail: str | None = None

    def describe(self, batch: Batch) -> str:
        what = f"{batch.partner}/{batch.feed} {batch.file_name} — {self.rule}: {self.reason}"
        if self.unit == "row":
            what += f" — {self.count:,} of {self.rows:,} rows"
        if self.detail:
            what += f" — {self.detail}"
        if self.samples:
            what += " — e.g. " + "; ".join(self.samples)
        return what

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "unit": self.unit, "reason": self.reason,
                "expectation_type": self.expectation_type, "columns": self.columns, "count": self.count,
                "rows": self.rows, "samples": self.samples, "detail": self.detail}


@dataclass
class BatchOutcome:
    batch_id: str
    partner: str
    feed: str
    file_name: str
    business_date: dt.date | None
    outcome: str                     # published | published_with_rejections | quarantined
    rows_delivered: int
    rows_published: int
    rows_rejected: int
    rows_quarantined: int
    reasons: list[str] = field(default_factory=list)    # why rows were rejected / the batch was held
    warnings: list[str] = field(default_factory=list)
    quarantine_id: str | None = None                    # folder under data/quarantine/ (held or rejections)
    superseded: list[str] = field(default_factory=list)  # older versions this one replaced
    failures: list[dict[str, Any]] = field(default_factory=list)   # every failed expectation (RuleFailure)

    def rules(self, severity: str = "critical") -> set[str]:
        """The rule families that failed at a severity (`critical`, `warning`)."""
        return {f["rule"] for f in self.failures if f["severity"] == severity}

    @property
    def reconciled(self) -> bool:
        return self.rows_delivered == self.rows_published + self.rows_rejected + self.rows_quarantined

    @property
    def reason(self) -> str:
        """The first reason (why it was held or rows were rejected), else the first warning, else ''."""
        return (self.reasons or self.warnings or [""])[0]

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["business_date"] = self.business_date.isoformat() if self.business_date else None
        return d


@dataclass
class GateReport:
    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    batches: list[BatchOutcome]
    data_docs: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    docs_job: DocsJob | None = field(default=None, repr=False)   # Data Docs still to render (docs="later")

    def render_docs_in_background(self) -> threading.Thread | None:
        """Render the Data Docs left for later on a thread of their own (join it before reporting)."""
        job, self.docs_job = self.docs_job, None
        if job is None:
            return None

        def render() -> None:
            try:
                job.build()
            except Exception as e:  # a report, not data: the run goes on, the failure is logged
                log.error("could not build the GX Data Docs: %s: %s", type(e).__name__, e)

        thread = threading.Thread(target=render, name="gx-data-docs", daemon=True)
        thread.start()
        return thread

    def _sum(self, attr: str) -> int:
        return sum(getattr(b, attr) for b in self.batches)

    @property
    def rows_delivered(self) -> int:
        return self._sum("rows_delivered")

    @property
    def rows_published(self) -> int:
        return self._sum("rows_published")

    @property
    def rows_rejected(self) -> int:
        return self._sum("rows_rejected")

    @property
    def rows_quarantined(self) -> int:
        return self._sum("rows_quarantined")

    @property
    def reconciled(self) -> bool:
        """delivered = published + rejected + quarantined, per batch and in total: nothing lost."""
        return all(b.reconciled for b in self.batches) and self.rows_delivered == (
            self.rows_published + self.rows_rejected + self.rows_quarantined)

    @property
    def quarantined(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.outcome == "quarantined"]

    @property
    def warned(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.warnings]

    def counts(self) -> dict[str, int]:
        return {o: sum(b.outcome == o for b in self.batches) for o in OUTCOMES}

    def outcome(self, file_name: str) -> BatchOutcome:
        """The (latest) outcome for a delivered file name."""
        found = [b for b in self.batches if b.file_name == file_name]
        if not found:
            raise KeyError(file_name)
        return found[-1]

    def summary(self) -> str:
        c = self.counts()
        lines = [f"gate {self.run_id}: {len(self.batches)} batches — {c['published']} published, "
                 f"{c['published_with_rejections']} published with rejections, {c['quarantined']} quarantined; "
                 f"rows delivered {self.rows_delivered:,} = published {self.rows_published:,} + rejected "
                 f"{self.rows_rejected:,} + quarantined {self.rows_quarantined:,}"
                 + ("" if self.reconciled else " (NOT RECONCILED)")]
        for b in self.quarantined:
            lines.append(f"  quarantined {b.quarantine_id}: {b.reasons[0] if b.reasons else ''}")
        for b in self.batches:   # schema drift: published without the columns the contract does not know
            lines += [f"  {b.partner}/{b.feed} {b.file_name}: {f['detail']} (kept in the raw zone, not published)"
                      for f in b.failures if f["rule"] == "schema_drift"]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(), "counts": self.counts(),
                "rows": {"delivered": self.rows_delivered, "published": self.rows_published,
                         "rejected": self.rows_rejected, "quarantined": self.rows_quarantined},
                "reconciled": self.reconciled, "data_docs": str(self.data_docs) if self.data_docs else None,
                "timings": self.timings, "batches": [b.to_dict() for b in self.batches]}


# -- one batch under audit -------------------------------------------------------------------------

@dataclass
class BatchAudit:
    """One batch under audit: its rows in the frame it was checked in, what failed, what could not be read."""

    batch: Batch
    contract: FeedContract
    rows: int = 0
    schema: pa.Schema | None = None
    table: pa.Table | None = None     # the union table of its group
    start: int = 0                    # its rows in that table: [start, stop)
    stop: int = 0
    failures: list[RuleFailure] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)    # could not be audited at all
    summary: dict[str, Any] = field(default_factory=dict)

    def fail(self, failure: RuleFailure) -> None:
        self.failures.append(failure)


def columns_of(kwargs: dict[str, Any]) -> list[str]:
    """The data columns an expectation's arguments name (lineage columns left out)."""
    cols = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    cols += [c for c in kwargs.get("column_list") or [] if c != "_batch_id"]
    return [c for c in cols if c != "_business_date"]
