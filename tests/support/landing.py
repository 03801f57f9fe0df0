"""Hand-written partner files for tests: small, in each feed's true format (feeds.md), quirks included.

`put(landing, partner, feed, name, data)` writes raw bytes into a landing zone (a folder or any fsspec
URL). The `write_*` helpers encode rows the way the partners do; `SAMPLES` holds, for each of the
twelve feeds, a few rows exactly as they should come back from the raw zone, and `deliver()` writes
them as that feed's file for a business date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from panro.domain.contracts import contract_for

Row = dict[str, Any]


def landing_url(landing: Any) -> str:
    """A DataDirs, a path or a URL → the landing URL."""
    return getattr(landing, "landing_url", None) or str(landing)


def put(landing: Any, partner: str, feed: str, name: str, data: bytes) -> str:
    """Write bytes as a delivered file; returns its path on the landing file system."""
    fs, root = fsspec.core.url_to_fs(landing_url(landing))
    folder = f"{root.rstrip('/')}/{partner}/{feed}"
    fs.makedirs(folder, exist_ok=True)
    path = f"{folder}/{name}"
    fs.pipe_file(path, data)
    return path


def read_back(landing: Any, partner: str, feed: str, name: str) -> bytes:
    fs, root = fsspec.core.url_to_fs(landing_url(landing))
    return fs.cat_file(f"{root.rstrip('/')}/{partner}/{feed}/{name}")


# -- encoders --------------------------------------------------------------------------------------

def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8",
              delimiter: str = ",", bom: bool = False, newline: str = "\n") -> bytes:
    """Delimited text as partners write it: quoted only when needed, None as an empty field."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    data = buf.getvalue().encode("cp949" if encoding == "cp949" else "utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def jsonl_bytes(records: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def xlsx_bytes(sheet: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
               other_sheets: Sequence[str] = ("요약",)) -> bytes:
    """A real workbook written with openpyxl; dates become Excel dates."""
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    first.title = other_sheets[0] if other_sheets else sheet
    if other_sheets:
        first.append(["이 시트는 요약입니다"])
        for name in other_sheets[1:]:
            book.create_sheet(name)
        ws = book.create_sheet(sheet)
    else:
        ws = first
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    for cell in ws["F"][1:]:
        if isinstance(cell.value, dt.date):
            cell.number_format = "yyyy-mm-dd"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


# -- the twelve feeds: sample rows as they must come back ------------------------------------------

@dataclass(frozen=True)
class Sample:
    feed: str                                   # partner/feed
    rows: list[Row]                             # the raw rows expected back, contract column order
    encode: Callable[[list[Row]], bytes]        # rows → the file's bytes

    @property
    def contract(self) -> Any:
        return contract_for(self.feed)

    def file_name(self, day: dt.date) -> str:
        return self.contract.file_name(day)

    def bytes(self, rows: list[Row] | None = None) -> bytes:
        return self.encode(self.rows if rows is None else rows)


def _cols(feed: str) -> list[str]:
    return contract_for(feed).column_names


def _csv(feed: str, **kw: Any) -> Callable[[list[Row]], bytes]:
    names = _cols(feed)
    return lambda rows: csv_bytes(names, [[r[n] for n in names] for r in rows], **kw)


def _jsonl(rows: list[Row]) -> bytes:
    return jsonl_bytes(rows)


def _yogiyo_support(rows: list[Row]) -> bytes:
    day = rows[0]["delivery_date"] if rows else "2023-05-02"
    records = [{
        "merchant": {"brn": r["merchant_brn"], "name": r["merchant_name"], "sido": r["merchant_sido"],
                     "sigungu": r["merchant_sigungu"], "category": r["merchant_category"]},
        "enrolled_at": r["enrolled_at"], "package": r["package"], "gov_support_krw": r["gov_support_krw"],
        "private_support_krw": r["private_support_krw"],
        "extras": None if r["extras"] is None else json.loads(r["extras"]),
    } for r in rows]
    return json.dumps({"delivery_date": day, "records": records}, ensure_ascii=False, indent=1).encode()


def _zigzag_support(rows: list[Row]) -> bytes:
    names = _cols("zigzag/support")
    return xlsx_bytes("지원내역", names, [[r[n] for n in names] for r in rows])


def _zigzag_sales(rows: list[Row]) -> bytes:
    schema = pa.schema([("store_id", pa.string()), ("biz_reg_no", pa.string()), ("sales_date", pa.date32()),
                        ("orders", pa.int32()), ("gmv_krw", pa.int64()), ("coupon_discount_krw", pa.int64())])
    return parquet_bytes(pa.Table.from_pylist(rows, schema=schema))


def _extras(*items: dict[str, Any]) -> str:
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":"))


