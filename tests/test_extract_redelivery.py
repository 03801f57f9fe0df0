"""Re-delivery: the same bytes are a no-op; new bytes under the same name are a new batch, never mixed."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow.parquet as pq

from panro.extract import extract
from panro.lake import batches
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.landing import SAMPLES, deliver

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)
FEED = "kt/kdeal_orders"


def _landing_file(dirs: DataDirs, name: str) -> Path:
    return Path(dirs.landing_url, "kt", "kdeal_orders", name)


def _raw_files(dirs: DataDirs) -> list[str]:
    return sorted(p.name for p in dirs.raw.rglob("*.parquet"))


def _versions(dirs: DataDirs, name: str) -> list:
    with Ledger(dirs.ledger_path) as ledger:
        return ledger.versions("kt", "kdeal_orders", name)


def test_the_same_bytes_again_change_nothing(dirs: DataDirs) -> None:
    name = deliver(dirs, FEED, DAY)
    [first] = extract(dirs, [DAY], today=TODAY).files
    raw_before = Path(first.raw_path).stat().st_mtime_ns

    deliver(dirs, FEED, DAY)  # the partner sends the very same file again (a new mtime)
    [again] = extract(dirs, [DAY], today=TODAY).files
    [third] = extract(dirs, [DAY], today=TODAY).files

    assert (again.outcome, again.batch_id, again.rows) == ("unchanged", first.batch_id, 2)
    assert third.outcome == "unchanged"
    assert _raw_files(dirs) == [Path(first.raw_path).name]
    assert Path(first.raw_path).stat().st_mtime_ns == raw_before
    [version] = _versions(dirs, name)
    assert version.status == "extracted"
    # the new mtime is remembered, so the next run does not even read the file
    assert version.source_mtime == _landing_file(dirs, name).stat().st_mtime


def test_changed_bytes_are_a_new_batch_holding_only_the_new_rows(dirs: DataDirs) -> None:
    name = deliver(dirs, FEED, DAY)
    [first] = extract(dirs, [DAY], today=TODAY).files
    corrected = [dict(SAMPLES[FEED].rows[0], 주문금액="13,000")]
    deliver(dirs, FEED, DAY, corrected)

    [second] = extract(dirs, [DAY], today=TODAY).files

    assert second.outcome == "extracted"
    assert second.batch_id != first.batch_id and second.batch_id.startswith(f"kt/kdeal_orders/{name}@")
    assert second.rows == 1
    new = pq.read_table(second.raw_path)
    assert new.column("주문금액").to_pylist() == ["13,000"]
    assert set(new.column("_batch_id").to_pylist()) == {second.batch_id}
    old = pq.read_table(first.raw_path)  # the old version's raw batch is kept as it was
    assert old.num_rows == 2 and set(old.column("_batch_id").to_pylist()) == {first.batch_id}
    assert [(v.batch_id, v.status) for v in _versions(dirs, name)] == [
        (first.batch_id, "extracted"), (second.batch_id, "extracted")]


def test_landing_files_are_never_modified_or_deleted(dirs: DataDirs) -> None:
    names = [deliver(dirs, feed, DAY) for feed in SAMPLES]
    deliver(dirs, "yogiyo/coupons", dt.date(2023, 5, 9))      # a future file: fails
    deliver(dirs, "zigzag/sales", DAY - dt.timedelta(days=1), data=b"PAR1 broken")  # a bad file
    landing = Path(dirs.landing_url)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in landing.rglob("*") if p.is_file()}

    report = extract(dirs, None, today=TODAY)
    extract(dirs, None, today=TODAY)

    assert len(report.extracted) == len(names) and len(report.failed) == 2
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in landing.rglob("*") if p.is_file()}
    assert after == before


def test_an_older_version_delivered_again_goes_through_the_gate_again(dirs: DataDirs) -> None:
    name = deliver(dirs, FEED, DAY)
    [v1] = extract(dirs, [DAY], today=TODAY).files
    deliver(dirs, FEED, DAY, SAMPLES[FEED].rows[:1])
    [v2] = extract(dirs, [DAY], today=TODAY).files
    with Ledger(dirs.ledger_path) as ledger:  # the gate published v2 over v1
        ledger.update(v1.batch_id, status="superseded")
        ledger.update(v2.batch_id, status="published")

    deliver(dirs, FEED, DAY)  # the partner goes back to v1's bytes
    [back] = extract(dirs, [DAY], today=TODAY).files

    assert (back.outcome, back.batch_id, back.rows) == ("extracted", v1.batch_id, 2)
    versions = _versions(dirs, name)
    assert [v.batch_id for v in versions] == [v2.batch_id, v1.batch_id]  # v1 is the latest seen again
    assert [v.status for v in versions] == ["published", "extracted"]


def test_a_touched_file_with_the_same_bytes_is_unchanged(dirs: DataDirs) -> None:
    name = deliver(dirs, FEED, DAY)
    [first] = extract(dirs, [DAY], today=TODAY).files
    path = _landing_file(dirs, name)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    [again] = extract(dirs, [DAY], today=TODAY).files
    assert (again.outcome, again.batch_id) == ("unchanged", first.batch_id)
    assert len(_versions(dirs, name)) == 1


def test_the_ledger_records_raw_files_only_once_they_and_their_renames_are_durable(
        dirs: DataDirs, monkeypatch) -> None:
    """A segment's raw file is made durable where it is written (a thread, a process, a Dask worker),
    before its results go back to the process that writes the ledger."""
    events: list[tuple[str, ...]] = []
    real_fsync, real_add_many = batches.fsync_path, Ledger.add_many

    def fsync_path(path: Path) -> None:
        real_fsync(path)
        events.append(("durable", path.name if path.is_file() else "its folder"))

    def add_many(self: Ledger, added: list) -> None:
        events.extend(("ledger", Path(b.raw_path).name) for b in added if b.raw_path)
        real_add_many(self, added)

    monkeypatch.setattr(batches, "fsync_path", fsync_path)
    monkeypatch.setattr(Ledger, "add_many", add_many)
    deliver(dirs, FEED, DAY)
    deliver(dirs, FEED, DAY + dt.timedelta(days=1))
    extract(dirs, [DAY, DAY + dt.timedelta(days=1)], today=TODAY)

    # the two new versions' rows in one raw file (one feed): its bytes before its rename, its folder
    # (the rename), then the ledger's two entries naming it
    [raw] = _raw_files(dirs)
    assert [e[0] for e in events] == ["durable", "durable", "ledger", "ledger"]
    assert events[1:] == [("durable", "its folder"), ("ledger", raw), ("ledger", raw)]

    events.clear()
    deliver(dirs, FEED, DAY)      # the same bytes again: no new file, nothing to make durable or record
    extract(dirs, [DAY], today=TODAY)
    assert events == []
