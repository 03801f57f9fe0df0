"""Bad files never crash a run or disappear: each is a `failed` batch with a reason saying what and where."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import contract_for
from panro.extract import extract
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from tests.support.landing import SAMPLES, csv_bytes, deliver, jsonl_bytes, parquet_bytes, put, xlsx_bytes

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)


def _csv(feed: str, rows: list[dict], header: list[str] | None = None, **kw) -> bytes:
    names = header or contract_for(feed).column_names
    return csv_bytes(names, [[r.get(n) for n in names] for r in rows], **kw)


def _cp949_stores_with_bad_byte() -> bytes:
    data = SAMPLES["kt/kdeal_stores"].bytes()
    lines = data.split(b"\n")
    lines[2] = lines[2].replace("이영희".encode("cp949"), b"\xff\xff\xff")  # line 3, in 대표자명
    return b"\n".join(lines)


def _utf8_orders_with_bad_byte() -> bytes:
    return SAMPLES["yogiyo/orders"].bytes().replace(b"712000", b"71\xc3\x28000")


def _jsonl_with_broken_line() -> bytes:
    a, b = SAMPLES["kakao/talkchannel"].rows[:2]
    return jsonl_bytes([a]) + b'{"event_id": "KTC-000002", "event_type": "tutor_visit",\n' + jsonl_bytes([b])


def _jsonl_with_lineage_field() -> bytes:
    """A new field is kept (schema drift), but not one named like the pipeline's own `_` columns."""
    a, b = SAMPLES["kakao/talkchannel"].rows[:2]
    return jsonl_bytes([a, dict(b, _batch_id="x")])


def _jsonl_without_field() -> bytes:
    return jsonl_bytes([{k: v for k, v in r.items() if k != "channel_friends"}
                        for r in SAMPLES["kakao/talkchannel"].rows])


def _jsonl_with_text_for_int() -> bytes:
    a, b = SAMPLES["yogiyo/coupons"].rows
    return jsonl_bytes([a, dict(b, face_value_krw="3,000")])


def _truncated_parquet() -> bytes:
    data = SAMPLES["zigzag/sales"].bytes()
    return data[: len(data) // 2]


def _parquet(**changes: pa.Array) -> bytes:
    table = pq.read_table(io.BytesIO(SAMPLES["zigzag/sales"].bytes()))
    for name, array in changes.items():
        if array is None:
            table = table.drop_columns([name])
        elif name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, array)
        else:
            table = table.append_column(name, array)
    return parquet_bytes(table)


def _truncated_xlsx() -> bytes:
    data = SAMPLES["zigzag/support"].bytes()
    return data[: len(data) - 200]


def _xlsx(header: list[str] | None = None, sheet: str = "지원내역", **cell: object) -> bytes:
    names = contract_for("zigzag/support").column_names
    rows = [dict(r) for r in SAMPLES["zigzag/support"].rows]
    rows[1].update(cell)
    return xlsx_bytes(sheet, header or names, [[r[n] for n in names] for r in rows])


def _json_document_without_records() -> bytes:
    return json.dumps({"delivery_date": "2023-05-01", "rows": []}).encode()


def _json_document_with_bad_type() -> bytes:
    doc = json.loads(SAMPLES["yogiyo/support"].bytes())
    doc["records"][1]["gov_support_krw"] = "30만원"
    return json.dumps(doc, ensure_ascii=False).encode()


ORDERS = SAMPLES["kt/kdeal_orders"].rows
STATS = SAMPLES["baemin/delivery_stats"].rows