SAMPLES: dict[str, Sample] = {s.feed: s for s in [
    Sample("kakao/talkchannel", [
        {"event_id": "KTC-000001", "event_type": "channel_opened", "occurred_at": "2023-05-01T09:12:00+09:00",
         "biz_reg_no": "1018662870", "store_name": "망원 떡집", "market_id": "MKT-0042", "market_name": "망원시장",
         "sido": "서울특별시", "sigungu": "마포구", "channel_friends": 0, "tutor_id": None},
        {"event_id": "KTC-000002", "event_type": "tutor_visit", "occurred_at": "2023-05-01T14:22:05+09:00",
         "biz_reg_no": "2208812340", "store_name": "강릉 커피 \"바다\"", "market_id": None, "market_name": None,
         "sido": "강원도", "sigungu": "강릉시", "channel_friends": None, "tutor_id": "TUT-007"},
        {"event_id": "KTC-000003", "event_type": "message_campaign", "occurred_at": "2023-05-01T23:59:59+09:00",
         "biz_reg_no": "1208123456", "store_name": "Seoul Bakery", "market_id": None, "market_name": None,
         "sido": "Seoul", "sigungu": "종로구", "channel_friends": 1534, "tutor_id": None},
    ], _jsonl),
    Sample("baemin/edu_enrollments", [
        {"enrollment_id": "EN-1", "learner_id": "L-1", "biz_reg_no": "101-86-62870", "course_id": "BM-EDU-01",
         "course_title": "배달 마케팅, 처음부터", "course_category": "마케팅", "enrolled_at": "2023-05-01 10:00:00",
         "completed_at": None, "satisfaction": None},
        {"enrollment_id": "EN-2", "learner_id": "L-2", "biz_reg_no": None, "course_id": "BM-EDU-02",
         "course_title": "창업 기초", "course_category": "창업", "enrolled_at": "2023-04-20 08:30:00",
         "completed_at": "2023-05-01 21:00:00", "satisfaction": "4.5"},
    ], _csv("baemin/edu_enrollments", bom=True, newline="\r\n")),
    Sample("baemin/delivery_stats", [
        {"stat_date": "20230501", "sigungu_code": "11440", "category": "카페·디저트", "orders": "1203",
         "sales_krw": "25400000", "active_stores": "311"},
        {"stat_date": "20230501", "sigungu_code": "42150", "category": "치킨", "orders": "0",
         "sales_krw": "0", "active_stores": "12"},
    ], _csv("baemin/delivery_stats")),
    Sample("kt/kdeal_stores", [
        {"사업자등록번호": "101-86-62870", "상호명": "망원 떡집", "대표자명": "김민수", "연락처": "010-1234-5678",
         "시도": "서울시", "시군구": "마포구", "업종": "음식", "입점일": "2023.04.03", "수수료면제": "Y",
         "상세페이지지원": "N", "메시지발송건수": "12", "스마트상점": "N"},
        {"사업자등록번호": "220-88-12340", "상호명": "춘천 닭갈비, 본점", "대표자명": "이영희", "연락처": None,
         "시도": "강원특별자치도", "시군구": "춘천시", "업종": "음식", "입점일": "2023.05.01", "수수료면제": "N",
         "상세페이지지원": "Y", "메시지발송건수": "0", "스마트상점": "Y"},
    ], _csv("kt/kdeal_stores", encoding="cp949")),
    Sample("kt/kdeal_orders", [
        {"주문번호": "KD-0001", "사업자등록번호": "101-86-62870", "주문일시": "2023-05-01 12:00:01",
         "주문금액": "12,000", "할인금액": "0", "쿠폰번호": None, "주문상태": "결제완료"},
        {"주문번호": "KD-0002", "사업자등록번호": "220-88-12340", "주문일시": "2023-05-01 18:30:00",
         "주문금액": "1,250,000", "할인금액": "3,000", "쿠폰번호": "CP-77", "주문상태": "취소"},
    ], _csv("kt/kdeal_orders", encoding="cp949")),
    Sample("skplanet/okcashback_promo", [
        {"campaign_id": "OKCB-01", "biz_reg_no": "1018662870", "promo_date": "20230501", "impressions": "1500",
         "clicks": "42", "store_visits": "7", "cashback_points": "3500", "festival_code": "DH2023-05"},
        {"campaign_id": "OKCB-02", "biz_reg_no": "2118700014", "promo_date": "20230501", "impressions": "80",
         "clicks": "0", "store_visits": "0", "cashback_points": "0", "festival_code": None},
    ], _csv("skplanet/okcashback_promo", delimiter="|")),
    Sample("yogiyo/support", [
        {"delivery_date": "2023-05-02", "merchant_brn": "1018662870", "merchant_name": "망원 치킨",
         "merchant_sido": "서울", "merchant_sigungu": "마포구", "merchant_category": "치킨",
         "enrolled_at": "2023-05-02", "package": "1+1", "gov_support_krw": 300000,
         "private_support_krw": 300000,
         "extras": _extras({"type": "menu_photo", "amount_krw": 50000, "applied_at": "2023-05-10"})},
        {"delivery_date": "2023-05-02", "merchant_brn": "3148101232", "merchant_name": "대전 분식",
         "merchant_sido": "대전광역시", "merchant_sigungu": None, "merchant_category": "분식",
         "enrolled_at": "2023-05-01", "package": None, "gov_support_krw": None, "private_support_krw": None,
         "extras": _extras({"type": "ad_discount", "amount_krw": 20000, "applied_at": "2023-05-02"},
                           {"type": "coupon_pack", "amount_krw": 10000, "applied_at": "2023-05-03"})},
    ], _yogiyo_support),
    Sample("yogiyo/coupons", [
        {"event_id": "YC-1", "event_type": "issued", "coupon_id": "C-1", "campaign_id": "CMP-1",
         "campaign_name": "가정의 달 쿠폰", "face_value_krw": 3000, "biz_reg_no": "1018662870",
         "order_id": None, "order_amount_krw": None, "event_ts": 1682866800000},
        {"event_id": "YC-2", "event_type": "redeemed", "coupon_id": "C-1", "campaign_id": "CMP-1",
         "campaign_name": None, "face_value_krw": 3000, "biz_reg_no": "1018662870",
         "order_id": "O-9", "order_amount_krw": 24000, "event_ts": 1682953199999},
    ], _jsonl),
    Sample("yogiyo/orders", [
        {"biz_reg_no": "1018662870", "order_date": "2023-05-01", "orders": "31", "gross_sales_krw": "712000",
         "coupon_discount_krw": "9000", "delivery_fee_krw": "93000"},
        {"biz_reg_no": "617-81-00447", "order_date": "2023-05-01", "orders": "1", "gross_sales_krw": "15,000",
         "coupon_discount_krw": "0", "delivery_fee_krw": "3000"},
    ], _csv("yogiyo/orders")),
    Sample("zigzag/support", [
        {"스토어ID": "ZZ-0001", "사업자번호": "101-86-62870", "스토어명": "데일리룩", "지원항목": "광고포인트",
         "지원금액": 500000, "지원일": dt.date(2023, 5, 1), "시도": "경기"},
        {"스토어ID": "ZZ-0002", "사업자번호": "2208812340", "스토어명": "봄날 옷장", "지원항목": "AI분석리포트",
         "지원금액": 0, "지원일": dt.date(2023, 4, 30), "시도": "부산광역시"},
    ], _zigzag_support),
    Sample("zigzag/sales", [
        {"store_id": "ZZ-0001", "biz_reg_no": "1018662870", "sales_date": dt.date(2023, 5, 1), "orders": 12,
         "gmv_krw": 480000, "coupon_discount_krw": 12000},
        {"store_id": "ZZ-0002", "biz_reg_no": "2208812340", "sales_date": dt.date(2023, 5, 1), "orders": 0,
         "gmv_krw": 0, "coupon_discount_krw": 0},
    ], _zigzag_sales),
    Sample("zigzag/coupons", [
        {"coupon_code": "ZC-1", "campaign_code": "SPRING", "store_id": "ZZ-0001",
         "issued_at": "2023-05-01T10:00:00+09:00", "used_at": None, "expired_at": None,
         "discount_krw": "3,000", "order_amount_krw": None},
        {"coupon_code": "ZC-0", "campaign_code": "SPRING", "store_id": "ZZ-0002",
         "issued_at": "2023-04-28T10:00:00+09:00", "used_at": "2023-05-01T20:15:00+09:00", "expired_at": None,
         "discount_krw": "3000", "order_amount_krw": "41000"},
    ], _csv("zigzag/coupons")),
]}


def deliver(landing: Any, feed: str, day: dt.date, rows: list[Row] | None = None,
            data: bytes | None = None) -> str:
    """Write feed's file for `day` (its sample rows, other rows, or the given bytes); returns its name."""
    sample = SAMPLES[feed]
    name = sample.file_name(day)
    partner, feed_name = feed.split("/")
    put(landing, partner, feed_name, name, sample.bytes(rows) if data is None else data)
    return name
