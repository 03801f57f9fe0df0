"""Hand-built published batches for dbt tests.

Rows are written exactly as a partner's values arrive in a published batch (architecture.md,
"Raw batch schema"): the partner's own column names, text kept verbatim (`101-86-62870`,
`12,000`, `2023.05.01`, epoch milliseconds …), then the lineage columns. The schema is always
`panro.lake.batches.raw_schema(contract)`, so a test can never write a column the contract lacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from panro.domain.brn import check_digit
from panro.domain.contracts import contract_for, load_contracts
from panro.domain.kst import ZONE
from panro.lake.batches import (
    SCHEMA_FILE,
    ensure_published_schemas,
    published_dir,
    published_path,
    raw_schema,
    write_parquet_atomic,
    write_published_index,
)
from panro.lake.ledger import batch_id as make_batch_id
from panro.settings import DataDirs

DEFAULT_LOADED_AT = dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)


def valid_brn(prefix: str, *, dashed: bool = False) -> str:
    """A BRN with a correct check digit for nine leading digits (`101-86-6287` → `101-86-62870`)."""
    digits = prefix.replace("-", "")
    assert len(digits) == 9 and digits.isdigit(), prefix
    full = digits + str(check_digit(digits))
    return f"{full[:3]}-{full[3:5]}-{full[5:]}" if dashed else full


def invalid_brn(prefix: str, *, dashed: bool = False) -> str:
    """A well-shaped BRN whose check digit is wrong."""
    digits = prefix.replace("-", "")
    full = digits + str((check_digit(digits) + 1) % 10)
    return f"{full[:3]}-{full[3:5]}-{full[5:]}" if dashed else full


def ensure_schemas(dirs: DataDirs) -> None:
    """Every contracted feed gets its zero-row `_schema.parquet` (as the pipeline does)."""
    ensure_published_schemas(dirs, load_contracts())


def _batch_table(contract: Any, file_name: str, rows: Iterable[Mapping[str, Any]], loaded_at: dt.datetime,
                 business_date: dt.date | None) -> tuple[str, pa.Table]:
    """The batch id and raw table of `rows` as the version of `file_name` they make (see write_published)."""
    rows = [dict(r) for r in rows]
    names = contract.column_names
    for r in rows:
        unknown = set(r) - set(names)
        if unknown:
            raise KeyError(f"{contract.name}: unknown columns {sorted(unknown)}")
    if business_date is None:
        business_date = contract.business_date(file_name)
        if business_date is None:
            raise ValueError(f"{file_name!r} is not a file name of {contract.name}")
    payload = json.dumps([[r.get(n) for n in names] for r in rows], default=str, ensure_ascii=False)
    checksum = hashlib.sha256(f"{file_name}\n{payload}".encode()).hexdigest()
    bid = make_batch_id(contract.partner, contract.feed, file_name, checksum)
    schema = raw_schema(contract)
    columns: dict[str, list[Any]] = {n: [r.get(n) for r in rows] for n in names}
    n = len(rows)
    columns |= {
        "_batch_id": [bid] * n,
        "_partner": [contract.partner] * n,
        "_feed": [contract.feed] * n,
        "_business_date": [business_date] * n,
        "_source_file": [file_name] * n,
        "_file_checksum": [checksum] * n,
        "_row_number": list(range(1, n + 1)),
        "_loaded_at": [loaded_at] * n,
    }
    return bid, pa.table({f.name: pa.array(columns[f.name], type=f.type) for f in schema}, schema=schema)


def write_published(
    dirs: DataDirs,
    feed: str,
    file_name: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    loaded_at: dt.datetime = DEFAULT_LOADED_AT,
    business_date: dt.date | None = None,
) -> Path:
    """Write `rows` as the current published version of `file_name` of `feed` (`partner/feed`), in
    a file of its own.

    Columns missing from a row are NULL; a column the contract does not know is an error. The
    checksum (and so `_batch_id`) is derived from the rows, so identical rows give the same batch
    and changed rows a new one, as with real files.
    """
    contract = contract_for(feed)
    bid, table = _batch_table(contract, file_name, rows, loaded_at, business_date)
    path = published_path(dirs, contract, file_name)
    write_parquet_atomic(table.replace_schema_metadata({"panro.batch_id": bid}), path)  # as the gate does
    return path


def write_published_together(dirs: DataDirs, feed: str, files: Mapping[str, Iterable[Mapping[str, Any]]], *,
                             loaded_at: dt.datetime = DEFAULT_LOADED_AT) -> tuple[Path, dict[str, str]]:
    """Write versions of several files of `feed` into one published file, as the gate publishes a raw
    file of several whose batches all passed (a link to it); its path, and each file's batch id."""
    contract = contract_for(feed)
    made = {name: _batch_table(contract, name, rows, loaded_at, None) for name, rows in files.items()}
    path = published_dir(dirs, contract) / f"{next(iter(files))}+{len(files) - 1}@together.parquet"
    write_parquet_atomic(pa.concat_tables([table for _, table in made.values()]), path)
    return path, {name: bid for name, (bid, _) in made.items()}


