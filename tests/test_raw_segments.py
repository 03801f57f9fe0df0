"""A feed's files of one run are written as one raw file (a segment), each version's rows a run of
their own, found by `_batch_id`. The gate reads only the batches it audits from it, publishes those
that pass whole as that very file, keeps a bad one apart, and the file leaves the published zone
once none of its batches is published any more."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from panro import quarantine as q
from panro import settings
from panro.domain.contracts import contract_for
from panro.extract import extract
from panro.gate import audit, published_state
from panro.gate.state import published_file
from panro.lake.batches import INDEX_FILE, published_dir, read_batch
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.landing import deliver
from tests.support.raw import clean_rows, write_batch, write_batches_together

D = dt.date(2023, 5, 5)
TODAY = dt.date(2023, 6, 1)
ORDERS = "kt/kdeal_orders"
DAYS = [D, D + dt.timedelta(days=1), D + dt.timedelta(days=2)]


@pytest.fixture
def ledger(dirs: DataDirs):
    with Ledger(dirs.ledger_path) as led:
        yield led


def test_a_feeds_files_of_one_run_are_written_together_a_few_at_a_time(
        dirs: DataDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "SEGMENT_FILES", 2)
    names = [deliver(dirs, ORDERS, day) for day in DAYS]
    deliver(dirs, "zigzag/sales", D)
    extract(dirs, DAYS, today=TODAY)

    raw = sorted(p.relative_to(dirs.raw).as_posix() for p in dirs.raw.rglob("*.parquet"))
    assert len(raw) == 3    # two of the three order files together, the third alone; the sales file alone
    assert any(r.startswith(f"kt/kdeal_orders/{names[0]}+1@") for r in raw), raw
    with Ledger(dirs.ledger_path) as ledger:
        batches = ledger.batches()
    assert len({b.raw_path for b in batches}) == 3 and len(batches) == 4
    for b in batches:   # each version's own rows, in their order, from the file holding them
        rows = read_batch(b.raw_path, b.batch_id)
        assert rows.num_rows == b.rows_delivered == 2
        assert set(rows.column("_source_file").to_pylist()) == {b.file_name}
        assert rows.column("_row_number").to_pylist() == [1, 2]


def test_a_raw_file_of_several_is_published_as_it_is_and_a_bad_batch_in_it_is_held_apart(
        dirs: DataDirs, ledger: Ledger) -> None:
    bad_rows = clean_rows(ORDERS, 60, DAYS[1])
    for r in bad_rows:
        r["주문상태"] = "??"                                     # every line broken
    first, bad, last = write_batches_together(dirs, ledger, ORDERS, {
        DAYS[0]: clean_rows(ORDERS, 50, DAYS[0]), DAYS[1]: bad_rows, DAYS[2]: clean_rows(ORDERS, 70, DAYS[2])})
    report = audit(dirs, ledger, run_id="segment", today=TODAY)
    assert [report.outcome(b.file_name).outcome for b in (first, bad, last)] == \
        ["published", "quarantined", "published"]
    assert report.reconciled

    raw = Path(first.raw_path)
    linked = published_dir(dirs, contract_for(ORDERS)) / raw.name
    assert linked.stat().st_ino == raw.stat().st_ino            # published as it is: one file, two zones
    assert {ledger.get(b.batch_id).published_path for b in (first, last)} == {f"kt/kdeal_orders/{raw.name}"}
    assert ledger.get(bad.batch_id).published_path is None
    held = q.folder(dirs, report.outcome(bad.file_name).quarantine_id) / q.BATCH_FILE
    assert set(pq.read_table(held).column("_batch_id").to_pylist()) == {bad.batch_id}   # its own rows only
    assert pq.read_metadata(held).num_rows == 60
    index = pq.read_table(dirs.published / INDEX_FILE).to_pylist()
    assert sorted((r["batch_id"], r["path"]) for r in index) == sorted(
        (b.batch_id, f"kt/kdeal_orders/{raw.name}") for b in (first, last))
    assert published_state(dirs, ledger).problems == []


def test_a_batch_of_a_raw_file_of_several_is_audited_again_alone(dirs: DataDirs, ledger: Ledger) -> None:
    """A release re-audits one batch of a segment: only its rows are read, and the others stay as they are."""
    future = {day: clean_rows(ORDERS, 40, day) for day in DAYS}
    batches = write_batches_together(dirs, ledger, ORDERS, future)
    report = audit(dirs, ledger, run_id="early", today=DAYS[1])          # the last day is still to come
    assert [report.outcome(b.file_name).outcome for b in batches] == ["published", "published", "quarantined"]
    released = q.release(dirs, report.outcome(batches[2].file_name).quarantine_id, accept=False,
                         reason="the day has come", who="kim", ledger=ledger, today=TODAY)
    assert (released.outcome, released.rows_published) == ("published", 40)
    assert [ledger.get(b.batch_id).status for b in batches] == ["published"] * 3
    state = published_state(dirs, ledger)
    assert state.problems == [] and state.rows == 120
    assert len({f.path for f in state.files}) == 1              # all three in the one raw file, linked


def test_a_raw_file_leaves_the_published_zone_once_none_of_its_batches_is_published(
        dirs: DataDirs, ledger: Ledger) -> None:
    first, second = write_batches_together(dirs, ledger, ORDERS, {
        DAYS[0]: clean_rows(ORDERS, 50, DAYS[0]), DAYS[1]: clean_rows(ORDERS, 50, DAYS[1])})
    audit(dirs, ledger, run_id="r1", today=TODAY)
    together = published_file(dirs, contract_for(ORDERS), ledger.get(first.batch_id))

    newer = write_batch(dirs, ledger, ORDERS, clean_rows(ORDERS, 30, DAYS[0]), day=DAYS[0])   # the first, again
    audit(dirs, ledger, run_id="r2", today=TODAY)
    assert together.exists()                                   # the second file is still published from it
    assert published_state(dirs, ledger).batch_ids() == {newer.batch_id, second.batch_id}

    write_batch(dirs, ledger, ORDERS, clean_rows(ORDERS, 20, DAYS[1]), day=DAYS[1])          # and the second
    audit(dirs, ledger, run_id="r3", today=TODAY)
    assert not together.exists()
    state = published_state(dirs, ledger)
    assert state.problems == [] and state.rows == 50 and ledger.get(second.batch_id).status == "superseded"
