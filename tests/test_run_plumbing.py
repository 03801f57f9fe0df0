"""Run plumbing: exit statuses, the one-run-at-a-time lock, and webhook notifications."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from panro.report.outcome import BatchLine, RunOutcome
from panro.runtime.notify import notify
from panro.runtime.runlock import RunInProgress, run_lock
from panro.settings import REPO_ROOT, DataDirs
from tests.support.webhook import Webhook


def line(status: str) -> BatchLine:
    return BatchLine("kt", "kdeal_orders", "KDEAL_ORDER_20230501.csv", dt.date(2023, 5, 1), status,
                     10, 10 if status == "published" else 0, 0, 10 if status == "quarantined" else 0, "")


def outcome(*statuses: str, published: bool = True, error: str | None = None) -> RunOutcome:
    o = RunOutcome("r", "nightly", (dt.date(2023, 5, 1),) * 2, dt.datetime.now(dt.UTC),
                   [line(s) for s in statuses], published=published, error=error)
    return o


@pytest.mark.parametrize(("statuses", "published", "error", "code"), [
    (("published", "published"), True, None, 0),
    (("published", "quarantined"), True, None, 2),
    (("published", "failed"), True, None, 2),
    (("published",), False, "TransformFailed: dbt build failed", 1),
    ((), True, None, 0),
])
def test_exit_status_follows_operations_md(statuses, published, error, code) -> None:
    assert outcome(*statuses, published=published, error=error).exit_code == code


def test_quarantined_rows_count_in_the_totals() -> None:
    t = outcome("published", "quarantined").totals()
    assert (t["rows_delivered"], t["rows_published"], t["rows_quarantined"]) == (20, 10, 10)


def test_a_flow_returns_its_totals_and_what_it_held_back_not_every_batch() -> None:
    o = outcome("published", "published", "quarantined", "failed")
    summary = o.summary()
    assert summary["exit_code"] == 2 and summary["totals"] == o.totals()
    assert [b["status"] for b in summary["held_back"]] == ["quarantined", "failed"]
    assert "batches" not in summary          # all four are in the run's report (RunOutcome.as_dict)
    assert len(o.as_dict()["batches"]) == 4


def test_a_second_run_on_the_same_data_dir_is_refused(dirs: DataDirs) -> None:
    with run_lock(dirs), pytest.raises(RunInProgress, match="another panro run"), run_lock(dirs):
        pass
    with run_lock(dirs):  # released once the first run ends
        pass


def test_notifications_post_json_to_the_configured_webhook() -> None:
    with Webhook() as hook:
        ok = notify("batches_held_back", {"held_back": [{"partner": "kt"}]}, url=hook.url)
    assert ok
    assert hook.received == [{"event": "batches_held_back", "held_back": [{"partner": "kt"}]}]


def test_an_unreachable_webhook_does_not_raise() -> None:
    assert notify("run_failed", {}, url="http://127.0.0.1:9/unreachable", timeout=1) is False


def test_a_run_reports_only_the_batches_it_saw_or_decided(dirs: DataDirs) -> None:
    from panro.lake.ledger import Batch, Ledger, batch_id
    from panro.report.outcome import batches_touched_since

    start = dt.datetime(2023, 5, 4, 3, 0, tzinfo=dt.UTC)
    before, during = start - dt.timedelta(days=1), start + dt.timedelta(minutes=1)

    def batch(name: str, seen: dt.datetime, status: str, decided: dt.datetime | None = None) -> Batch:
        return Batch(batch_id("kt", "kdeal_orders", name, name * 8), "kt", "kdeal_orders", name, f"/l/{name}",
                     name * 8, 1, None, dt.date(2023, 5, 3), seen, status, None, 1, None, None, None, decided, None)

    with Ledger(dirs.ledger_path) as ledger:
        ledger.add_many([
            batch("old.csv", before, "published", before),           # yesterday's work: not this run's
            batch("late.csv", before, "published", during),          # seen before, decided in this run
            batch("new.csv", during, "quarantined", during),          # seen and decided in this run
            batch("replaced.csv", during, "superseded", during),      # replaced within the run: not reported
        ])
        lines = batches_touched_since(ledger, start)
    assert [(b.file_name, b.status) for b in lines] == [("late.csv", "published"), ("new.csv", "quarantined")]


def test_the_flows_load_without_great_expectations_which_the_run_loads_in_the_background() -> None:
    """A run starts within a second or two of its command; the gate's libraries load while it extracts."""
    code = ("import sys, flows.pipeline\n"
            "assert 'great_expectations' not in sys.modules, 'flows.pipeline imported GX'\n"
            "from panro import gate\n"
            "gate.import_in_background().join()\n"
            "assert gate.import_in_background() is gate.import_in_background()\n"
            "assert 'great_expectations' in sys.modules and 'panro.gate.wap' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
