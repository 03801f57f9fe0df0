"""Hostile and careless input (issue 28): what panro says about it — printed lines, pages, webhooks.

Reproductions from the issue, each stating what must happen instead: a delivered name cannot forge a
printed line or drive the terminal; a webhook that answers garbage or drips cannot hang the night or
decide its outcome; a failed run says whether it published.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from panro.cli import main
from panro.extract import extract
from panro.report.outcome import failed_run_message
from panro.runtime import notify
from panro.runtime.signals import mark_published
from panro.runtime.terminal import safe, say
from panro.settings import DataDirs
from tests.support.bad_webhooks import BadWebhook
from tests.support.landing import SAMPLES, put
from tests.support.webhook import Webhook

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)


# -- 7. terminal-safe output ---------------------------------------------------------------------

@pytest.mark.parametrize(("delivered", "shown"), [
    ("KDEAL\x1b[2J\x1b]0;pwned\x07.csv", "KDEAL\\x1b[2J\\x1b]0;pwned\\x07.csv"),
    ("a.csv\nheld back: nothing, all fine", "a.csv\\nheld back: nothing, all fine"),
    ("a.csv\rOK", "a.csv\\rOK"),
    ("invoice\u202egnp.exe", "invoice\\u202egnp.exe"),      # right-to-left override
    ("\x9b31m", "\\x9b31m"),                                  # the C1 form of ESC [
    ("망원 떡집 — 2023.05.01 (정상)", "망원 떡집 — 2023.05.01 (정상)"),   # text as it is
])
def test_control_characters_in_names_are_shown_escaped(delivered: str, shown: str) -> None:
    assert safe(delivered) == shown
    assert "\n" not in safe(delivered) and "\x1b" not in safe(delivered)


def test_one_say_is_one_line(capsys) -> None:
    say("held back:", "kt/kdeal_orders a.csv\nheld back: forged")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("held back: kt/kdeal_orders a.csv\\nheld back: forged")


def test_quarantine_list_prints_a_hostile_file_name_escaped(dirs: DataDirs, capsys) -> None:
    """A K-deal file whose date part carries an ESC sequence fails extraction; the list names it, inert."""
    name = "KDEAL_ORDER_2023\x1b[31m0501.csv"
    put(dirs, "kt", "kdeal_orders", name, SAMPLES["kt/kdeal_orders"].bytes())
    report = extract(dirs, [DAY], today=TODAY)
    assert [f.outcome for f in report.files] == ["failed"]
    assert main(["quarantine", "list", "--data-dir", str(dirs.root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "KDEAL_ORDER_2023\\x1b[31m0501.csv" in out


def test_logged_lines_are_escaped_too(caplog) -> None:
    from panro.runtime.terminal import escape_logs

    escape_logs()
    with caplog.at_level(logging.WARNING, logger="panro.extract"):
        logging.getLogger("panro.extract").warning("extract failed: %s", "a.csv\nheld back: forged\x1b[2J")
    assert caplog.messages[-1] == "extract failed: a.csv\\nheld back: forged\\x1b[2J"


# -- 3. notifications never decide a run's outcome ---------------------------------------------------

def test_a_webhook_answering_garbage_is_logged_not_raised(caplog) -> None:
    with BadWebhook("garbage") as hook, caplog.at_level(logging.WARNING, logger="panro.runtime.notify"):
        assert notify.notify("run_failed", {"run_id": "r"}, url=hook.url) is False
    assert hook.requests == 1
    assert "could not deliver the run_failed notification" in caplog.text


def test_a_dripping_webhook_is_abandoned_at_the_overall_deadline(caplog, monkeypatch) -> None:
    monkeypatch.setenv("PANRO_NOTIFY_DEADLINE", "2")
    with BadWebhook("drip", every=0.5) as hook, caplog.at_level(logging.WARNING, logger="panro.runtime.notify"):
        t0 = time.perf_counter()
        assert notify.notify("batches_held_back", {"run_id": "r"}, url=hook.url) is False
        took = time.perf_counter() - t0
    assert hook.requests == 1
    assert 1.5 < took < 6                         # the deadline, not a per-read timeout (which never fires)
    assert "did not take the batches_held_back notification within 2 s" in caplog.text


def test_a_webhook_that_works_still_gets_its_message() -> None:
    with Webhook() as hook:
        assert notify.notify("batches_held_back", {"run_id": "r", "held_back": []}, url=hook.url) is True
    assert hook.received == [{"event": "batches_held_back", "run_id": "r", "held_back": []}]


def test_a_failed_run_says_whether_it_published() -> None:
    after = RuntimeError("the report could not be written")
    mark_published(after, True)
    assert failed_run_message(after).startswith("the run PUBLISHED its new marts")
    before = RuntimeError("dbt build failed")
    mark_published(before, False)
    assert "published nothing new" in failed_run_message(before)
    wrapped = KeyboardInterrupt()
    wrapped.__context__ = after               # a later exception raised while handling the first
    assert failed_run_message(wrapped).startswith("the run PUBLISHED")
    assert "could not say" in failed_run_message(ValueError("x")) or "before it could" in \
        failed_run_message(ValueError("x"))
