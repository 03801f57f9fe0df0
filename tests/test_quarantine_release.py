"""`panro quarantine list | show | release`: what was held, why, and putting it through again."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from panro import quarantine as q
from panro.domain.contracts import contract_for
from panro.gate import audit, published_state
from panro.lake import batches
from panro.lake.batches import published_path, raw_schema
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.raw import clean_rows, write_batch

D = dt.date(2023, 5, 5)
TODAY = dt.date(2023, 6, 1)
STORES = "kt/kdeal_stores"


@pytest.fixture
def ledger(dirs: DataDirs):
    with Ledger(dirs.ledger_path) as led:
        yield led


def _held_snapshot(dirs: DataDirs, ledger: Ledger, *, day: dt.date = D, bad: int = 10, n: int = 100):
    rows = clean_rows(STORES, n, day)
    for r in rows[:bad]:
        r["시도"] = "동해특별시"                   # not a 시도: 10% of the rows, over the 1% tolerance
    batch = write_batch(dirs, ledger, STORES, rows, day=day)
    report = audit(dirs, ledger, run_id="night", today=TODAY)
    assert report.outcome(batch.file_name).outcome == "quarantined"
    return batch, report


def test_list_and_show(dirs: DataDirs, ledger: Ledger) -> None:
    batch, report = _held_snapshot(dirs, ledger)
    other = write_batch(dirs, ledger, "yogiyo/orders", clean_rows("yogiyo/orders", 100, D), day=D)
    assert audit(dirs, ledger, run_id="other", today=TODAY).outcome(other.file_name).outcome == "published"
    (entry,) = q.list_quarantined(dirs)
    assert entry.id == f"KDEAL_STORE_20230505.csv@{batch.checksum[:12]}" == report.batches[0].quarantine_id
    assert (entry.partner, entry.feed, entry.status, entry.rows_delivered) == ("kt", "kdeal_stores", "held", 100)
    assert "row rules reject 10 of 100 rows" in entry.reason and entry.id in entry.line()
    # the id, a unique prefix of 12+ characters of it or of its checksum, or the full batch id, names it
    for ident in (entry.id, "KDEAL_STORE_2023", batch.checksum[:12], batch.batch_id):
        assert q.resolve(dirs, ident).id == entry.id
    with pytest.raises(q.QuarantineError, match="no quarantined batch"):
        q.show(dirs, "nothing-like-this")
    detail = q.show(dirs, batch.checksum[:12])
    text = detail.text()
    assert "kt/kdeal_stores KDEAL_STORE_20230505.csv" in text and "region: 시도 is not a known 시도 name" in text
    assert "'동해특별시'" in text and "rejected rows: 10" in text
    assert "홍길동" not in text and "010-" not in text                      # personal data never shown
    rejected = pq.read_table(detail.folder / q.REJECTED_FILE)
    assert set(rejected.column("대표자명").to_pylist()) == {"***"}
    assert rejected.column("_reasons").to_pylist()[0] == [
        "region: 시도 is not a known 시도 name (region_variants seed)"]


def test_release_needs_who_and_why(dirs: DataDirs, ledger: Ledger) -> None:
    batch, _ = _held_snapshot(dirs, ledger)
    with pytest.raises(q.QuarantineError, match="needs a reason"):
        q.release(dirs, batch.checksum[:12], accept=True, reason=" ", who="kim", ledger=ledger)
    with pytest.raises(q.QuarantineError, match="who"):
        q.release(dirs, batch.checksum[:12], accept=True, reason="ok", who="", ledger=ledger)
    assert ledger.get(batch.batch_id).status == "quarantined"


def test_release_accept_publishes_as_is_and_records_who_and_why(dirs: DataDirs, ledger: Ledger) -> None:
    batch, _ = _held_snapshot(dirs, ledger)
    done = q.release(dirs, batch.checksum[:12], accept=True, who="kim.dq",
                     reason="동해특별시 is the partner's test region; stores are real", ledger=ledger)
    assert (done.action, done.outcome, done.rows_published, done.rows_rejected) == ("accepted", "published", 100, 0)
    b = ledger.get(batch.batch_id)
    assert (b.status, b.decided_by, b.rows_published) == ("published", "kim.dq", 100)
    assert "accepted as-is by kim.dq" in b.reason
    assert pq.read_metadata(published_path(dirs, contract_for(STORES), batch.file_name, batch.checksum)).num_rows == 100
    manifest = json.loads((q.folder(dirs, done.id) / q.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["status"] == "accepted"
    why = "동해특별시 is the partner's test region; stores are real"
    assert manifest["history"][-1] | {"at": None} == {"at": None, "action": "accept", "who": "kim.dq",
                                                      "reason": why, "outcome": "published"}
    assert q.list_quarantined(dirs) == [] and [e.status for e in q.list_quarantined(dirs, include_all=True)] == [
        "accepted"]
    assert published_state(dirs, ledger).problems == []
    with pytest.raises(q.QuarantineError, match="not held"):
        q.release(dirs, done.id, accept=True, reason="again", who="kim", ledger=ledger)


def test_accepting_a_batch_whose_raw_rows_changed_since_the_gate_publishes_nothing(
        dirs: DataDirs, ledger: Ledger) -> None:
    batch, _ = _held_snapshot(dirs, ledger)
    raw = pq.read_table(batch.raw_path)
    batches.write_parquet_atomic(raw.slice(0, 60), Path(batch.raw_path))     # 40 of its 100 rows gone
    with pytest.raises(q.QuarantineError, match=r"holds 60 rows of batch .* the ledger recorded 100"):
        q.release(dirs, batch.checksum[:12], accept=True, reason="known test region", who="kim", ledger=ledger)
    assert ledger.get(batch.batch_id).status == "quarantined"
    assert not published_path(dirs, contract_for(STORES), batch.file_name, batch.checksum).exists()


def test_an_accepted_batchs_published_file_is_durable_before_the_ledger_names_it(
        dirs: DataDirs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    batch, _ = _held_snapshot(dirs, ledger)
    published = published_path(dirs, contract_for(STORES), batch.file_name, batch.checksum)
    events: list[str] = []
    real_fsync, real_update_many = batches.fsync_path, Ledger.update_many

    def fsync_path(path: Path) -> None:
        real_fsync(path)
        events.append(f"fsync {path.name}" if path == published.parent else "fsync a file")

    def update_many(self: Ledger, updates: list) -> None:
        events.extend(f"ledger {fields['status']}" for bid, fields in updates if bid == batch.batch_id)
        real_update_many(self, updates)

    monkeypatch.setattr(batches, "fsync_path", fsync_path)
    monkeypatch.setattr(Ledger, "update_many", update_many)
    q.release(dirs, batch.checksum[:12], accept=True, reason="known test region", who="kim", ledger=ledger)

    # the file's bytes, then the rename that put it in place, then the ledger entry that names it
    # (the published zone's index, written from the ledger, comes after)
    assert events[:3] == ["fsync a file", "fsync kdeal_stores", "ledger published"], events


def test_release_reaudits_once_the_cause_is_settled(dirs: DataDirs, ledger: Ledger) -> None:
    """A file dated after 'today' (a partner clock error, or our own) is held; audited again later it passes."""
    feed = "yogiyo/orders"
    early = write_batch(dirs, ledger, feed, clean_rows(feed, 100, D), day=D)
    report = audit(dirs, ledger, run_id="night", today=D - dt.timedelta(days=1))
    assert report.outcome(early.file_name).rules() == {"future"}
    # still not settled: held again, and the attempt is on record
    again = q.release(dirs, early.checksum[:12], accept=False, reason="retry", who="lee", ledger=ledger,
                      today=D - dt.timedelta(days=1))
    assert (again.action, again.outcome) == ("re-audited", "quarantined")
    assert ledger.get(early.batch_id).status == "quarantined"
    # settled: re-audited with the current contract and suite, and published
    done = q.release(dirs, early.checksum[:12], accept=False, reason="business date is now past", who="lee",
                     ledger=ledger, today=TODAY)
    assert (done.action, done.outcome, done.rows_published) == ("re-audited", "published", 100)
    b = ledger.get(early.batch_id)
    assert (b.status, b.decided_by) == ("published", "lee") and "released by lee" in b.reason
    manifest = json.loads((q.folder(dirs, done.id) / q.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["status"] == "released"
    assert [(h["action"], h["outcome"]) for h in manifest["history"]] == [("re-audit", "quarantined"),
                                                                         ("re-audit", "published")]
    assert q.list_quarantined(dirs) == []


def test_a_corrected_redelivery_supersedes_the_held_version(dirs: DataDirs, ledger: Ledger) -> None:
    held, _ = _held_snapshot(dirs, ledger)
    fixed = write_batch(dirs, ledger, STORES, clean_rows(STORES, 100, D), day=D)     # same file name, corrected
    report = audit(dirs, ledger, run_id="next", today=TODAY)
    out = report.outcome(fixed.file_name)
    assert out.outcome == "published" and out.superseded == [held.batch_id]
    assert ledger.get(held.batch_id).status == "superseded"
    assert q.list_quarantined(dirs) == []
    (entry,) = q.list_quarantined(dirs, include_all=True)
    assert entry.status == "superseded"
    with pytest.raises(q.QuarantineError, match="not held"):
        q.release(dirs, entry.id, accept=True, reason="late", who="kim", ledger=ledger)


def test_an_older_held_version_cannot_roll_back_a_newer_published_one(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "yogiyo/orders"
    held = write_batch(dirs, ledger, feed, clean_rows(feed, 100, D), day=D)
    audit(dirs, ledger, run_id="n1", today=D - dt.timedelta(days=1))                 # held: dated in the future
    newer = write_batch(dirs, ledger, feed, clean_rows(feed, 90, D), day=D)
    ledger.update(held.batch_id, status="quarantined")
    report = audit(dirs, ledger, run_id="n2", today=TODAY)
    assert report.outcome(newer.file_name).outcome == "published"
    # the held version was superseded by the newer one: nothing to release
    assert ledger.get(held.batch_id).status == "superseded"
    with pytest.raises(q.QuarantineError):
        q.release(dirs, held.checksum[:12], accept=True, reason="x", who="kim", ledger=ledger)


def test_release_opens_the_ledger_itself(dirs: DataDirs) -> None:
    with Ledger(dirs.ledger_path) as led:
        batch, _ = _held_snapshot(dirs, led)
    done = q.release(dirs, batch.checksum[:12], accept=True, reason="checked by phone", who="park")
    assert done.outcome == "published"
    with Ledger(dirs.ledger_path) as led:
        assert led.get(batch.batch_id).decided_by == "park"


def test_command_line_helpers(dirs: DataDirs, capsys: pytest.CaptureFixture[str]) -> None:
    assert q.cli_list(dirs) == 0 and "nothing is held back" in capsys.readouterr().out
    with Ledger(dirs.ledger_path) as led:
        batch, _ = _held_snapshot(dirs, led)
    assert q.cli_list(dirs) == 0
    out = capsys.readouterr().out
    assert f"KDEAL_STORE_20230505.csv@{batch.checksum[:12]}" in out and "held" in out
    assert q.cli_show(dirs, "nope") == 1 and "no quarantined batch" in capsys.readouterr().err
    assert q.cli_show(dirs, batch.checksum[:12]) == 0 and "동해특별시" in capsys.readouterr().out
    # a re-audit needs no reason; the batch is still bad: exit 2, still held
    assert q.cli_release(dirs, batch.checksum[:12], accept=False, reason="", who="kim") == 2
    assert "re-audited → quarantined" in capsys.readouterr().out
    assert q.cli_release(dirs, batch.checksum[:12], accept=True, reason="", who="kim") == 1
    assert q.cli_release(dirs, batch.checksum[:12], accept=True, reason="known test region", who="kim") == 0
    assert "accepted → published (100 rows published" in capsys.readouterr().out


def test_accepting_a_drifted_file_publishes_it_in_the_contract_schema(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "yogiyo/orders"
    contract = contract_for(feed)
    batch = write_batch(dirs, ledger, feed, clean_rows(feed, 50, D), day=D,
                        rename={"delivery_fee_krw": "delivery_fee"})
    report = audit(dirs, ledger, run_id="n", today=TODAY)
    assert report.outcome(batch.file_name).rules() == {"schema"}
    q.release(dirs, batch.checksum[:12], accept=True, reason="column renamed by the partner; fee not needed",
              who="kim", ledger=ledger)
    published = pq.read_table(published_path(dirs, contract, batch.file_name, batch.checksum))
    assert published.schema.remove_metadata() == raw_schema(contract)
    assert published.column("delivery_fee_krw").null_count == 50 and "delivery_fee" not in published.column_names
    assert published_state(dirs, ledger).problems == []


def test_quarantine_list_also_names_files_that_could_not_be_read_until_redelivered(
        dirs: DataDirs, capsys: pytest.CaptureFixture[str]) -> None:
    from panro.extract import extract
    from tests.support.landing import deliver

    day = dt.date(2023, 5, 3)
    name = deliver(dirs, "kt/kdeal_orders", day, data=b"")        # a broken, zero-byte export
    extract(dirs, [day], today=day)
    assert q.cli_list(dirs) == 0
    out = capsys.readouterr().out
    assert "could not be read" in out
    assert f"kt/kdeal_orders {name} (2023-05-03): " in out and "empty" in out

    deliver(dirs, "kt/kdeal_orders", day)                            # the partner sends it again, fixed
    extract(dirs, [day], today=day)
    assert q.cli_list(dirs) == 0
    assert "could not be read" not in capsys.readouterr().out