def remove_published(dirs: DataDirs, feed: str, file_name: str) -> None:
    path = published_path(dirs, contract_for(feed), file_name)
    path.unlink(missing_ok=True)


def index_published(dirs: DataDirs, *, leave_out: Iterable[str] = ()) -> None:
    """Write the published zone's index from the files in it, as the gate writes it from the ledger:
    every batch in them (but those left out: replaced by a newer version, say)."""
    listed = []
    for path in sorted(dirs.published.glob("*/*/*.parquet")):
        if path.name != SCHEMA_FILE:
            held = set(pq.read_table(path, columns=["_batch_id"]).column("_batch_id").to_pylist())
            held |= {(pq.read_metadata(path).metadata or {}).get(b"panro.batch_id", b"").decode()} - {""}
            listed += [(path.parent.parent.name, path.parent.name, b, str(path)) for b in sorted(held)
                       if b not in set(leave_out)]
    write_published_index(dirs, listed)


def jsonl_extras(extras: list[dict[str, Any]] | None) -> str | None:
    """요기요 `extras` as the JSON text the extractor keeps."""
    return None if extras is None else json.dumps(extras, ensure_ascii=False)


# -- A small hand-built delivery: a few merchants per partner, values as partners send them -------

def epoch_ms(iso: str) -> int:
    """`2023-05-04T15:30:00+00:00` → UTC epoch milliseconds (요기요 `event_ts`)."""
    return int(dt.datetime.fromisoformat(iso).timestamp() * 1000)


# Merchants (valid BRNs) of the small delivery, M1 … M10, and one BRN that fails the check digit.
M = {i: valid_brn(p) for i, p in {
    1: "101866287",   # 1018662870, domain.md's worked example
    2: "116820027",   # 1168200276
    3: "134867268",   # 1348672683
    4: "214860011",
    5: "220810022",
    6: "105870033",
    7: "603810044",
    8: "504860055",
    9: "121810066",
    10: "131860077",
}.items()}
BAD = invalid_brn("123456789")


def dashed(brn: str) -> str:
    return f"{brn[:3]}-{brn[3:5]}-{brn[5:]}"


