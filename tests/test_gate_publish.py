"""Write-audit-publish: clean data passes untouched; versions of a file replace each other; a held version
leaves the last good one visible; other partners go on."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import contract_for, load_contracts
from panro.gate import audit, published_state
from panro.gate.reading import validation_chunks
from panro.gate.state import published_file
from panro.lake.batches import SCHEMA_FILE, published_dir, raw_schema, read_batch
from panro.lake.ledger import Ledger
from panro.settings import REPO_ROOT, DataDirs
from tests.support.elsewhere import checks_in, processes
from tests.support.raw import clean_rows, write_batch

D = dt.date(2023, 5, 5)
TODAY = dt.date(2023, 6, 1)


@pytest.fixture
def ledger(dirs: DataDirs):
    with Ledger(dirs.ledger_path) as led:
        yield led


def test_clean_data_of_every_feed_passes_untouched(dirs: DataDirs, ledger: Ledger) -> None:
    contracts = load_contracts()
    batches = {c.name: write_batch(dirs, ledger, c.name, clean_rows(c.name, 150, D), day=D) for c in contracts}
    report = audit(dirs, ledger, run_id="clean", today=TODAY)
    assert report.counts() == {"published": len(contracts), "published_with_rejections": 0, "quarantined": 0}
    assert all(not b.reasons and not b.warnings and not b.failures for b in report.batches), \
        [(b.feed, b.reasons, b.warnings) for b in report.batches if b.reasons or b.warnings]
    assert report.reconciled and report.rows_published == report.rows_delivered == 150 * len(contracts)
    assert not dirs.quarantine.exists() or not any(dirs.quarantine.iterdir())
    for c in contracts:
        b = ledger.get(batches[c.name].batch_id)
        assert (b.status, b.rows_published, b.rows_rejected, b.decided_by) == ("published", 150, 0, "gate")
        published = pq.read_table(published_file(dirs, c, b))
        raw = pq.read_table(b.raw_path)
        assert published.schema.remove_metadata() == raw_schema(c)
        assert published.equals(raw.cast(raw_schema(c)))          # rows as delivered, in order
        assert (published_dir(dirs, c) / SCHEMA_FILE).exists()
    state = published_state(dirs, ledger)
    assert state.problems == [] and len(state.files) == len(contracts) and state.rows == report.rows_published
    assert report.data_docs and report.data_docs.exists()
    assert not (REPO_ROOT / "gx").exists() and not (REPO_ROOT / "great_expectations").exists()
    # nothing pending: nothing to do, no Data Docs rebuilt
    again = audit(dirs, ledger, run_id="again", today=TODAY)
    assert again.batches == [] and again.data_docs is None


def test_a_batch_published_whole_takes_no_second_copy_on_disk(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "yogiyo/orders"
    batch = write_batch(dirs, ledger, feed, clean_rows(feed, 120, D), day=D)
    audit(dirs, ledger, run_id="r1", today=TODAY)
    published = published_file(dirs, contract_for(feed), ledger.get(batch.batch_id))
    raw = Path(ledger.get(batch.batch_id).raw_path)
    assert published.read_bytes() == raw.read_bytes()
    assert published.stat().st_ino == raw.stat().st_ino      # one file in both zones (a hard link)


def test_data_docs_left_for_later_render_on_a_thread_of_their_own(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "yogiyo/orders"
    write_batch(dirs, ledger, feed, clean_rows(feed, 50, D), day=D)
    report = audit(dirs, ledger, run_id="later", today=TODAY, docs="later")
    assert report.counts()["published"] == 1
    assert report.data_docs is not None and not report.data_docs.exists()   # named, not yet rendered
    thread = report.render_docs_in_background()
    assert thread is not None
    thread.join(timeout=120)
    assert report.data_docs.exists()
    pages = list((report.data_docs.parent / "runs").rglob("*.html"))
    assert any("later" in str(p) for p in pages), pages
    assert report.render_docs_in_background() is None                       # rendered once


def test_data_docs_of_feeds_checked_elsewhere_render_elsewhere_from_what_the_checks_stored(
        dirs: DataDirs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task runner's workers check the feeds and another renders the Data Docs (a plain job: the
    suites and the results' keys), while the run goes on; this process renders nothing."""
    from panro.gate.docs import DocsJob

    built_here: list[str] = []
    monkeypatch.setattr(DocsJob, "build", lambda job: built_here.append(job.run_name))  # this process only
    feed = "yogiyo/orders"
    write_batch(dirs, ledger, feed, clean_rows(feed, 50, D), day=D)
    with processes(1) as pool:
        report = audit(dirs, ledger, run_id="elsewhere", today=TODAY, docs="later", check_feeds=checks_in(pool))
        assert report.counts()["published"] == 1 and report.data_docs is not None and report.docs_job is not None
        assert report.docs_job.results      # stored by the process that checked the feed
        index = pool.submit(_render, report.docs_job).result(timeout=180)
    assert index == report.data_docs and index.exists() and built_here == []
    pages = list((report.data_docs.parent / "runs").rglob("*.html"))
    assert any("elsewhere" in str(p) for p in pages), pages


