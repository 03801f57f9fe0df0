"""Each of the twelve feeds, written by hand in its true format, comes back row for row in the raw zone."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import contract_for
from panro.domain.personal import pii_key, pseudonym
from panro.extract import extract
from panro.extract.extract import FeedRunner
from panro.lake.batches import raw_path, raw_schema
from panro.lake.ledger import Ledger, batch_id
from panro.settings import DataDirs
from tests.support.elsewhere import feeds_in, processes
from tests.support.landing import SAMPLES, csv_bytes, deliver, jsonl_bytes, put, read_back, xlsx_bytes

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)


def _source_rows(table: pa.Table, feed: str) -> list[dict]:
    contract = contract_for(feed)
    rows = [{c: row[c] for c in contract.column_names} for row in table.to_pylist()]
    for row in rows:  # JSON text compares by meaning
        for c in contract.columns:
            if c.type == "json" and row[c.name] is not None:
                row[c.name] = json.loads(row[c.name])
    return rows


def _expected(feed: str, dirs: DataDirs) -> list[dict]:
    """The delivered rows as the raw zone keeps them: personal data as its keyed pseudonym (issue 28)."""
    contract = contract_for(feed)
    rows = [dict(r) for r in SAMPLES[feed].rows]
    for row in rows:
        for c in contract.columns:
            if c.type == "json" and row[c.name] is not None:
                row[c.name] = json.loads(row[c.name])
            if c.pii and row[c.name] is not None:
                row[c.name] = pseudonym(pii_key(dirs.state), row[c.name], phone=c.phone)
    return rows


@pytest.mark.parametrize("feed", sorted(SAMPLES))
def test_every_delivered_row_comes_back_once_with_its_lineage(dirs: DataDirs, feed: str) -> None:
    contract = contract_for(feed)
    name = deliver(dirs, feed, DAY)
    data = read_back(dirs, contract.partner, contract.feed, name)
    checksum = hashlib.sha256(data).hexdigest()
    before = dt.datetime.now(dt.UTC)

    report = extract(dirs, [DAY], today=TODAY)

    after = dt.datetime.now(dt.UTC)
    [result] = report.files
    bid = batch_id(contract.partner, contract.feed, name, checksum)
    assert (result.outcome, result.batch_id, result.rows, result.reason) == (
        "extracted", bid, len(SAMPLES[feed].rows), None)
    assert result.raw_path == str(raw_path(dirs, contract, name, checksum))
    table = pq.read_table(result.raw_path)
    assert table.schema == raw_schema(contract)
    assert _source_rows(table, feed) == _expected(feed, dirs)

    lineage = table.select([c for c in table.column_names if c.startswith("_")]).to_pydict()
    n = table.num_rows
    assert lineage["_batch_id"] == [bid] * n
    assert lineage["_partner"] == [contract.partner] * n
    assert lineage["_feed"] == [contract.feed] * n
    assert lineage["_business_date"] == [DAY] * n
    assert lineage["_source_file"] == [name] * n
    assert lineage["_file_checksum"] == [checksum] * n
    assert lineage["_row_number"] == list(range(1, n + 1))
    assert all(before <= t <= after for t in lineage["_loaded_at"])

    with Ledger(dirs.ledger_path) as ledger:
        batch = ledger.get(bid)
    assert batch is not None
    assert (batch.status, batch.rows_delivered, batch.raw_path, batch.business_date) == (
        "extracted", n, result.raw_path, DAY)
    assert (batch.checksum, batch.size_bytes, batch.file_name) == (checksum, len(data), name)
    assert batch.source_mtime == pytest.approx(Path(dirs.landing_url, contract.partner, contract.feed,
                                                    name).stat().st_mtime)


def test_cp949_and_bom_files_are_what_the_partners_send(dirs: DataDirs) -> None:
    stores = SAMPLES["kt/kdeal_stores"].bytes()
    with pytest.raises(UnicodeDecodeError):
        stores.decode("utf-8")
    assert "사업자등록번호" in stores.decode("cp949")
    assert SAMPLES["baemin/edu_enrollments"].bytes().startswith(b"\xef\xbb\xbf")


def test_text_formats_keep_the_partners_text_verbatim(dirs: DataDirs) -> None:
    odd = {"biz_reg_no": " 101-86-62870 ", "order_date": "2023-5-1", "orders": "007",
           "gross_sales_krw": "1,234,567", "coupon_discount_krw": "NA", "delivery_fee_krw": "NULL"}
    empty = {"biz_reg_no": "1018662870", "order_date": "2023-05-01", "orders": "1.0e3",
             "gross_sales_krw": "TRUE", "coupon_discount_krw": None, "delivery_fee_krw": "-0"}
    deliver(dirs, "yogiyo/orders", DAY, [odd, empty])
    [result] = extract(dirs, [DAY], today=TODAY).files
    assert _source_rows(pq.read_table(result.raw_path), "yogiyo/orders") == [odd, empty]


def test_csv_columns_in_another_order_come_back_in_contract_order(dirs: DataDirs) -> None:
    contract = contract_for("zigzag/coupons")
    names = list(reversed(contract.column_names))
    rows = SAMPLES["zigzag/coupons"].rows
    deliver(dirs, "zigzag/coupons", DAY, data=csv_bytes(names, [[r[n] for n in names] for r in rows]))
    [result] = extract(dirs, [DAY], today=TODAY).files
    table = pq.read_table(result.raw_path)
    assert table.column_names[: len(names)] == contract.column_names
    assert _source_rows(table, "zigzag/coupons") == rows


@pytest.mark.parametrize("feed", ["kt/kdeal_stores", "baemin/edu_enrollments", "skplanet/okcashback_promo"])
def test_a_header_only_file_is_a_valid_batch_of_zero_rows(dirs: DataDirs, feed: str) -> None:
    deliver(dirs, feed, DAY, [])
    [result] = extract(dirs, [DAY], today=TODAY).files
    assert (result.outcome, result.rows) == ("extracted", 0)
    table = pq.read_table(result.raw_path)
    assert table.num_rows == 0 and table.schema == raw_schema(contract_for(feed))


@pytest.mark.parametrize("data", [b"", b"\n"])
def test_an_empty_json_lines_file_is_a_day_without_events(dirs: DataDirs, data: bytes) -> None:
    deliver(dirs, "kakao/talkchannel", DAY, data=data)  # JSON Lines has no header to send
    [result] = extract(dirs, [DAY], today=TODAY).files
    assert (result.outcome, result.rows) == ("extracted", 0)
    assert pq.read_table(result.raw_path).schema == raw_schema(contract_for("kakao/talkchannel"))


def test_a_json_lines_row_number_is_its_line(dirs: DataDirs) -> None:
    a, b = SAMPLES["yogiyo/coupons"].rows
    data = jsonl_bytes([a]) + b"\n  \n" + jsonl_bytes([b])
    deliver(dirs, "yogiyo/coupons", DAY, data=data)
    [result] = extract(dirs, [DAY], today=TODAY).files
    table = pq.read_table(result.raw_path)
    assert table.column("_row_number").to_pylist() == [1, 4]
    assert table.column("event_id").to_pylist() == ["YC-1", "YC-2"]


def test_excel_numbers_in_text_columns_become_their_digits(dirs: DataDirs) -> None:
    contract = contract_for("zigzag/support")
    row = [1001, 1018662870, "숫자 상호", "기획전", 150000.0, dt.datetime(2023, 5, 1), "서울"]
    deliver(dirs, "zigzag/support", DAY, data=xlsx_bytes("지원내역", contract.column_names, [row, [None] * 7]))
    [result] = extract(dirs, [DAY], today=TODAY).files
    assert result.rows == 1
    assert _source_rows(pq.read_table(result.raw_path), "zigzag/support") == [
        {"스토어ID": "1001", "사업자번호": "1018662870", "스토어명": "숫자 상호", "지원항목": "기획전",
         "지원금액": 150000, "지원일": DAY, "시도": "서울"}]


def test_the_report_counts_rows_per_feed_and_says_so_briefly(dirs: DataDirs) -> None:
    for feed in ("kakao/talkchannel", "zigzag/sales"):
        deliver(dirs, feed, DAY)
    put(dirs, "kakao", "talkchannel", "README.txt", b"hello")
    report = extract(dirs, [DAY], today=TODAY)
    assert report.rows_by_feed() == {"kakao/talkchannel": 3, "zigzag/sales": 2}
    assert report.totals() == {"extracted": 2, "unchanged": 0, "failed": 0, "unmatched": 1,
                               "deferred": 0, "rows": 5}
    assert "2 file(s) extracted (5 rows)" in report.summary()
    assert "unmatched: kakao/talkchannel README.txt" in report.summary()


def test_a_batch_file_that_cannot_be_put_in_place_leaves_nothing_behind(tmp_path: Path) -> None:
    from panro.lake.batches import write_parquet_atomic

    target = tmp_path / "raw" / "batch.parquet"
    target.mkdir(parents=True)            # something else where the file goes: the rename fails
    (target / "keep").write_text("x")
    table = pa.table({"a": [1, 2, 3]})
    with pytest.raises(OSError):
        write_parquet_atomic(table, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["batch.parquet"]  # no temporary left
    write_parquet_atomic(table, tmp_path / "raw" / "other.parquet")
    assert pq.read_table(tmp_path / "raw" / "other.parquet").equals(table)
    assert sorted(p.name for p in target.parent.iterdir()) == ["batch.parquet", "other.parquet"]


def _extracted(dirs: DataDirs, run_feeds: FeedRunner | None) -> tuple[list[tuple], dict[str, pa.Table]]:
    with Ledger(dirs.ledger_path) as ledger:
        report = extract(dirs, [DAY - dt.timedelta(days=1), DAY], today=TODAY, ledger=ledger,
                         run_feeds=run_feeds)
        batches = {b.batch_id: (b.status, b.rows_delivered, b.reason) for b in ledger.batches()}
    files = sorted((r.partner, r.feed, r.file_name, r.outcome, r.batch_id, r.rows, r.reason,
                    batches[r.batch_id]) for r in report.files)
    tables = {r.batch_id: pq.read_table(r.raw_path).drop_columns(["_loaded_at"]) for r in report.files if r.raw_path}
    return files, tables


def test_segments_extracted_in_other_processes_give_exactly_what_threads_do(tmp_path: Path) -> None:
    """A segment is a unit of work a task runner may send anywhere (a process, a Dask worker): it gets
    plain data and sends back plain data; the ledger and the raw zone are the same as with threads,
    bad files included."""
    landing = tmp_path / "landing"
    for feed in sorted(SAMPLES):
        deliver(landing, feed, DAY)
    put(landing, "zigzag", "sales", contract_for("zigzag/sales").file_name(DAY - dt.timedelta(days=1)), b"\x00bad")
    expected, expected_tables = _extracted(DataDirs.from_env(tmp_path / "threads", str(landing)), None)
    with processes(2) as pool:
        got, tables = _extracted(DataDirs.from_env(tmp_path / "processes", str(landing)), feeds_in(pool))
    assert got == expected
    assert len(got) == len(SAMPLES) + 1 and [f[3] for f in got].count("failed") == 1
    assert tables.keys() == expected_tables.keys()
    assert all(tables[b].equals(expected_tables[b]) for b in tables)