def small_delivery_files() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(feed, file name) → rows of the small delivery (see tests/test_dbt_marts.py for the sums)."""
    f: dict[tuple[str, str], list[dict[str, Any]]] = {}
    # kakao: E2 is delivered again the next day (same event_id); E3 has an invalid BRN.
    e2 = {"event_id": "K-E2", "event_type": "tutor_visit", "occurred_at": "2023-05-03T23:30:00+09:00",
          "biz_reg_no": M[2], "store_name": "춘천닭갈비", "market_id": "MKT-0007", "market_name": "춘천중앙시장",
          "sido": "강원도", "sigungu": "춘천시", "channel_friends": None, "tutor_id": "T-01"}
    f[("kakao/talkchannel", "talkchannel_20230503.jsonl")] = [
        {"event_id": "K-E1", "event_type": "channel_opened", "occurred_at": "2023-05-03T14:22:05+09:00",
         "biz_reg_no": M[1], "store_name": "망원떡집", "market_id": "MKT-0042", "market_name": "망원시장",
         "sido": "서울", "sigungu": "마포구", "channel_friends": 0, "tutor_id": None},
        e2,
        {"event_id": "K-E3", "event_type": "message_campaign", "occurred_at": "2023-05-03T09:00:00+09:00",
         "biz_reg_no": BAD, "store_name": "무효상점", "market_id": None, "market_name": None,
         "sido": "Seoul", "sigungu": "종로구", "channel_friends": 5, "tutor_id": None},
    ]
    f[("kakao/talkchannel", "talkchannel_20230504.jsonl")] = [
        e2,
        {"event_id": "K-E5", "event_type": "message_campaign", "occurred_at": "2023-05-04T00:10:00+09:00",
         "biz_reg_no": M[1], "store_name": "망원떡집 본점", "market_id": None, "market_name": None,
         "sido": "서울특별시", "sigungu": None, "channel_friends": 120, "tutor_id": None},
    ]
    # baemin: EN1 re-sent with completion and rating; EN2 has no BRN (a prospective founder).
    f[("baemin/edu_enrollments", "edu_enrollments_2023-05-02.csv")] = [
        {"enrollment_id": "EN1", "learner_id": "L1", "biz_reg_no": dashed(M[3]), "course_id": "BM-EDU-01",
         "course_title": "배달앱 마케팅 기초", "course_category": "마케팅", "enrolled_at": "2023-05-02 10:00:00",
         "completed_at": None, "satisfaction": None},
        {"enrollment_id": "EN2", "learner_id": "L2", "biz_reg_no": None, "course_id": "BM-EDU-02",
         "course_title": "창업 준비", "course_category": "창업", "enrolled_at": "2023-05-02 23:59:59",
         "completed_at": None, "satisfaction": None},
    ]
    f[("baemin/edu_enrollments", "edu_enrollments_2023-05-20.csv")] = [
        {"enrollment_id": "EN1", "learner_id": "L1", "biz_reg_no": dashed(M[3]), "course_id": "BM-EDU-01",
         "course_title": "배달앱 마케팅 기초", "course_category": "마케팅", "enrolled_at": "2023-05-02 10:00:00",
         "completed_at": "2023-05-19 12:00:00", "satisfaction": "4.5"},
        {"enrollment_id": "EN3", "learner_id": "L1", "biz_reg_no": M[1], "course_id": "BM-EDU-02",
         "course_title": "창업 준비", "course_category": "창업", "enrolled_at": "2023-05-20 09:00:00",
         "completed_at": "2023-05-20 11:00:00", "satisfaction": "5.0"},
    ]
    # baemin aggregates: 42110 is 춘천 under the old 강원 code (now 51110).
    f[("baemin/delivery_stats", "delivery_stats_20230410.csv")] = [
        {"stat_date": "20230410", "sigungu_code": "42110", "category": "치킨", "orders": "10",
         "sales_krw": "1,000,000", "active_stores": "5"},
        {"stat_date": "20230410", "sigungu_code": "11440", "category": "한식", "orders": "3",
         "sales_krw": "300000", "active_stores": "2"},
    ]
    f[("baemin/delivery_stats", "delivery_stats_20230505.csv")] = [
        {"stat_date": "20230505", "sigungu_code": "51110", "category": "치킨", "orders": "20",
         "sales_krw": "3,500,000", "active_stores": "6"},
        {"stat_date": "20230505", "sigungu_code": "11440", "category": "중식", "orders": "2",
         "sales_krw": "200,000", "active_stores": "1"},
    ]
    # K-deal snapshots: 0503 is missing; K2 (M5) is absent on 0504 and back on 0505.
    def store(brn: str, name: str, sido: str, sigungu: str, cat: str, since: str, fee: str, page: str,
              msgs: str, smart: str) -> dict[str, Any]:
        return {"사업자등록번호": brn, "상호명": name, "대표자명": "홍길동", "연락처": "010-1234-5678",
                "시도": sido, "시군구": sigungu, "업종": cat, "입점일": since, "수수료면제": fee,
                "상세페이지지원": page, "메시지발송건수": msgs, "스마트상점": smart}
    k1 = ("K1상회", "전라북도", "전주시", "한식", "2023.04.15")
    k2 = ("K2분식", "경기", "수원시", "분식", "2023.05.01")
    f[("kt/kdeal_stores", "KDEAL_STORE_20230501.csv")] = [
        store(dashed(M[4]), *k1, "Y", "N", "3", "N"),
        store(dashed(M[5]), *k2, "N", "N", "0", "N"),
        store(dashed(BAD), "무효상회", "서울", "중구", "한식", "2023.01.01", "Y", "Y", "9", "Y"),
    ]
    f[("kt/kdeal_stores", "KDEAL_STORE_20230502.csv")] = [
        store(dashed(M[4]), *k1, "Y", "Y", "3", "N"),
        store(dashed(M[5]), *k2, "N", "N", "2", "Y"),
    ]
    f[("kt/kdeal_stores", "KDEAL_STORE_20230504.csv")] = [
        store(dashed(M[4]), *k1, "Y", "Y", "5", "Y"),
    ]
    f[("kt/kdeal_stores", "KDEAL_STORE_20230505.csv")] = [
        store(dashed(M[4]), *k1, "Y", "Y", "5", "Y"),
        store(dashed(M[5]), *k2, "N", "N", "4", "Y"),
    ]
    # K-deal orders: O4 (with coupon KC-2) is cancelled two days later.
    def order(no: str, brn: str, at: str, amount: str, discount: str, coupon: str | None,
              status: str = "결제완료") -> dict[str, Any]:
        return {"주문번호": no, "사업자등록번호": dashed(brn), "주문일시": at, "주문금액": amount,
                "할인금액": discount, "쿠폰번호": coupon, "주문상태": status}
    f[("kt/kdeal_orders", "KDEAL_ORDER_20230410.csv")] = [
        order("O1", M[4], "2023-04-10 12:00:00", "12,000", "0", None),
        order("O2", M[4], "2023-04-10 23:30:00", "8,000", "0", None),
    ]
    f[("kt/kdeal_orders", "KDEAL_ORDER_20230505.csv")] = [
        order("O3", M[4], "2023-05-05 10:00:00", "30,000", "3,000", "KC-1"),
        order("O4", M[4], "2023-05-05 11:00:00", "20,000", "2,000", "KC-2"),
        order("O5", M[5], "2023-05-05 12:00:00", "15,000", "0", None),
    ]
    f[("kt/kdeal_orders", "KDEAL_ORDER_20230507.csv")] = [
        order("O4", M[4], "2023-05-05 11:00:00", "20,000", "2,000", "KC-2", "취소"),
    ]
    # OK캐쉬백
    def promo(brn: str, day: str, points: str, festival: str | None) -> dict[str, Any]:
        return {"campaign_id": "C1", "biz_reg_no": brn, "promo_date": day, "impressions": "100",
                "clicks": "10", "store_visits": "3", "cashback_points": points, "festival_code": festival}
    f[("skplanet/okcashback_promo", "okcb_promo_20230506.txt")] = [
        promo(M[1], "20230506", "5,000", "DH2023-05"),
        promo(M[6], "20230506", "2,500", "DH2023-05"),
    ]
    f[("skplanet/okcashback_promo", "okcb_promo_20230507.txt")] = [
        promo(M[1], "20230507", "1000", None),
    ]
    # 요기요 support: M7 on the 1+1 package with a menu photo; M8 extras only.
    f[("yogiyo/support", "yogiyo_support_20230502.json")] = [
        {"delivery_date": "2023-05-02", "merchant_brn": M[7], "merchant_name": "해운대치킨",
         "merchant_sido": "부산시", "merchant_sigungu": "해운대구", "merchant_category": "치킨",
         "enrolled_at": "2023-05-02", "package": "1+1", "gov_support_krw": 300000,
         "private_support_krw": 300000,
         "extras": jsonl_extras([{"type": "menu_photo", "amount_krw": 50000, "applied_at": "2023-05-10"}])},
        {"delivery_date": "2023-05-02", "merchant_brn": M[8], "merchant_name": "대구피자",
         "merchant_sido": "대구", "merchant_sigungu": "중구", "merchant_category": "피자",
         "enrolled_at": "2023-05-03", "package": None, "gov_support_krw": None, "private_support_krw": None,
         "extras": jsonl_extras([{"type": "ad_discount", "amount_krw": 20000, "applied_at": "2023-05-03"},
                                 {"type": "coupon_pack", "amount_krw": 10000, "applied_at": "2023-05-03"}])},
    ]
    # 요기요 coupons (event_ts: UTC epoch ms): Y1 redeemed after 12 h; Y2 redeemed then cancelled;
    # Y3 expired. Y1 is issued at 00:30 KST on 05-05 (15:30 UTC on 05-04).
    def cev(eid: str, etype: str, coupon: str, at_utc: str, order_id: str | None = None,
            amount: int | None = None) -> dict[str, Any]:
        return {"event_id": eid, "event_type": etype, "coupon_id": coupon, "campaign_id": "YC-A",
                "campaign_name": "5월 쿠폰", "face_value_krw": 3000, "biz_reg_no": M[7], "order_id": order_id,
                "order_amount_krw": amount, "event_ts": epoch_ms(at_utc)}
    f[("yogiyo/coupons", "coupon_events_20230505.jsonl")] = [
        cev("YE1", "issued", "Y1", "2023-05-04T15:30:00+00:00"),
        cev("YE2", "redeemed", "Y1", "2023-05-05T03:30:00+00:00", "Y-O1", 25000),
        cev("YE3", "issued", "Y2", "2023-05-05T01:00:00+00:00"),
        cev("YE4", "redeemed", "Y2", "2023-05-05T07:00:00+00:00", "Y-O2", 18000),
        cev("YE5", "issued", "Y3", "2023-05-05T02:00:00+00:00"),
    ]
    f[("yogiyo/coupons", "coupon_events_20230506.jsonl")] = [
        cev("YE6", "cancelled", "Y2", "2023-05-06T01:00:00+00:00"),
        cev("YE7", "expired", "Y3", "2023-05-06T14:59:00+00:00"),
    ]
    # 요기요 daily sales
    def yo(brn: str, day: str, orders: str, gross: str, coupon: str) -> dict[str, Any]:
        return {"biz_reg_no": brn, "order_date": day, "orders": orders, "gross_sales_krw": gross,
                "coupon_discount_krw": coupon, "delivery_fee_krw": "3,000"}
    f[("yogiyo/orders", "orders_daily_20230410.csv")] = [yo(M[7], "2023-04-10", "10", "100,000", "0")]
    f[("yogiyo/orders", "orders_daily_20230505.csv")] = [
        yo(M[7], "2023-05-05", "20", "250,000", "3,000"),
        yo(M[8], "2023-05-05", "1", "10,000", "0"),
    ]
    # 지그재그
    def zs(store: str, brn: str, item: str, amount: int, sido: str) -> dict[str, Any]:
        return {"스토어ID": store, "사업자번호": brn, "스토어명": f"스토어 {store}", "지원항목": item,
                "지원금액": amount, "지원일": dt.date(2023, 5, 3), "시도": sido}
    f[("zigzag/support", "zigzag_partner_support_20230503.xlsx")] = [
        zs("ZZ-001", dashed(M[9]), "광고포인트", 100000, "인천광역시"),
        zs("ZZ-001", dashed(M[9]), "쿠폰지원", 50000, "인천광역시"),
        zs("ZZ-002", M[10], "AI분석리포트", 0, "Incheon"),
    ]
    def zsale(store: str, brn: str, day: dt.date, orders: int, gmv: int, coupon: int) -> dict[str, Any]:
        return {"store_id": store, "biz_reg_no": brn, "sales_date": day, "orders": orders, "gmv_krw": gmv,
                "coupon_discount_krw": coupon}
    f[("zigzag/sales", "zigzag_sales_20230410.parquet")] = [
        zsale("ZZ-001", M[9], dt.date(2023, 4, 10), 5, 50000, 0)]
    f[("zigzag/sales", "zigzag_sales_20230505.parquet")] = [
        zsale("ZZ-001", M[9], dt.date(2023, 5, 5), 10, 200000, 5000),
        zsale("ZZ-002", M[10], dt.date(2023, 5, 5), 2, 30000, 0),
    ]
    def zc(code: str, store: str, issued: str, used: str | None = None, expired: str | None = None,
           amount: str | None = None) -> dict[str, Any]:
        return {"coupon_code": code, "campaign_code": "ZCAMP", "store_id": store, "issued_at": issued,
                "used_at": used, "expired_at": expired, "discount_krw": "2,000", "order_amount_krw": amount}
    f[("zigzag/coupons", "zigzag_coupons_20230505.csv")] = [
        zc("ZC1", "ZZ-001", "2023-05-05T09:00:00+09:00"),
        zc("ZC2", "ZZ-002", "2023-05-05T10:00:00+09:00"),
    ]
    f[("zigzag/coupons", "zigzag_coupons_20230506.csv")] = [
        zc("ZC1", "ZZ-001", "2023-05-05T09:00:00+09:00", used="2023-05-06T09:00:00+09:00", amount="40,000"),
        zc("ZC2", "ZZ-002", "2023-05-05T10:00:00+09:00", expired="2023-05-06T23:59:59+09:00"),
    ]
    return f


def write_small_delivery(dirs: DataDirs) -> None:
    """Publish the whole small delivery (every feed's schema file too)."""
    ensure_schemas(dirs)
    for (feed, name), rows in small_delivery_files().items():
        write_published(dirs, feed, name, rows)


# -- Reading the work warehouse back ---------------------------------------------------------------

def warehouse_rows(path: Path, relation: str, *, order_by: str = "all", exclude: Iterable[str] = ()
                   ) -> list[tuple[Any, ...]]:
    """Every row of `relation` (e.g. `marts.dim_merchant`), sorted, from a read-only connection; the
    columns in `exclude` left out."""
    import duckdb

    left_out = ", ".join(f'"{c}"' for c in exclude)
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(f"set TimeZone = '{ZONE}'")
        return con.execute(f"select * {f'exclude ({left_out})' if left_out else ''} from {relation} "
                           f"order by {order_by}").fetchall()
    finally:
        con.close()


def warehouse_snapshot(path: Path, schemas: Iterable[str] = ("staging", "intermediate", "marts"),
                       digits: int = 9) -> dict[str, list[tuple[Any, ...]]]:
    """Contents of every table in `schemas`, rows sorted, floats rounded (summation order aside).

    `_staged_at` (when a build wrote the row) is left out: two builds of the same data differ in it."""
    import duckdb

    def norm(v: Any) -> Any:
        return round(v, digits) if isinstance(v, float) else v

    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(f"set TimeZone = '{ZONE}'")
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_schema in ({', '.join(repr(s) for s in schemas)}) order by 1").fetchall()
        out = {}
        for (name,) in names:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema || '.' || table_name = ? "
                "and column_name != '_staged_at' order by ordinal_position", [name]).fetchall()]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f"select {listed} from {name}").fetchall()
            out[name] = sorted((tuple(norm(v) for v in r) for r in rows), key=repr)
        return out
    finally:
        con.close()
