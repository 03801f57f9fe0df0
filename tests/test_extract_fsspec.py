"""The landing zone may be any fsspec URL: a `memory://` landing behaves like a local folder."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import fsspec
import pyarrow.parquet as pq
import pytest

from panro.extract import extract
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.landing import SAMPLES, deliver, put, read_back

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)


@pytest.fixture
def memory_dirs(dirs: DataDirs) -> Iterator[DataDirs]:
    root = f"/panro-test-{uuid.uuid4().hex}"
    yield DataDirs(root=dirs.root, landing_url=f"memory://{root}/landing")
    fsspec.filesystem("memory").rm(root, recursive=True)


def test_a_memory_landing_is_extracted_like_a_folder(memory_dirs: DataDirs) -> None:
    names = {feed: deliver(memory_dirs, feed, DAY) for feed in SAMPLES}
    put(memory_dirs, "kakao", "talkchannel", "notes.md", b"#")
    deliver(memory_dirs, "zigzag/sales", DAY - dt.timedelta(days=1), data=b"not parquet")

    report = extract(memory_dirs, [DAY], today=TODAY)

    assert {f.feed_name for f in report.extracted} == set(SAMPLES)
    assert report.rows_by_feed() == {feed: len(s.rows) for feed, s in sorted(SAMPLES.items())}
    assert [f.file_name for f in report.failed] == ["zigzag_sales_20230430.parquet"]
    assert [f.file_name for f in report.unmatched] == ["notes.md"]
    talk = next(f for f in report.extracted if f.feed_name == "kakao/talkchannel")
    assert pq.read_table(talk.raw_path).column("event_id").to_pylist() == ["KTC-000001", "KTC-000002",
                                                                           "KTC-000003"]
    with Ledger(memory_dirs.ledger_path) as ledger:
        batch = ledger.get(talk.batch_id)
    assert batch.source_uri == f"{memory_dirs.landing_url}/kakao/talkchannel/{names['kakao/talkchannel']}"
    assert batch.source_mtime is not None


def test_a_memory_landing_knows_unchanged_and_changed_files(memory_dirs: DataDirs) -> None:
    name = deliver(memory_dirs, "yogiyo/coupons", DAY)
    [first] = extract(memory_dirs, [DAY], today=TODAY).files
    original = read_back(memory_dirs, "yogiyo", "coupons", name)

    deliver(memory_dirs, "yogiyo/coupons", DAY)  # same bytes, new creation time
    [same] = extract(memory_dirs, [DAY], today=TODAY).files
    deliver(memory_dirs, "yogiyo/coupons", DAY, SAMPLES["yogiyo/coupons"].rows[1:])
    [changed] = extract(memory_dirs, [DAY], today=TODAY).files

    assert (first.outcome, same.outcome, changed.outcome) == ("extracted", "unchanged", "extracted")
    assert same.batch_id == first.batch_id != changed.batch_id
    assert changed.rows == 1
    assert read_back(memory_dirs, "yogiyo", "coupons", name) != original  # only the partner wrote it


def test_a_run_lists_its_landing_once_and_the_next_run_lists_it_afresh(memory_dirs: DataDirs) -> None:
    """The command line's check, the flow's check and extraction share one listing (issue 24); a file
    delivered after it is the next run's, and a run that ended early leaves nothing behind."""
    from panro.domain.contracts import load_contracts
    from panro.extract.discover import forget_listings, listing_for_run

    url, contracts = memory_dirs.landing_url, load_contracts()
    deliver(memory_dirs, "yogiyo/coupons", DAY)
    checked, _ = listing_for_run(url, contracts)                     # the command line's check
    deliver(memory_dirs, "yogiyo/coupons", DAY + dt.timedelta(days=1))
    assert listing_for_run(url, contracts)[0] == checked             # the flow's check: the same listing
    report = extract(memory_dirs, [DAY, DAY + dt.timedelta(days=1)], today=TODAY)
    assert [f.business_date for f in report.extracted] == [DAY]      # extraction took it, as checked
    [late] = extract(memory_dirs, [DAY, DAY + dt.timedelta(days=1)], today=TODAY).extracted
    assert late.business_date == DAY + dt.timedelta(days=1)          # the next run lists afresh

    deliver(memory_dirs, "yogiyo/coupons", DAY + dt.timedelta(days=2))
    assert len(listing_for_run(url, contracts)[0]) == 3              # a check, then the run stops early
    forget_listings()
    deliver(memory_dirs, "yogiyo/coupons", DAY + dt.timedelta(days=3))
    assert len(listing_for_run(url, contracts, take=True)[0]) == 4
