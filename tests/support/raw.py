"""Hand-built raw batches for the gate's tests: clean rows per feed, and a writer that puts a batch into
the raw zone (schema `panro.lake.batches.raw_schema`, lineage filled) and the ledger as `extracted`.

    rows = clean_rows("kt/kdeal_orders", 200, D)
    rows[3]["사업자등록번호"] = "123-45-67890"
    batch = write_batch(dirs, ledger, "kt/kdeal_orders", rows, day=D)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import replace
from typing import Any

import pyarrow as pa

from panro.domain import brn, regions
from panro.domain.contracts import contract_for
from panro.domain.kst import KST
from panro.domain.personal import PiiKey, pseudonym
from panro.lake.batches import ARROW_TYPES, LINEAGE, raw_path, raw_schema, segment_path, write_parquet_atomic
from panro.lake.ledger import Batch, Ledger, batch_id, now_utc

SIDO = ["서울", "서울특별시", "부산광역시", "경기도", "강원도", "강원특별자치도", "제주", "Seoul", "전북특별자치도",
        "세종시"]

# raw batches hold personal data as extraction leaves it: keyed pseudonyms (panro.domain.personal)
TEST_PII_KEY = PiiKey(b"a key for the tests only")


def valid_brn(i: int, *, dashed: bool = False) -> str:
    nine = f"{(101_000_000 + i * 7_919) % 1_000_000_000:09d}"
    digits = nine + str(brn.check_digit(nine))
    return brn.dashed(digits) if dashed else digits


def invalid_brn(i: int, *, dashed: bool = False) -> str:
    good = valid_brn(i)
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    return brn.dashed(bad) if dashed else bad


def _hms(i: int) -> str:
    s = (i * 37 + 3600) % 86_000
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def clean_rows(feed: str, n: int, day: dt.date, *, start: int = 0) -> list[dict[str, Any]]:
    """`n` rows a partner could really send for business date `day`; every rule of the suite holds."""
    d_iso, d_compact = day.isoformat(), day.strftime("%Y%m%d")
    rows: list[dict[str, Any]] = []
    for k in range(start, start + n):
        if feed == "kakao/talkchannel":
            kind = ("channel_opened", "tutor_visit", "message_campaign")[k % 3]
            in_market = k % 4 == 0
            rows.append({"event_id": f"EV-{d_compact}-{k:05d}", "event_type": kind,
                         "occurred_at": f"{d_iso}T{_hms(k)}+09:00", "biz_reg_no": valid_brn(k),
                         "store_name": f"가게{k}", "market_id": "MKT-0042" if in_market else None,
                         "market_name": "망원시장" if in_market else None, "sido": SIDO[k % len(SIDO)],
                         "sigungu": "마포구", "channel_friends": k % 500, "tutor_id": "T-07" if kind == "tutor_visit"
                         else None})
        elif feed == "baemin/edu_enrollments":
            done = k % 3 == 0
            rows.append({"enrollment_id": f"E{d_compact}{k:05d}", "learner_id": f"L{k:06d}",
                         "biz_reg_no": (valid_brn(k, dashed=k % 2 == 0) if k % 5 else None),
                         "course_id": f"BM-EDU-{k % 29 + 1:02d}", "course_title": f"강의 {k % 29 + 1}",
                         "course_category": ("마케팅", "창업", "경영", "노무")[k % 4],
                         "enrolled_at": f"{(day - dt.timedelta(days=k % 20 + 1)).isoformat()} 09:00:00",
                         "completed_at": f"{d_iso} {_hms(k)}" if done else None,
                         "satisfaction": f"{4 + (k % 10) / 10:.1f}" if done else None})
        elif feed == "baemin/delivery_stats":
            cats = ["한식", "중식", "일식", "치킨", "피자", "분식", "카페·디저트", "야식", "기타"]
            prefixes = ["11", "26", "41", "51", "42", "52", "50"]   # 42: 강원's legacy code, still valid
            cell = k // len(cats)
            rows.append({"stat_date": d_compact,
                         "sigungu_code": f"{prefixes[cell % len(prefixes)]}{110 + cell // len(prefixes):03d}",
                         "category": cats[k % len(cats)], "orders": str(100 + k), "sales_krw": f"{(100 + k) * 15_000}",
                         "active_stores": str(10 + k % 7)})
        elif feed == "kt/kdeal_stores":
            owner, phone = f"홍길동{k}", f"010-{1000 + k % 9000:04d}-{5678:04d}"
            rows.append({"사업자등록번호": valid_brn(k, dashed=True), "상호명": f"상점{k}",
                         "대표자명": pseudonym(TEST_PII_KEY, owner),
                         "연락처": pseudonym(TEST_PII_KEY, phone, phone=True), "시도": SIDO[k % len(SIDO)],
                         "시군구": "강남구", "업종": "음식점",
                         "입점일": (day - dt.timedelta(days=k % 300)).strftime("%Y.%m.%d"),
                         "수수료면제": "YN"[k % 2], "상세페이지지원": "NY"[k % 2], "메시지발송건수": str(k % 40),
                         "스마트상점": "N" if k % 7 else "Y"})
        elif feed == "kt/kdeal_orders":
            cancel = k % 10 == 9
            when = day - dt.timedelta(days=30 if cancel else 0)
            rows.append({"주문번호": f"KD{d_compact}{k:06d}", "사업자등록번호": valid_brn(k, dashed=True),
                         "주문일시": f"{when.isoformat()} {_hms(k)}", "주문금액": f"{(k % 50 + 1) * 1000:,}",
                         "할인금액": "1,000" if k % 4 == 0 else "0", "쿠폰번호": "CP-001" if k % 4 == 0 else None,
                         "주문상태": "취소" if cancel else "결제완료"})
        elif feed == "skplanet/okcashback_promo":
            rows.append({"campaign_id": f"C{k % 7}", "biz_reg_no": valid_brn(k), "promo_date": d_compact,
                         "impressions": str(1000 + k), "clicks": str(10 + k % 50), "store_visits": str(k % 9),
                         "cashback_points": str(500 * (k % 4)), "festival_code": "DH2023-05" if k % 3 == 0 else None})
        elif feed == "yogiyo/support":
            package = k % 3 != 2
            extras = [] if k % 2 else [{"type": "menu_photo", "amount_krw": 50_000, "applied_at": d_iso}]
            rows.append({"delivery_date": d_iso, "merchant_brn": valid_brn(k), "merchant_name": f"요기가게{k}",
                         "merchant_sido": SIDO[k % len(SIDO)], "merchant_sigungu": "수원시",
                         "merchant_category": "치킨", "enrolled_at": d_iso, "package": "1+1" if package else None,
                         "gov_support_krw": 300_000 if package else None,
                         "private_support_krw": 300_000 if package else None,
                         "extras": json.dumps(extras, ensure_ascii=False)})
        elif feed == "yogiyo/coupons":
            kind = ("issued", "redeemed", "expired", "cancelled")[k % 4]
            at = dt.datetime.combine(day, dt.time(0, 0), KST) + dt.timedelta(seconds=(k * 97) % 86_399)
            rows.append({"event_id": f"YC{d_compact}{k:06d}", "event_type": kind, "coupon_id": f"CPN{k:06d}",
                         "campaign_id": "CMP-1", "campaign_name": "봄 쿠폰", "face_value_krw": 3000,
                         "biz_reg_no": valid_brn(k), "order_id": f"O{k}" if kind == "redeemed" else None,
                         "order_amount_krw": 21_000 if kind == "redeemed" else None,
                         "event_ts": int(at.timestamp() * 1000)})
        elif feed == "yogiyo/orders":
            rows.append({"biz_reg_no": valid_brn(k), "order_date": d_iso, "orders": str(1 + k % 30),
                         "gross_sales_krw": str((1 + k % 30) * 18_000), "coupon_discount_krw": "3000",
                         "delivery_fee_krw": "2,500"})
        elif feed == "zigzag/support":
            rows.append({"스토어ID": f"ZS{k:05d}", "사업자번호": valid_brn(k, dashed=k % 2 == 0),
                         "스토어명": f"지그{k}",
                         "지원항목": ("광고포인트", "수수료할인", "AI분석리포트", "기획전", "쿠폰지원")[k % 5],
                         "지원금액": 100_000, "지원일": day - dt.timedelta(days=k % 5), "시도": SIDO[k % len(SIDO)]})
        elif feed == "zigzag/sales":
            rows.append({"store_id": f"ZS{k:05d}", "biz_reg_no": valid_brn(k), "sales_date": day,
                         "orders": 1 + k % 20, "gmv_krw": (1 + k % 20) * 30_000, "coupon_discount_krw": 2_000})
        elif feed == "zigzag/coupons":
            issued = dt.datetime.combine(day - dt.timedelta(days=k % 10), dt.time(10, 0), KST)
            used = k % 3 == 0 and k % 10
            expired = k % 3 == 1 and k % 10
            at = dt.datetime.combine(day, dt.time(12, 30), KST).isoformat()
            rows.append({"coupon_code": f"ZC{d_compact}{k:06d}", "campaign_code": "ZCMP-3", "store_id": f"ZS{k:05d}",
                         "issued_at": issued.isoformat(), "used_at": at if used else None,
                         "expired_at": at if expired else None, "discount_krw": "3,000",
                         "order_amount_krw": "42,000" if used else None})
        else:
            raise KeyError(f"no clean rows for {feed}")
    return rows


def _raw_batch(dirs: Any, feed: str, rows: list[dict[str, Any]], *, day: dt.date, file_name: str | None,
               rename: dict[str, str] | None, drop: list[str] | None, seen_at: dt.datetime | None,
               raw_types: dict[str, pa.DataType] | None, extra_columns: dict[str, str] | None
               ) -> tuple[Batch, pa.Table]:
    """The ledger entry (no raw path yet) and raw table of one delivered file (see write_batch)."""
    contract = contract_for(feed)
    file_name = file_name or contract.file_name(day)
    content = json.dumps([rows, rename, drop, extra_columns, file_name], sort_keys=True, default=str,
                         ensure_ascii=False)
    checksum = hashlib.sha256(content.encode("utf-8")).hexdigest()
    bid = batch_id(contract.partner, contract.feed, file_name, checksum)
    loaded = now_utc()
    fields = [pa.field(c.name, (raw_types or {}).get(c.name, ARROW_TYPES[c.type])) for c in contract.columns]
    arrays = [pa.array([r.get(f.name) for r in rows], type=f.type) for f in fields]
    n = len(rows)
    lineage = {
        "_batch_id": pa.array([bid] * n, pa.string()), "_partner": pa.array([contract.partner] * n, pa.string()),
        "_feed": pa.array([contract.feed] * n, pa.string()), "_business_date": pa.array([day] * n, pa.date32()),
        "_source_file": pa.array([file_name] * n, pa.string()), "_file_checksum": pa.array([checksum] * n, pa.string()),
        "_row_number": pa.array(range(1, n + 1), pa.int64()),
        "_loaded_at": pa.array([loaded] * n, pa.timestamp("us", tz="UTC")),
    }
    table = pa.Table.from_arrays(arrays + [lineage[f.name] for f in LINEAGE],
                                 schema=pa.schema(fields + list(LINEAGE)))
    if raw_types is None and not rename and not drop and not extra_columns:
        assert table.schema == raw_schema(contract)
    for name, value in (extra_columns or {}).items():
        table = table.add_column(len(contract.columns), name, pa.array([value] * n, pa.string()))
    if drop:
        table = table.drop_columns(drop)
    if rename:
        table = table.rename_columns([rename.get(c, c) for c in table.column_names])
    batch = Batch(batch_id=bid, partner=contract.partner, feed=contract.feed, file_name=file_name,
                  source_uri=f"{dirs.landing_url}/{contract.partner}/{contract.feed}/{file_name}", checksum=checksum,
                  size_bytes=len(content), source_mtime=None, business_date=day, seen_at=seen_at or now_utc(),
                  status="extracted", reason=None, rows_delivered=n, rows_published=None, rows_rejected=None,
                  raw_path=None, decided_at=None, decided_by=None)
    return batch, table


def write_batch(dirs: Any, ledger: Ledger, feed: str, rows: list[dict[str, Any]], *, day: dt.date,
                file_name: str | None = None, rename: dict[str, str] | None = None, drop: list[str] | None = None,
                seen_at: dt.datetime | None = None, raw_types: dict[str, pa.DataType] | None = None,
                extra_columns: dict[str, str] | None = None) -> Batch:
    """Write `rows` as the raw batch of one delivered file and record it `extracted` in the ledger.

    `rename` / `drop` / `extra_columns` (name → constant) make a drifted schema, as if the partner renamed,
    dropped or added a column; `raw_types` gives a column another Arrow type;
    the checksum is a hash of the content, so different rows under the same name are a new version.
    """
    batch, table = _raw_batch(dirs, feed, rows, day=day, file_name=file_name, rename=rename, drop=drop,
                              seen_at=seen_at, raw_types=raw_types, extra_columns=extra_columns)
    path = raw_path(dirs, contract_for(feed), batch.file_name, batch.checksum)
    write_parquet_atomic(table, path)
    batch = replace(batch, raw_path=str(path))
    ledger.add(batch)
    return batch


def write_batches_together(dirs: Any, ledger: Ledger, feed: str, rows_by_day: dict[dt.date, list[dict[str, Any]]]
                           ) -> list[Batch]:
    """Write the files of several days of `feed` into one raw file, as the extractor writes a segment,
    and record each `extracted` in the ledger."""
    made = [_raw_batch(dirs, feed, rows, day=day, file_name=None, rename=None, drop=None, seen_at=None,
                       raw_types=None, extra_columns=None) for day, rows in rows_by_day.items()]
    path = segment_path(dirs, contract_for(feed), [(b.file_name, b.checksum) for b, _ in made])
    write_parquet_atomic(pa.concat_tables([table for _, table in made]), path)
    batches = [replace(b, raw_path=str(path)) for b, _ in made]
    ledger.add_many(batches)
    return batches


def sido_ok(name: str) -> bool:
    return regions.sido_code(name) is not None