def _render(job: object) -> Path:
    return job.build()  # type: ignore[attr-defined]


def test_a_corrected_redelivery_replaces_the_file(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "yogiyo/orders"
    contract = contract_for(feed)
    v1 = write_batch(dirs, ledger, feed, clean_rows(feed, 120, D), day=D)
    audit(dirs, ledger, run_id="r1", today=TODAY)
    before = published_state(dirs, ledger).fingerprint
    rows = clean_rows(feed, 130, D)
    v2 = write_batch(dirs, ledger, feed, rows, day=D)          # same file name, new content
    report = audit(dirs, ledger, run_id="r2", today=TODAY)
    assert report.outcome(v2.file_name).superseded == [v1.batch_id]
    assert ledger.get(v1.batch_id).status == "superseded" and ledger.get(v2.batch_id).status == "published"
    files = [p for p in published_dir(dirs, contract).glob("*.parquet") if p.name != SCHEMA_FILE]
    assert len(files) == 1 and pq.read_metadata(files[0]).num_rows == 130     # replaced, never added on top
    state = published_state(dirs, ledger)
    assert state.problems == [] and state.fingerprint != before and state.batch_ids() == {v2.batch_id}


def test_a_day_delivered_twice_in_one_run_publishes_the_newest(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "kakao/talkchannel"
    t0 = dt.datetime(2023, 5, 6, 1, 0, tzinfo=dt.UTC)
    v1 = write_batch(dirs, ledger, feed, clean_rows(feed, 100, D), day=D, seen_at=t0)
    v2 = write_batch(dirs, ledger, feed, clean_rows(feed, 110, D), day=D, seen_at=t0 + dt.timedelta(hours=1))
    report = audit(dirs, ledger, run_id="twice", today=TODAY)
    assert [b.outcome for b in report.batches] == ["published", "published"] and report.reconciled
    assert ledger.get(v1.batch_id).status == "superseded" and ledger.get(v2.batch_id).status == "published"
    assert read_batch(published_file(dirs, contract_for(feed), ledger.get(v2.batch_id)), v2.batch_id).num_rows == 110
    assert published_state(dirs, ledger).problems == []


def test_a_held_version_keeps_the_last_good_one_and_others_go_on(dirs: DataDirs, ledger: Ledger) -> None:
    feed, other = "kt/kdeal_orders", "zigzag/sales"
    contract = contract_for(feed)
    good = write_batch(dirs, ledger, feed, clean_rows(feed, 100, D), day=D)
    audit(dirs, ledger, run_id="r1", today=TODAY)
    bad_rows = clean_rows(feed, 100, D)
    for r in bad_rows:
        r["주문상태"] = "??"                                        # every line broken
    bad = write_batch(dirs, ledger, feed, bad_rows, day=D)
    fine = write_batch(dirs, ledger, other, clean_rows(other, 80, D), day=D)
    report = audit(dirs, ledger, run_id="r2", today=TODAY)
    assert report.outcome(bad.file_name).outcome == "quarantined"
    assert report.outcome(fine.file_name).outcome == "published"
    assert ledger.get(good.batch_id).status == "published" and ledger.get(bad.batch_id).status == "quarantined"
    published = pq.read_table(published_file(dirs, contract, ledger.get(good.batch_id)))
    assert set(published.column("_batch_id").to_pylist()) == {good.batch_id}     # the last good data stays
    state = published_state(dirs, ledger)
    assert state.problems == [] and state.batch_ids() == {good.batch_id, fine.batch_id}


def test_volume_is_judged_against_recent_published_history(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "kt/kdeal_stores"
    for i in range(7):
        day = D - dt.timedelta(days=7 - i)
        write_batch(dirs, ledger, feed, clean_rows(feed, 300, day), day=day)
    assert audit(dirs, ledger, run_id="history", today=TODAY).counts()["published"] == 7
    half = write_batch(dirs, ledger, feed, clean_rows(feed, 150, D), day=D)     # the next night: half missing
    report = audit(dirs, ledger, run_id="night", today=TODAY)
    out = report.outcome(half.file_name)
    assert out.outcome == "published" and out.rules("warning") == {"volume"}
    assert "150 rows vs a recent median of 300 (0.50×)" in out.warnings[0]


def test_a_raw_file_that_vanished_is_held_not_fatal(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "yogiyo/orders"
    gone = write_batch(dirs, ledger, feed, clean_rows(feed, 50, D), day=D)
    other = write_batch(dirs, ledger, "zigzag/sales", clean_rows("zigzag/sales", 50, D), day=D)
    from pathlib import Path

    Path(gone.raw_path).unlink()
    report = audit(dirs, ledger, run_id="gone", today=TODAY)
    assert report.outcome(gone.file_name).outcome == "quarantined"
    assert "raw batch file is missing" in report.outcome(gone.file_name).reasons[0]
    assert report.outcome(gone.file_name).rows_quarantined == 50
    assert report.outcome(other.file_name).outcome == "published" and report.reconciled


def test_published_state_names_every_disagreement(dirs: DataDirs, ledger: Ledger) -> None:
    feed = "zigzag/sales"
    contract = contract_for(feed)
    b = write_batch(dirs, ledger, feed, clean_rows(feed, 40, D), day=D)
    audit(dirs, ledger, run_id="r", today=TODAY)
    state = published_state(dirs, ledger)
    assert state.problems == [] and state.feed(feed)[0].batch_id == b.batch_id
    stray = published_dir(dirs, contract) / "zigzag_sales_20230506.parquet.parquet"
    stray.write_bytes(published_file(dirs, contract, ledger.get(b.batch_id)).read_bytes())
    published_file(dirs, contract, ledger.get(b.batch_id)).unlink()
    problems = published_state(dirs, ledger).problems
    assert any("no file" in p for p in problems) and any("no published batch explains it" in p for p in problems)


def test_a_published_file_holding_another_version_than_the_ledgers_is_named(dirs: DataDirs, ledger: Ledger) -> None:
    """A file published whole is its raw file, without metadata of ours: the batch it holds is read
    from its `_batch_id` column's statistics."""
    feed = "zigzag/sales"
    contract = contract_for(feed)
    old = write_batch(dirs, ledger, feed, clean_rows(feed, 40, D), day=D)
    audit(dirs, ledger, run_id="r1", today=TODAY)
    new = write_batch(dirs, ledger, feed, clean_rows(feed, 30, D), day=D)
    audit(dirs, ledger, run_id="r2", today=TODAY)
    path = published_file(dirs, contract, ledger.get(new.batch_id))
    assert not (pq.read_metadata(path).metadata or {}).get(b"panro.batch_id")   # the raw file, linked
    assert published_state(dirs, ledger).problems == []
    path.unlink()
    path.write_bytes(Path(old.raw_path).read_bytes())    # the old version is back in the published zone
    problems = published_state(dirs, ledger).problems
    assert any(f"{path.name} holds {old.batch_id}, the ledger says {new.batch_id}" in p for p in problems), problems


def test_only_empty_files_pending(dirs: DataDirs, ledger: Ledger) -> None:
    a = write_batch(dirs, ledger, "yogiyo/orders", [], day=D)
    b = write_batch(dirs, ledger, "kt/kdeal_stores", [], day=D)
    report = audit(dirs, ledger, run_id="empty", today=TODAY)
    assert report.outcome(a.file_name).outcome == "published" and report.outcome(a.file_name).rules("warning") \
        == {"empty"}
    assert report.outcome(b.file_name).outcome == "quarantined" and report.outcome(b.file_name).rules() == {"empty"}
    assert pq.read_metadata(published_file(dirs, contract_for("yogiyo/orders"), ledger.get(a.batch_id))).num_rows == 0
    assert report.reconciled and report.rows_delivered == 0


def test_a_feed_without_a_contract_is_held(dirs: DataDirs, ledger: Ledger) -> None:
    from panro.lake.ledger import Batch, now_utc

    ledger.add(Batch("acme/widgets/w_20230505.csv@abcdefabcdef", "acme", "widgets", "w_20230505.csv", "u",
                     "abcdefabcdef" * 5, 10, None, D, now_utc(), "extracted", None, 3, None, None, None, None, None))
    report = audit(dirs, ledger, run_id="orphan", today=TODAY)
    (out,) = report.batches
    assert out.outcome == "quarantined" and "no contract for feed acme/widgets" in out.reason
    assert out.rows_quarantined == out.rows_delivered == 3
    assert ledger.get(out.batch_id).status == "quarantined"


def test_a_feed_validated_in_several_frames_gets_the_same_decisions(dirs: DataDirs, ledger: Ledger,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Big backfills are validated in frames of whole batches (bounded memory); batches never straddle frames
    and each keeps its own outcome and rows."""
    from panro import settings
    from panro.gate import checking
    from tests.support.raw import invalid_brn

    monkeypatch.setattr(settings, "VALIDATION_ROWS", 250)  # 150-row batches: one frame each
    frames: list[int] = []

    def chunks(members, limit):
        made = validation_chunks(members, limit)
        frames.extend(len(c) for c in made)
        return made

    monkeypatch.setattr(checking, "validation_chunks", chunks)
    days = [D + dt.timedelta(days=i) for i in range(3)]
    for i, day in enumerate(days):
        rows = clean_rows("yogiyo/orders", 150, day, start=1000 * i)
        if i == 1:
            rows[5]["biz_reg_no"] = invalid_brn(5)                    # one bad row: under the 1% tolerance
        if i == 2:
            for r in rows[:30]:
                r["biz_reg_no"] = invalid_brn(7)                      # 20% bad: the batch is held
        write_batch(dirs, ledger, "yogiyo/orders", rows, day=day)
    report = audit(dirs, ledger, run_id="chunked", today=TODAY)
    outcomes = {b.file_name: (b.outcome, b.rows_published, b.rows_rejected, b.rows_quarantined)
                for b in report.batches}
    c = contract_for("yogiyo/orders")
    assert outcomes == {
        c.file_name(days[0]): ("published", 150, 0, 0),
        c.file_name(days[1]): ("published_with_rejections", 149, 1, 0),
        c.file_name(days[2]): ("quarantined", 0, 0, 150),
    }
    assert report.reconciled
    assert frames == [1, 1, 1]                                        # three frames, a batch each
    # the row rejected in the second frame is the bad one: positions count from its own batch's first row
    second = ledger.get(next(b.batch_id for b in report.batches if b.file_name == c.file_name(days[1])))
    kept = read_batch(published_file(dirs, c, second), second.batch_id).column("biz_reg_no").to_pylist()
    assert len(kept) == 149 and invalid_brn(5) not in kept


def test_each_gate_run_is_checked_afresh_even_under_the_same_run_id(dirs: DataDirs, ledger: Ledger) -> None:
    """A dry run (nothing stored) and then a real audit under the same run id, checked by the same
    worker process: the real one stores its results and gets its Data Docs."""
    write_batch(dirs, ledger, "zigzag/sales", clean_rows("zigzag/sales", 100, D), day=D)
    with processes(1) as pool:
        dry = audit(dirs, ledger, run_id="same", today=TODAY, dry_run=True, check_feeds=checks_in(pool))
        real = audit(dirs, ledger, run_id="same", today=TODAY, check_feeds=checks_in(pool))
    assert dry.data_docs is None and dry.counts()["published"] == 1
    assert real.counts()["published"] == 1
    assert real.data_docs is not None and real.data_docs.exists()
    assert list((dirs.state / "gx_validations").rglob("*.json"))


def test_a_feed_is_published_while_the_workers_still_check_the_others(
        dirs: DataDirs, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's process publishes each feed once it is decided, not all of them after the last check."""
    from panro.gate import checking

    big, small = "yogiyo/orders", "kakao/talkchannel"
    first = write_batch(dirs, ledger, big, clean_rows(big, 300, D), day=D)
    write_batch(dirs, ledger, small, clean_rows(small, 20, D), day=D)
    seen: dict[str, bool] = {}
    real_check = checking.check_feed

    def check_feed(gxr, con, job):   # the smaller feed's check waits until the bigger one is published
        if job.contract.name == small:
            deadline = time.monotonic() + 30
            while ledger.get(first.batch_id).status != "published" and time.monotonic() < deadline:
                time.sleep(0.05)
            seen["published meanwhile"] = ledger.get(first.batch_id).status == "published"
        return real_check(gxr, con, job)

    monkeypatch.setattr(checking, "check_feed", check_feed)
    monkeypatch.setattr(checking, "AUDIT_THREADS", 1)   # one thread: the bigger feed is checked first, then the smaller
    report = audit(dirs, ledger, run_id="pipelined", today=TODAY)
    assert seen == {"published meanwhile": True}
    assert report.counts()["published"] == 2 and [b.feed for b in report.batches] == ["talkchannel", "orders"]
