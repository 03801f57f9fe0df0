"""Feed freshness (issue 27): the rules, each feed's status from the ledger, the file dbt reads, telling
people once, and the exit status. The whole thing through the command line and a real Prefect server
is tests/test_feeds_overdue_runs.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import ContractError, contract_for, load_contracts, parse_contract
from panro.freshness import alerts as feed_alerts
from panro.freshness import report as feed_report
from panro.freshness.status import STATUS_SCHEMA, ensure_status, feed_statuses, judge, refresh, status_path
from panro.lake.ledger import Batch, Ledger, batch_id, now_utc
from panro.report.outcome import EXIT_HELD_BACK, EXIT_OK, RunOutcome
from panro.settings import DataDirs
from tests.support.webhook import Webhook

RUN_DATE = dt.date(2023, 5, 28)
DAILY = contract_for("yogiyo/orders")
SPARSE = contract_for("zigzag/support")


# -- the contract ---------------------------------------------------------------------------------

def _doc(**extra: object) -> dict:
    return {"partner": "p", "feed": "f", "file": {"pattern": r"f_(?P<date>\d{8})\.csv", "date_format": "%Y%m%d"},
            "format": {"type": "csv"}, "kind": "events", "columns": {"a": {}}, **extra}


def test_a_contract_without_freshness_is_a_daily_feed_overdue_after_two_days() -> None:
    c = parse_contract(_doc())
    assert (c.freshness.cadence, c.freshness.overdue_after_days, c.figures) == ("daily", 2, ())


@pytest.mark.parametrize("extra, message", [
    ({"freshness": {"cadence": "weekly"}}, "freshness.cadence 'weekly'"),
    ({"freshness": {"overdue_after_days": 0}}, "overdue_after_days must be a whole number of days ≥ 1"),
    ({"freshness": {"overdue_after_days": "2"}}, "overdue_after_days must be a whole number"),
    ({"freshness": {"overdue_days": 2}}, "freshness has unknown settings ['overdue_days']"),
    ({"freshness": "daily"}, "freshness must be a mapping"),
    ({"figures": ["sales", "revenue"]}, "figures ['revenue']"),
])
def test_a_contract_with_an_impossible_cadence_fails_loudly(extra: dict, message: str) -> None:
    with pytest.raises(ContractError, match="<contract>") as e:
        parse_contract(_doc(**extra))
    assert message in str(e.value)


def test_every_contract_declares_its_cadence_and_figures_as_feeds_md_has_them() -> None:
    by_cadence = {c.name: (c.freshness.cadence, c.freshness.overdue_after_days) for c in load_contracts()}
    daily = {n for n, (cadence, days) in by_cadence.items() if cadence == "daily" and days == 2}
    # daily sales, orders and snapshot feeds: overdue with no file for 3 or more business dates
    assert {"yogiyo/orders", "zigzag/sales", "kt/kdeal_orders", "kt/kdeal_stores", "baemin/delivery_stats"} <= daily
    assert by_cadence["yogiyo/support"][0] == "business_days" and by_cadence["zigzag/support"][0] == "sparse"
    sales = {c.name for c in load_contracts() if "sales" in c.figures}
    assert sales == {"yogiyo/orders", "zigzag/sales", "kt/kdeal_orders", "baemin/delivery_stats"}
    assert all(c.figures for c in load_contracts())


# -- the rules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("last, want", [
    (RUN_DATE, (0, "fresh", RUN_DATE)),
    (RUN_DATE - dt.timedelta(days=2), (2, "fresh", RUN_DATE - dt.timedelta(days=2))),    # D-1, D missing
    (RUN_DATE - dt.timedelta(days=3), (3, "overdue", RUN_DATE - dt.timedelta(days=3))),  # 3 dates: overdue
    (RUN_DATE + dt.timedelta(days=1), (0, "fresh", RUN_DATE + dt.timedelta(days=1))),    # later data
    (None, (None, "never_delivered", None)),
])
def test_a_daily_feed_is_overdue_after_three_business_dates_without_a_file(last, want) -> None:
    assert judge(DAILY, last, RUN_DATE) == want


def test_a_sparse_feed_covers_the_run_date_while_fresh_and_only_its_last_file_once_overdue() -> None:
    window = SPARSE.freshness.overdue_after_days
    quiet = RUN_DATE - dt.timedelta(days=window)
    assert judge(SPARSE, quiet, RUN_DATE) == (window, "fresh", RUN_DATE)
    late = quiet - dt.timedelta(days=1)
    assert judge(SPARSE, late, RUN_DATE) == (window + 1, "overdue", late)


# -- each feed's status, from the ledger ------------------------------------------------------------

def _batch(feed: str, day: dt.date, status: str, *, seen: dt.datetime | None = None, mtime: float | None = None,
           name: str | None = None, checksum: str = "0" * 64) -> Batch:
    c = contract_for(feed)
    file_name = name or c.file_name(day)
    if mtime is None:   # delivered the night after its business date
        mtime = dt.datetime.combine(day, dt.time(18), dt.UTC).timestamp()
    return Batch(batch_id=batch_id(c.partner, c.feed, file_name, checksum), partner=c.partner, feed=c.feed,
                 file_name=file_name, source_uri=f"landing/{file_name}", checksum=checksum, size_bytes=1,
                 source_mtime=mtime, business_date=day, seen_at=seen or now_utc(), status=status, reason=None,
                 rows_delivered=1, rows_published=1 if status == "published" else 0, rows_rejected=0,
                 raw_path=None, decided_at=None, decided_by=None)


def test_statuses_come_from_the_ledger(dirs: DataDirs) -> None:
    delivered = dt.datetime(2023, 5, 29, 1, 30, tzinfo=dt.UTC)
    with Ledger(dirs.ledger_path) as ledger:
        ledger.add_many([
            _batch("yogiyo/orders", dt.date(2023, 5, 20), "published"),
            _batch("yogiyo/orders", dt.date(2023, 5, 21), "published"),
            # a later file held back: the partner is not quiet, but nothing newer is published
            _batch("yogiyo/orders", dt.date(2023, 5, 25), "quarantined", mtime=delivered.timestamp()),
            _batch("zigzag/sales", RUN_DATE, "published"),
            # an undecodable version of a file replaced by a good one is held back no more
            _batch("kt/kdeal_orders", RUN_DATE, "failed", seen=now_utc() - dt.timedelta(hours=1), checksum="1" * 64),
            _batch("kt/kdeal_orders", RUN_DATE, "published", checksum="2" * 64),
            _batch("kt/kdeal_stores", RUN_DATE, "failed"),
        ])
        by_name = {s.name: s for s in feed_statuses(ledger, RUN_DATE)}
    assert set(by_name) == {c.name for c in load_contracts()}
    orders = by_name["yogiyo/orders"]
    assert (orders.last_business_date, orders.days_since_last, orders.status, orders.held_back_batches,
            orders.last_delivered_at) == (dt.date(2023, 5, 21), 7, "overdue", 1, delivered)
    assert (by_name["zigzag/sales"].status, by_name["zigzag/sales"].days_since_last) == ("fresh", 0)
    assert (by_name["kt/kdeal_orders"].status, by_name["kt/kdeal_orders"].held_back_batches) == ("fresh", 0)
    assert (by_name["kt/kdeal_stores"].status, by_name["kt/kdeal_stores"].held_back_batches) == ("never_delivered", 1)
    assert by_name["kakao/talkchannel"].status == "never_delivered"


def test_the_run_writes_one_row_per_feed_beside_the_published_index(dirs: DataDirs) -> None:
    with Ledger(dirs.ledger_path) as ledger:
        ledger.add(_batch("yogiyo/orders", dt.date(2023, 5, 21), "published"))
        feeds = refresh(dirs, ledger, RUN_DATE)
    table = pq.read_table(status_path(dirs))
    assert table.schema == STATUS_SCHEMA and table.num_rows == len(load_contracts()) == len(feeds)
    row = next(r for r in table.to_pylist() if (r["partner_code"], r["feed"]) == ("yogiyo", "orders"))
    assert (row["status"], row["run_date"], row["covered_through"], row["figures"]) == (
        "overdue", RUN_DATE, dt.date(2023, 5, 21), ["sales"])


def test_a_build_outside_a_run_gets_a_status_file_without_a_run_date(dirs: DataDirs) -> None:
    ensure_status(dirs)
    rows = pq.read_table(status_path(dirs)).to_pylist()
    assert {r["status"] for r in rows} == {"never_delivered"} and {r["run_date"] for r in rows} == {None}
    before = status_path(dirs).read_bytes()
    ensure_status(dirs)                          # a run's own file is never replaced
    assert status_path(dirs).read_bytes() == before


# -- telling people once ---------------------------------------------------------------------------

def _feeds(**status: str) -> list[dict]:
    """Statuses of a few feeds: name → fresh / overdue."""
    out = []
    for name, s in status.items():
        partner, feed = name.split("__")
        last = RUN_DATE - dt.timedelta(days=7 if s == "overdue" else 0)
        out.append({"partner": partner, "feed": feed, "status": s, "last_business_date": last,
                    "days_since_last": (RUN_DATE - last).days, "overdue_after_days": 2, "run_date": RUN_DATE,
                    "held_back_batches": 0, "figures": ["sales"], "covered_through": last})
    return out


def test_an_overdue_feed_is_announced_once_and_once_more_when_it_recovers(dirs: DataDirs,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(feed_alerts, "_emit", lambda name, f, run: events.append((name, f"{f['partner']}/{f['feed']}")))
    with Webhook() as hook:
        monkeypatch.setenv("PANRO_NOTIFY_WEBHOOK", hook.url)
        Ledger(dirs.ledger_path).close()
        nights = [
            _feeds(yogiyo__orders="overdue", zigzag__sales="fresh"),     # becomes overdue: told
            _feeds(yogiyo__orders="overdue", zigzag__sales="fresh"),     # still overdue: nothing
            _feeds(yogiyo__orders="overdue", zigzag__sales="overdue"),   # another one: told, that one only
            _feeds(yogiyo__orders="fresh", zigzag__sales="overdue"),     # recovered: told
            _feeds(yogiyo__orders="fresh", zigzag__sales="overdue"),     # nothing new
        ]
        told = [feed_alerts.announce(dirs, feeds, {"run_id": f"night-{i}", "kind": "nightly"})
                for i, feeds in enumerate(nights)]
    assert [([f["feed"] for f in t.overdue], [f["feed"] for f in t.recovered]) for t in told] == [
        (["orders"], []), ([], []), (["sales"], []), ([], ["orders"]), ([], [])]
    assert [(m["event"], m["run_id"]) for m in hook.received] == [
        ("feeds_overdue", "night-0"), ("feeds_overdue", "night-2"), ("feeds_recovered", "night-3")]
    assert [(f["partner"], f["feed"], f["last_business_date"]) for f in hook.received[0]["overdue"]] == [
        ("yogiyo", "orders", str(RUN_DATE - dt.timedelta(days=7)))]
    assert [f["feed"] for f in hook.received[1]["still_overdue"]] == ["orders", "sales"]
    assert events == [("panro.feed.overdue", "yogiyo/orders"), ("panro.feed.overdue", "zigzag/sales"),
                      ("panro.feed.recovered", "yogiyo/orders")]


def test_a_feed_that_never_delivered_is_reported_not_announced(dirs: DataDirs, monkeypatch) -> None:
    monkeypatch.setattr(feed_alerts, "_emit", lambda *a: pytest.fail("no event for a feed never delivered"))
    feeds = [{**_feeds(kakao__talkchannel="fresh")[0], "status": "never_delivered", "last_business_date": None}]
    Ledger(dirs.ledger_path).close()
    assert not feed_alerts.announce(dirs, feeds, {"run_id": "r", "kind": "nightly"})
    assert "Never delivered: kakao/talkchannel" in feed_report.markdown(feeds)


# -- the exit status and what the report says ------------------------------------------------------

def test_an_overdue_feed_changes_the_exit_status_only_when_asked() -> None:
    outcome = RunOutcome("r", "nightly", (RUN_DATE, RUN_DATE), now_utc(), published=True,
                         feeds=_feeds(yogiyo__orders="overdue"))
    assert outcome.exit_code == EXIT_OK
    assert replace(outcome, fail_on_overdue=True).exit_code == EXIT_HELD_BACK
    assert replace(outcome, fail_on_overdue=True, feeds=_feeds(yogiyo__orders="fresh")).exit_code == EXIT_OK
    summary = outcome.summary()
    assert [f["feed"] for f in summary["overdue"]] == ["orders"]
    assert summary["incomplete"] == ["요기요 sales complete through 05-21"]


def test_the_summary_puts_overdue_feeds_first_and_completeness_with_the_kpis() -> None:
    from panro.report.artifacts import summary_markdown

    outcome = RunOutcome("r", "nightly", (RUN_DATE, RUN_DATE), now_utc(), published=True,
                         feeds=_feeds(yogiyo__orders="overdue", zigzag__sales="fresh"),
                         kpis=[{"year": 2023, "partner_code": "yogiyo", "kpi_code": "festival_sales_krw",
                                "value": 1.0, "unit": "KRW"}])
    text = summary_markdown(outcome)
    assert text.index("## Overdue feeds (1)") < text.index("## Programme KPIs 2023")
    assert "| yogiyo/orders | 2023-05-21 | 7 | 2 | 0 |" in text
    kpis = text[text.index("## Programme KPIs 2023"):]
    assert "not complete through the run's date: 요기요 sales complete through 05-21." in kpis


def test_only_figures_of_a_feed_gone_quiet_are_called_incomplete_in_words() -> None:
    lagging = {**_feeds(zigzag__sales="fresh")[0], "last_business_date": RUN_DATE - dt.timedelta(days=1),
               "covered_through": RUN_DATE - dt.timedelta(days=1), "days_since_last": 1}
    never = {**_feeds(kakao__talkchannel="fresh")[0], "status": "never_delivered", "last_business_date": None,
             "covered_through": None, "days_since_last": None, "figures": ["support"]}
    lines = [feed_report.completeness_line(c)
             for c in feed_report.completeness([*_feeds(yogiyo__orders="overdue"), lagging, never])]
    assert lines == ["카카오톡 채널 support: nothing delivered yet", "요기요 sales complete through 05-21"]
