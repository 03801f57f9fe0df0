"""Feed freshness: which partner feeds went quiet, and through which business date each one's figures
are complete (issue 27).

The ledger and the contracts are the truth about deliveries. After the gate, the run works out every
contracted feed's status as of its business date (`feed_statuses`: a backfill's last date, a
nightly's D) and writes it beside the published zone's index, `published/_feeds.parquet`
(`write_status`). dbt reads it as the source `panro.feed_status`: `marts.mart_feed_status` is that
file, and the marts' `data_complete_through` come from its `covered_through` (docs/metrics.md).

The rules (the contract's `freshness`, contracts/README.md):

- `days_since_last` = the run's business date − the latest business date with a published batch
  (0 when the feed has data of that date or later);
- `status` is `never_delivered` without any published batch, `overdue` when `days_since_last` is more
  than the contract's `overdue_after_days`, else `fresh` — a daily feed with no file for 3 or more
  business dates is overdue;
- `covered_through`, the last business date the feed's figures are complete through: a daily feed's
  latest published business date; a business-days or sparse feed sends no file on a day without
  anything to report, so while it is fresh it covers the run's business date, once overdue only its
  latest published date.

Telling people (events, webhook, once) is `panro.freshness.alerts`; the report's lines, `panro.freshness.report`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from panro.domain.contracts import FeedContract, load_contracts
from panro.lake.batches import write_parquet_atomic
from panro.lake.ledger import Ledger
from panro.settings import DataDirs

STATUS_FILE = "_feeds.parquet"
STATUSES = ("fresh", "overdue", "never_delivered")
STATUS_SCHEMA = pa.schema([
    ("partner_code", pa.string()),
    ("feed", pa.string()),
    ("cadence", pa.string()),                       # the contract's freshness.cadence
    ("overdue_after_days", pa.int64()),             # the contract's freshness.overdue_after_days
    ("figures", pa.list_(pa.string())),             # the contract's figures (sales, support, coupons)
    ("last_business_date", pa.date32()),            # latest business date with a published batch
    ("last_delivered_at", pa.timestamp("us", tz="UTC")),   # a file of the feed last delivered
    ("held_back_batches", pa.int64()),              # delivered files held back now
    ("run_date", pa.date32()),                      # the run's business date: what "now" is
    ("days_since_last", pa.int64()),
    ("status", pa.string()),
    ("covered_through", pa.date32()),               # the feed's figures are complete through
])


@dataclass(frozen=True)
class FeedStatus:
    partner: str
    feed: str
    cadence: str
    overdue_after_days: int
    figures: tuple[str, ...]
    last_business_date: dt.date | None
    last_delivered_at: dt.datetime | None
    held_back_batches: int
    run_date: dt.date | None
    days_since_last: int | None
    status: str
    covered_through: dt.date | None

    @property
    def name(self) -> str:
        return f"{self.partner}/{self.feed}"

    def as_dict(self) -> dict[str, object]:
        """Plain data (a run's outcome carries it; a Prefect task returns it)."""
        d = asdict(self)
        d["figures"] = list(self.figures)
        return d


def judge(contract: FeedContract, last: dt.date | None, run_date: dt.date | None
          ) -> tuple[int | None, str, dt.date | None]:
    """(days_since_last, status, covered_through) of a feed whose latest published business date is
    `last`, as of the run's business date (module docstring)."""
    if last is None:
        return None, "never_delivered", None
    if run_date is None:      # no run's date to judge against (a bare dbt build's status file)
        return None, "fresh", last
    days = max(0, (run_date - last).days)
    status = "overdue" if days > contract.freshness.overdue_after_days else "fresh"
    covered = run_date if status == "fresh" and contract.freshness.cadence != "daily" else last
    return days, status, max(covered, last)


def feed_statuses(ledger: Ledger, run_date: dt.date | None,
                  contracts: tuple[FeedContract, ...] | None = None) -> list[FeedStatus]:
    """Every contracted feed's status as of the run's business date, from the ledger."""
    facts = ledger.deliveries()
    out = []
    for c in contracts or load_contracts():
        last, delivered_at, held = facts.get((c.partner, c.feed), (None, None, 0))
        days, status, covered = judge(c, last, run_date)
        out.append(FeedStatus(c.partner, c.feed, c.freshness.cadence, c.freshness.overdue_after_days, c.figures,
                              last, delivered_at, held, run_date, days, status, covered))
    return out


def status_path(dirs: DataDirs) -> Path:
    return dirs.published / STATUS_FILE


def write_status(dirs: DataDirs, statuses: list[FeedStatus]) -> Path:
    """`published/_feeds.parquet`: one row per contracted feed, written atomically (what dbt reads)."""
    rows = [{**s.as_dict(), "partner_code": s.partner} for s in statuses]
    for r in rows:
        del r["partner"]
    path = status_path(dirs)
    write_parquet_atomic(pa.Table.from_pylist(rows, schema=STATUS_SCHEMA), path, sync="file_and_folder")
    return path


def ensure_status(dirs: DataDirs, contracts: tuple[FeedContract, ...] | None = None) -> None:
    """A status file for a dbt build outside a run (a bare `dbt` call, the tests' builds): from the
    ledger when there is one, without a run's date to judge against; a run writes its own first."""
    if status_path(dirs).exists():
        return
    statuses = None
    if dirs.ledger_path.exists():
        try:
            with Ledger(dirs.ledger_path) as ledger:
                statuses = feed_statuses(ledger, None, contracts)
        except duckdb.Error:   # held by a run: that run writes its own
            statuses = None
    if statuses is None:
        statuses = [FeedStatus(c.partner, c.feed, c.freshness.cadence, c.freshness.overdue_after_days,
                               c.figures, None, None, 0, None, None, "never_delivered", None)
                    for c in contracts or load_contracts()]
    write_status(dirs, statuses)


def refresh(dirs: DataDirs, ledger: Ledger, run_date: dt.date) -> list[dict[str, object]]:
    """The run's step after the gate: every feed's status as of `run_date`, written for dbt, returned
    as plain data for the run's report, output and announcements."""
    statuses = feed_statuses(ledger, run_date)
    write_status(dirs, statuses)
    return [s.as_dict() for s in statuses]


def overdue(feeds: list[dict[str, object]]) -> list[dict[str, object]]:
    return [f for f in feeds if f["status"] == "overdue"]