# feed, file bytes, fragments the reason must contain
CASES = {
    "cp949 undecodable": ("kt/kdeal_stores", _cp949_stores_with_bad_byte(),
                          ["line 3", "byte offset", "not valid cp949", "0xFF"]),
    "utf-8 undecodable": ("yogiyo/orders", _utf8_orders_with_bad_byte(),
                          ["line 2", "byte offset", "not valid UTF-8"]),
    "no BOM": ("baemin/edu_enrollments", _csv("baemin/edu_enrollments", SAMPLES["baemin/edu_enrollments"].rows),
               ["byte-order mark", "utf-8-sig"]),
    "malformed JSON line": ("kakao/talkchannel", _jsonl_with_broken_line(),
                            ["line 2", "not valid JSON", "one JSON object per line"]),
    "JSON field named like the lineage": ("kakao/talkchannel", _jsonl_with_lineage_field(),
                                          ["line 2", "unexpected field '_batch_id'", "'channel_friends'"]),
    "JSON field missing everywhere": ("kakao/talkchannel", _jsonl_without_field(),
                                      ["['channel_friends']", "appear in no record", "expected the fields"]),
    "JSON text for an int": ("yogiyo/coupons", _jsonl_with_text_for_int(),
                             ["line 2", "'face_value_krw'", "'3,000'", "raw type 'int'"]),
    "JSON document without records": ("yogiyo/support", _json_document_without_records(),
                                      ["'records' list"]),
    "JSON document value of the wrong type": ("yogiyo/support", _json_document_with_bad_type(),
                                              ["record 2", "'gov_support_krw'", "raw type 'int'"]),
    "truncated Parquet": ("zigzag/sales", _truncated_parquet(), ["not a readable Parquet file", "truncated"]),
    "Parquet column missing": ("zigzag/sales", _parquet(gmv_krw=None),
                               ["missing column(s) ['gmv_krw']", "expected the columns ['store_id'"]),
    "Parquet column renamed": ("zigzag/sales", _parquet(gmv_krw=None, gmv=pa.array([1, 2])),
                               ["missing column(s) ['gmv_krw']", "unexpected column(s) ['gmv']", "renamed"]),
    "Parquet text for an int": ("zigzag/sales", _parquet(orders=pa.array(["12", "0"])),
                                ["column 'orders'", "Parquet type string", "raw type 'int'"]),
    "Parquet value with a fraction": ("zigzag/sales", _parquet(gmv_krw=pa.array([1.0, 2.5])),
                                      ["row 2, column 'gmv_krw'", "2.5", "raw type 'int'"]),
    "truncated Excel": ("zigzag/support", _truncated_xlsx(), ["not a readable .xlsx workbook", "truncated"]),
    "Excel sheet missing": ("zigzag/support", _xlsx(sheet="Sheet1"), ["no sheet '지원내역'", "'Sheet1'"]),
    "Excel column renamed": ("zigzag/support",
                             _xlsx(header=["스토어ID", "사업자번호", "스토어명", "지원항목", "금액", "지원일", "시도"]),
                             ["header (row 1)", "missing column(s) ['지원금액']", "unexpected column(s) ['금액']"]),
    "Excel text for an int": ("zigzag/support", _xlsx(지원금액="50만원"),
                              ["data row 2", "column '지원금액'", "'50만원'", "raw type 'int'"]),
    "Excel text for a date": ("zigzag/support", _xlsx(지원일="2023/05/01"),
                              ["data row 2", "column '지원일'", "an Excel date"]),
    "CSV column missing": ("kt/kdeal_orders",
                           _csv("kt/kdeal_orders", ORDERS, encoding="cp949",
                                header=[c for c in contract_for("kt/kdeal_orders").column_names if c != "쿠폰번호"]),
                           ["header (line 1)", "missing column(s) ['쿠폰번호']", "expected the columns ['주문번호'"]),
    "CSV column renamed": ("baemin/delivery_stats",
                           csv_bytes(["stat_date", "sigungu_code", "category", "orders", "sales", "active_stores"],
                                     [list(r.values()) for r in STATS]),
                           ["missing column(s) ['sales_krw']", "unexpected column(s) ['sales']", "renamed"]),
    "CSV column without a name": ("baemin/delivery_stats",
                                  csv_bytes([*STATS[0], ""], [[*r.values(), "x"] for r in STATS]),
                                  ["unexpected column(s) ['']", "a column without a name"]),
    "CSV wrong field count": ("yogiyo/orders",
                              SAMPLES["yogiyo/orders"].bytes().replace(b"93000", b"93000,1"),
                              ["data row 1", "7 field(s), expected 6"]),
    "zero bytes": ("zigzag/coupons", b"", ["empty (0 bytes)", "header row"]),
    "zero-byte Parquet": ("zigzag/sales", b"", ["empty (0 bytes)", "with zero rows"]),
    "zero-byte Excel": ("zigzag/support", b"", ["empty (0 bytes)", "workbook"]),
    "zero-byte JSON document": ("yogiyo/support", b"", ["empty (0 bytes)", "empty 'records' list"]),
    "only a BOM, no header": ("baemin/edu_enrollments", b"\xef\xbb\xbf", ["no header row"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_file_fails_with_its_reason_and_the_others_go_on(dirs: DataDirs, case: str) -> None:
    feed, data, fragments = CASES[case]
    contract = contract_for(feed)
    name = deliver(dirs, feed, DAY, data=data)
    good = "zigzag/coupons" if feed != "zigzag/coupons" else "yogiyo/orders"
    deliver(dirs, good, DAY)

    report = extract(dirs, [DAY], today=TODAY)

    assert [f.feed_name for f in report.extracted] == [good]
    [bad] = report.failed
    assert (bad.feed_name, bad.file_name, bad.business_date, bad.rows, bad.raw_path) == (
        feed, name, DAY, None, None)
    assert bad.reason.startswith(f"{feed} {name}: ")
    for fragment in fragments:
        assert fragment in bad.reason
    with Ledger(dirs.ledger_path) as ledger:
        [batch] = ledger.versions(contract.partner, contract.feed, name)
    assert (batch.batch_id, batch.status, batch.reason, batch.size_bytes) == (
        bad.batch_id, "failed", bad.reason, len(data))
    assert not (dirs.raw / contract.partner / contract.feed).exists()
    assert bad.reason in report.summary() or name in report.summary()


def test_personal_data_never_appears_in_a_reason(dirs: DataDirs) -> None:
    rows = SAMPLES["kt/kdeal_stores"].rows
    broken = _csv("kt/kdeal_stores", rows, encoding="cp949").replace(
        "김민수".encode("cp949"), "김민수,추가".encode("cp949"))
    deliver(dirs, "kt/kdeal_stores", DAY, data=broken)
    deliver(dirs, "kt/kdeal_stores", DAY + dt.timedelta(days=-1), data=_cp949_stores_with_bad_byte())
    report = extract(dirs, [DAY], today=TODAY)
    assert len(report.failed) == 2
    text = " ".join(f.reason for f in report.failed) + report.summary()
    for row in rows:
        for value in (row["대표자명"], row["연락처"]):
            if value:
                assert value not in text
                assert value[-4:] not in text
    assert "data row 1" in text and "13 field(s), expected 12" in text


@pytest.mark.parametrize("name, fragments", [
    ("talkchannel_20231345.jsonl", ["'20231345'", "cannot be parsed", "%Y%m%d", "talkchannel_20230501.jsonl"]),
    ("talkchannel_2023-05-01.jsonl", ["'2023-05-01'", "cannot be parsed", "%Y%m%d"]),
    ("talkchannel_2023051.jsonl", ["'2023051'", "%Y%m%d"]),
])
def test_a_file_name_with_an_unparseable_date_fails(dirs: DataDirs, name: str, fragments: list[str]) -> None:
    put(dirs, "kakao", "talkchannel", name, SAMPLES["kakao/talkchannel"].bytes())
    deliver(dirs, "kakao/talkchannel", DAY)
    report = extract(dirs, [DAY], today=TODAY)
    [bad] = report.failed
    assert (bad.file_name, bad.business_date) == (name, None)
    assert bad.reason.startswith(f"kakao/talkchannel {name}: ")
    for fragment in fragments:
        assert fragment in bad.reason
    assert len(report.extracted) == 1
    assert extract(dirs, [DAY], today=TODAY).failed == []  # recorded once, not again and again


def test_a_future_file_fails_and_heals_once_its_day_has_come(dirs: DataDirs) -> None:
    future = dt.date(2023, 5, 20)
    name = deliver(dirs, "yogiyo/coupons", future)
    deliver(dirs, "yogiyo/orders", DAY)

    report = extract(dirs, None, today=TODAY)

    [bad] = report.failed
    assert bad.file_name == name and bad.business_date == future
    for fragment in ("yogiyo/coupons", name, "2023-05-20", "is after today", "2023-05-02"):
        assert fragment in bad.reason
    assert len(report.extracted) == 1
    assert extract(dirs, None, today=TODAY).failed == []

    later = extract(dirs, None, today=future)
    [healed] = later.extracted
    assert (healed.batch_id, healed.rows) == (bad.batch_id, 2)
    with Ledger(dirs.ledger_path) as ledger:
        batch = ledger.get(bad.batch_id)
    assert (batch.status, batch.reason, batch.rows_delivered) == ("extracted", None, 2)


def test_a_failed_file_redelivered_with_new_bytes_is_extracted(dirs: DataDirs) -> None:
    name = deliver(dirs, "zigzag/sales", DAY, data=_truncated_parquet())
    [bad] = extract(dirs, [DAY], today=TODAY).failed
    [same] = extract(dirs, [DAY], today=TODAY).files
    assert (same.outcome, same.batch_id) == ("unchanged", bad.batch_id)
    assert same.reason == bad.reason

    deliver(dirs, "zigzag/sales", DAY)
    [good] = extract(dirs, [DAY], today=TODAY).files

    assert (good.outcome, good.rows) == ("extracted", 2)
    with Ledger(dirs.ledger_path) as ledger:
        assert [v.status for v in ledger.versions("zigzag", "sales", name)] == ["failed", "extracted"]


def test_files_that_fit_no_contract_are_reported_not_extracted(dirs: DataDirs) -> None:
    put(dirs, "kakao", "talkchannel", "README.txt", b"notes")
    put(dirs, "kakao", "talkchannel", "talkchannel_20230501.jsonl.part", b"{")
    put(dirs, "naver", "smartstore", "orders_20230501.csv", b"a,b\n")
    (Path(dirs.landing_url) / "kakao").mkdir(parents=True, exist_ok=True)
    (Path(dirs.landing_url) / "kakao" / "stray.csv").write_bytes(b"x")  # not in a <partner>/<feed>/ folder
    deliver(dirs, "kakao/talkchannel", DAY)

    report = extract(dirs, [DAY], today=TODAY)

    assert len(report.extracted) == 1
    reasons = {f.file_name: f.reason for f in report.unmatched}
    assert "fits no file pattern" in reasons["README.txt"]
    assert "talkchannel_20230501.jsonl" in reasons["README.txt"]  # the expected name, by example
    assert "fits no file pattern" in reasons["talkchannel_20230501.jsonl.part"]
    assert "no feed contract for folder naver/smartstore" in reasons["orders_20230501.csv"]
    assert "not in a <partner>/<feed>/ folder" in reasons["stray.csv"]
    with Ledger(dirs.ledger_path) as ledger:
        assert {b.file_name for b in ledger.batches()} == {"talkchannel_20230501.jsonl"}
