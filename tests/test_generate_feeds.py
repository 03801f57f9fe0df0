"""`panro generate` writes the twelve partner feeds exactly as feeds.md describes them, quirks included.

Real files, read back the way a partner's customer would read them (csv, json, openpyxl, pyarrow).
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panro.domain.brn import is_valid
from panro.domain.contracts import contract_for, load_contracts
from panro.domain.regions import variants
from panro.generate import GenerateSummary, generate

CHECK_FEEDS = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_feeds.py"
SCALE = 0.1
WINDOW = (dt.date(2023, 5, 25), dt.date(2023, 6, 20))
KANGWON_NEW = dt.date(2023, 6, 11)
FESTIVALS = {"DH2023-05": (dt.date(2023, 5, 1), dt.date(2023, 5, 28)),
             "DH2023-09": (dt.date(2023, 8, 30), dt.date(2023, 9, 27)),
             "DH2023-12": (dt.date(2023, 12, 4), dt.date(2023, 12, 31))}


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    """All of 2023 at a tenth of the default scale."""
    return generate(tmp_path_factory.mktemp("year") / "landing", scale=SCALE)


@pytest.fixture(scope="module")
def root(year: GenerateSummary) -> Path:
    return year.out


def files(root: Path, feed: str) -> dict[dt.date, Path]:
    """The feed's files by business date (from the contract's file pattern)."""
    contract = contract_for(feed)
    out = {}
    for p in sorted((root / feed).iterdir()):
        day = contract.business_date(p.name)
        assert day is not None, f"{feed}: unexpected file {p.name}"
        out[day] = p
    return out


def csv_rows(path: Path, encoding: str, delimiter: str = ",") -> tuple[list[str], list[dict[str, str]]]:
    import csv

    text = path.read_bytes().decode(encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    return header, [dict(zip(header, r, strict=True)) for r in reader]


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def all_csv(root: Path, feed: str) -> list[tuple[dt.date, dict[str, str]]]:
    c = contract_for(feed)
    enc = {"utf-8-sig": "utf-8-sig", "cp949": "cp949"}.get(c.encoding, "utf-8")
    out = []
    for day, p in files(root, feed).items():
        header, rows = csv_rows(p, enc, c.delimiter)
        assert header == c.column_names
        out += [(day, r) for r in rows]
    return out


def sheet(path: Path) -> tuple[list[str], list[dict]]:
    ws = openpyxl.load_workbook(path)["지원내역"]
    values = list(ws.iter_rows(values_only=True))
    return list(values[0]), [dict(zip(values[0], r, strict=True)) for r in values[1:]]


# -- files, names, dates --------------------------------------------------------------------------------


def test_every_feed_is_written_under_partner_feed_with_contract_file_names(root: Path, year: GenerateSummary):
    daily = {"kakao/talkchannel", "baemin/edu_enrollments", "baemin/delivery_stats", "yogiyo/coupons",
             "yogiyo/orders", "zigzag/sales", "zigzag/coupons"}
    for contract in load_contracts():
        got = files(root, contract.name)
        assert got, contract.name
        assert all(d.year == 2023 for d in got)
        for day, p in got.items():
            assert p.name == contract.file_name(day)
        if contract.name in daily:
            assert len(got) == 365, contract.name
        summary = year.feeds[contract.name]
        assert summary.files == len(got)
        assert summary.bytes == sum(p.stat().st_size for p in got.values())
    assert year.rows == sum(f.rows for f in year.feeds.values())


def test_sparse_feeds_send_no_file_on_some_days_and_empty_files_on_others(root: Path):
    yogiyo = files(root, "yogiyo/support")
    assert all(d.weekday() < 5 for d in yogiyo)                       # nothing at weekends
    empty = [d for d, p in yogiyo.items() if not json.loads(p.read_text("utf-8"))["records"]]
    assert empty                                                       # a document without records
    assert len(files(root, "zigzag/support")) < 250
    assert len(files(root, "skplanet/okcashback_promo")) < 365
    # 배민's extract does not run on public holidays: a header-only file, the changes come the next day
    header, rows = csv_rows(files(root, "baemin/edu_enrollments")[dt.date(2023, 5, 5)], "utf-8-sig")
    assert header and not rows


# -- kakao ----------------------------------------------------------------------------------------------


def test_kakao_talkchannel_json_lines(root: Path):
    keys = ["event_id", "event_type", "occurred_at", "biz_reg_no", "store_name", "market_id", "market_name",
            "sido", "sigungu", "channel_friends", "tutor_id"]
    first_seen: dict[str, tuple[dt.date, dict]] = {}
    redelivered = 0
    for day, p in files(root, "kakao/talkchannel").items():
        for e in jsonl(p):
            assert list(e) == keys
            assert e["event_type"] in {"channel_opened", "tutor_visit", "message_campaign"}
            assert re.fullmatch(r"\d{10}", e["biz_reg_no"]) and is_valid(e["biz_reg_no"])    # bare
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", e["occurred_at"])
            assert (e["market_id"] is None) == (e["market_name"] is None)
            assert (e["tutor_id"] is not None) == (e["event_type"] == "tutor_visit")
            assert e["channel_friends"] is None or isinstance(e["channel_friends"], int)
            occurred = dt.datetime.fromisoformat(e["occurred_at"]).date()
            if e["event_id"] in first_seen:                   # a redelivered event: same id, same content
                redelivered += 1
                assert first_seen[e["event_id"]][1] == e
                assert day == first_seen[e["event_id"]][0] + dt.timedelta(days=1)
            else:
                assert occurred == day
                first_seen[e["event_id"]] = (day, e)
    assert redelivered > 0
    markets = {e["market_id"] for _, e in first_seen.values() if e["market_id"]}
    assert all(re.fullmatch(r"MKT-\d{4}", m) for m in markets)


# -- baemin ---------------------------------------------------------------------------------------------


def test_baemin_enrollments_bom_csv_with_resent_rows(root: Path):
    for p in files(root, "baemin/edu_enrollments").values():
        assert p.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = all_csv(root, "baemin/edu_enrollments")
    by_id = collections.defaultdict(list)
    for day, r in rows:
        by_id[r["enrollment_id"]].append((day, r))
        assert r["course_category"] in {"마케팅", "창업", "경영", "노무"}
        assert re.fullmatch(r"BM-EDU-\d\d", r["course_id"])
        assert r["biz_reg_no"] == "" or is_valid(r["biz_reg_no"])
        if r["satisfaction"]:
            assert r["completed_at"] and 1.0 <= float(r["satisfaction"]) <= 5.0
            assert re.fullmatch(r"\d\.\d", r["satisfaction"])
    brns = {r["biz_reg_no"] for _, r in rows}
    assert any("-" in b for b in brns) and any(re.fullmatch(r"\d{10}", b) for b in brns) and "" in brns
    assert any("," in r["course_title"] for _, r in rows)         # quoted titles survive
    resent = [v for v in by_id.values() if len(v) > 1]
    assert len(resent) > 0.4 * len(by_id)
    for versions in resent:
        days = [d for d, _ in versions]
        assert days == sorted(days) and len(set(days)) == len(days)   # once per file, in date order
        assert not versions[0][1]["completed_at"] or len(versions) > 1
        assert versions[-1][1]["completed_at"]                        # re-sent on completion / rating
        assert len({r["enrolled_at"] for _, r in versions}) == 1


def test_baemin_delivery_stats_codes_follow_the_regional_reform(root: Path):
    seen: dict[bool, set[str]] = {True: set(), False: set()}
    for day, p in files(root, "baemin/delivery_stats").items():
        rows = csv_rows(p, "utf-8")[1]
        assert len(rows) == 60 * 9
        assert {r["stat_date"] for r in rows} == {day.strftime("%Y%m%d")}
        assert len({(r["sigungu_code"], r["category"]) for r in rows}) == len(rows)
        assert all(re.fullmatch(r"\d{5}", r["sigungu_code"]) for r in rows)
        seen[day >= KANGWON_NEW] |= {r["sigungu_code"][:2] for r in rows}
    assert "42" in seen[False] and "51" not in seen[False]          # 강원: 42xxx until 2023-06-10
    assert "51" in seen[True] and "42" not in seen[True]
    assert "45" in seen[True] and "52" not in seen[True] | seen[False]   # 전북 changes only in 2024


# -- kt -------------------------------------------------------------------------------------------------


def test_kdeal_stores_cp949_full_daily_snapshots(root: Path):
    snaps = files(root, "kt/kdeal_stores")
    previous: dict[str, dict[str, str]] = {}
    smart_seen = set()
    for day, p in snaps.items():
        raw = p.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert b"\r\n" in raw
        header, rows = csv_rows(p, "cp949")
        assert header == contract_for("kt/kdeal_stores").column_names
        now = {r["사업자등록번호"]: r for r in rows}
        assert len(now) == len(rows)
        for brn, r in now.items():
            assert re.fullmatch(r"\d{3}-\d\d-\d{5}", brn) and is_valid(brn)
            assert dt.datetime.strptime(r["입점일"], "%Y.%m.%d").date() <= day
            assert re.fullmatch(r"[가-힣]{2,4}", r["대표자명"]) and re.fullmatch(r"010-\d{4}-\d{4}", r["연락처"])
            if brn in previous:                                 # flags and message counts never go back
                old = previous[brn]
                assert int(r["메시지발송건수"]) >= int(old["메시지발송건수"])
                for flag in ("수수료면제", "상세페이지지원", "스마트상점"):
                    assert not (old[flag] == "Y" and r[flag] == "N")
            if r["스마트상점"] == "Y":
                smart_seen.add(brn)
        # a full snapshot: yesterday's stores are still listed, except the few that left K-deal
        left = set(previous) - set(now)
        assert len(left) <= max(2, len(previous) // 50)
        previous = now
    assert len(previous) > 100 and len(smart_seen) == 20


def test_kdeal_orders_cp949_with_separators_and_cancellations(root: Path):
    for p in files(root, "kt/kdeal_orders").values():
        with pytest.raises(UnicodeDecodeError):
            p.read_bytes().decode("utf-8")
    rows = all_csv(root, "kt/kdeal_orders")
    paid = {}
    cancels = []
    for day, r in rows:
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", r["주문금액"]) and re.fullmatch(r"\d{1,3}(,\d{3})*", r["할인금액"])
        assert re.fullmatch(r"\d{3}-\d\d-\d{5}", r["사업자등록번호"]) and is_valid(r["사업자등록번호"])
        if r["주문상태"] == "결제완료":
            assert r["주문일시"][:10] == day.isoformat()
            paid[r["주문번호"]] = r
        else:
            assert r["주문상태"] == "취소"
            cancels.append((day, r))
    assert any("," in r["주문금액"] for r in paid.values())
    assert any(r["쿠폰번호"] for r in paid.values())
    assert 0.01 * len(paid) < len(cancels) < 0.06 * len(paid)
    for day, r in cancels:                    # a cancellation repeats its order, in the cancellation day's file
        assert paid[r["주문번호"]] | {"주문상태": "취소"} == r
        assert day >= dt.date.fromisoformat(r["주문일시"][:10])
    assert any(day > dt.date.fromisoformat(r["주문일시"][:10]) for day, r in cancels)


# -- skplanet -------------------------------------------------------------------------------------------


def test_okcashback_pipe_file(root: Path):
    rows = all_csv(root, "skplanet/okcashback_promo")
    for day, r in rows:
        assert r["promo_date"] == day.strftime("%Y%m%d")
        assert re.fullmatch(r"\d{10}", r["biz_reg_no"]) and is_valid(r["biz_reg_no"])
        assert int(r["clicks"]) <= int(r["impressions"]) and int(r["store_visits"]) <= int(r["clicks"])
        int(r["cashback_points"])
        if r["festival_code"]:
            a, b = FESTIVALS[r["festival_code"]]
            assert a <= day <= b
    assert {r["festival_code"] for _, r in rows} == {"", *FESTIVALS}
    assert len({(d, r["campaign_id"], r["biz_reg_no"]) for d, r in rows}) == len(rows)


# -- yogiyo ---------------------------------------------------------------------------------------------


def test_yogiyo_support_json_documents(root: Path):
    packages = extras = 0
    for day, p in files(root, "yogiyo/support").items():
        doc = json.loads(p.read_text(encoding="utf-8"))
        assert list(doc) == ["delivery_date", "records"] and doc["delivery_date"] == day.isoformat()
        for r in doc["records"]:
            assert list(r) == ["merchant", "enrolled_at", "package", "gov_support_krw", "private_support_krw",
                               "extras"]
            assert list(r["merchant"]) == ["brn", "name", "sido", "sigungu", "category"]
            assert is_valid(r["merchant"]["brn"]) and r["merchant"]["sido"] in variants()
            if r["package"] == "1+1":
                packages += 1
                assert r["gov_support_krw"] == r["private_support_krw"] > 0 and r["extras"] == []
            else:
                extras += 1
                assert r["package"] is None and r["gov_support_krw"] is None and r["extras"]
            for e in r["extras"]:
                assert e["type"] in {"menu_photo", "ad_discount", "coupon_pack"} and e["amount_krw"] > 0
                assert e["applied_at"] >= r["enrolled_at"]
    assert packages == 220 and extras == 150


def test_yogiyo_coupon_events_epoch_ms_on_their_kst_day(root: Path):
    kst = dt.timezone(dt.timedelta(hours=9))
    state: dict[str, str] = {}
    utc_other_day = 0
    for day, p in files(root, "yogiyo/coupons").items():
        ts = []
        for e in jsonl(p):
            assert list(e) == ["event_id", "event_type", "coupon_id", "campaign_id", "campaign_name",
                               "face_value_krw", "biz_reg_no", "order_id", "order_amount_krw", "event_ts"]
            assert isinstance(e["event_ts"], int) and e["event_ts"] > 1_600_000_000_000
            at = dt.datetime.fromtimestamp(e["event_ts"] / 1000, tz=dt.UTC)
            assert at.astimezone(kst).date() == day
            utc_other_day += at.date() != day
            assert (e["order_id"] is not None) == (e["event_type"] == "redeemed")
            assert is_valid(e["biz_reg_no"])
            before = state.get(e["coupon_id"])
            assert (before is None) == (e["event_type"] == "issued")
            if e["event_type"] == "cancelled":
                assert before == "redeemed"
            state[e["coupon_id"]] = e["event_type"]
            ts.append(e["event_ts"])
        assert ts == sorted(ts)
    assert utc_other_day > 0
    assert set(state.values()) == {"issued", "redeemed", "expired", "cancelled"}


def test_yogiyo_orders_one_row_per_merchant_day(root: Path):
    for day, p in files(root, "yogiyo/orders").items():
        rows = csv_rows(p, "utf-8")[1]
        assert {r["order_date"] for r in rows} == {day.isoformat()}
        assert len({r["biz_reg_no"] for r in rows}) == len(rows)
        assert all(is_valid(r["biz_reg_no"]) and int(r["orders"]) > 0 for r in rows)
        assert all(int(r["coupon_discount_krw"]) <= int(r["gross_sales_krw"]) for r in rows)


# -- zigzag ---------------------------------------------------------------------------------------------


def test_zigzag_support_excel_with_real_dates(root: Path):
    all_rows = []
    for day, p in files(root, "zigzag/support").items():
        assert day.weekday() < 5
        header, rows = sheet(p)
        assert header == contract_for("zigzag/support").column_names
        cell = openpyxl.load_workbook(p)["지원내역"]["F2"]
        assert cell.is_date and isinstance(cell.value, dt.datetime)
        for r in rows:
            assert isinstance(r["지원일"], dt.datetime) and r["지원일"].date() <= day
            assert isinstance(r["지원금액"], int) and r["지원금액"] > 0
            assert isinstance(r["스토어ID"], str) and isinstance(r["사업자번호"], str) and is_valid(r["사업자번호"])
            assert r["시도"] in variants()
        all_rows += rows
    brns = [r["사업자번호"] for r in all_rows]
    assert any("-" in b for b in brns) and any("-" not in b for b in brns)
    assert {r["지원항목"] for r in all_rows} == {"광고포인트", "수수료할인", "AI분석리포트", "기획전", "쿠폰지원"}


def test_zigzag_sales_parquet_schema(root: Path):
    want = pa.schema([("store_id", pa.string()), ("biz_reg_no", pa.string()), ("sales_date", pa.date32()),
                      ("orders", pa.int32()), ("gmv_krw", pa.int64()), ("coupon_discount_krw", pa.int64())])
    for day, p in files(root, "zigzag/sales").items():
        table = pq.read_table(p)
        assert table.schema.remove_metadata() == want
        assert set(table.column("sales_date").to_pylist()) <= {day}
        assert all(is_valid(b) and "-" not in b for b in table.column("biz_reg_no").to_pylist())


def test_zigzag_coupons_change_records(root: Path):
    history = collections.defaultdict(list)
    for day, p in files(root, "zigzag/coupons").items():
        rows = csv_rows(p, "utf-8")[1]
        assert len({r["coupon_code"] for r in rows}) == len(rows)
        for r in rows:
            assert r["issued_at"].endswith("+09:00")
            history[r["coupon_code"]].append((day, r))
    stores = {r["스토어ID"] for p in files(root, "zigzag/support").values() for r in sheet(p)[1]}
    ends = collections.Counter()
    for versions in history.values():
        first_day, first = versions[0]
        assert first["issued_at"][:10] == first_day.isoformat()
        assert not first["used_at"] and not first["expired_at"] and not first["order_amount_krw"]
        assert len(versions) <= 2
        if len(versions) == 2:
            day, last = versions[1]
            assert day > first_day and last["issued_at"] == first["issued_at"]
            end = "used" if last["used_at"] else "expired"
            assert bool(last["used_at"]) != bool(last["expired_at"])
            assert (last[f"{end}_at"][:10]) == day.isoformat()
            assert bool(last["order_amount_krw"]) == (end == "used")
            ends[end] += 1
    assert ends["used"] > 0 and ends["expired"] > 0
    assert {v[0][1]["store_id"] for v in history.values()} <= stores


# -- across feeds ---------------------------------------------------------------------------------------


def region_values(root: Path) -> list[tuple[dt.date, str]]:
    out = [(d, e["sido"]) for d, p in files(root, "kakao/talkchannel").items() for e in jsonl(p)]
    out += [(d, r["시도"]) for d, r in all_csv(root, "kt/kdeal_stores")]
    out += [(d, r["merchant"]["sido"]) for d, p in files(root, "yogiyo/support").items()
            for r in json.loads(p.read_text("utf-8"))["records"]]
    out += [(d, r["시도"]) for d, p in files(root, "zigzag/support").items() for r in sheet(p)[1]]
    return out


def test_region_names_are_known_variants_that_follow_the_date(root: Path):
    values = region_values(root)
    names = {v for _, v in values}
    assert names <= set(variants())
    assert {"서울", "서울특별시", "서울시", "Seoul"} <= names               # variants of one 시도
    gangwon_old = {d for d, v in values if v == "강원도"}
    gangwon_new = {d for d, v in values if v == "강원특별자치도"}
    assert gangwon_old and gangwon_new
    assert max(gangwon_old) < KANGWON_NEW <= min(gangwon_new)
    assert "전북특별자치도" not in names and {"전라북도", "전북"} & names


def test_sales_follow_the_week_and_rise_in_festivals(root: Path):
    daily = collections.Counter()
    for day, r in all_csv(root, "yogiyo/orders"):
        daily[day] += int(r["gross_sales_krw"])
    for p in files(root, "zigzag/sales").values():
        t = pq.read_table(p)
        for day, gmv in zip(t.column("sales_date").to_pylist(), t.column("gmv_krw").to_pylist(), strict=True):
            daily[day] += gmv
    may = [v for d, v in daily.items() if dt.date(2023, 5, 1) <= d <= dt.date(2023, 5, 28)]
    april = [v for d, v in daily.items() if dt.date(2023, 4, 3) <= d <= dt.date(2023, 4, 30)]
    assert 1.25 < (sum(may) / len(may)) / (sum(april) / len(april)) < 2.2
    by_weekday = collections.defaultdict(list)
    for day, r in all_csv(root, "yogiyo/orders"):
        by_weekday[day.weekday()].append(int(r["gross_sales_krw"]))
    mean = {k: sum(v) / len(v) for k, v in by_weekday.items()}
    assert mean[5] > 1.15 * mean[1]                                   # Saturday deliveries beat Tuesday's


# -- the generator's contract: ranges, seeds, scale -----------------------------------------------------


def window(tmp: Path, scale: float = SCALE, seed: int = 2023) -> GenerateSummary:
    return generate(tmp, start=WINDOW[0], end=WINDOW[1], scale=scale, seed=seed)


def test_only_the_dates_asked_for_are_written_and_they_match_the_whole_year(tmp_path: Path, root: Path):
    summary = window(tmp_path / "w")
    written = [p for p in (tmp_path / "w").rglob("*") if p.is_file()]
    assert written and summary.files == len(written)
    for p in written:
        rel = p.relative_to(tmp_path / "w")
        day = contract_for(f"{rel.parts[0]}/{rel.parts[1]}").business_date(p.name)
        assert WINDOW[0] <= day <= WINDOW[1]
        assert p.read_bytes() == (root / rel).read_bytes()          # a date's files do not depend on the range


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path):
    window(tmp_path / "a")
    window(tmp_path / "b")
    window(tmp_path / "c", seed=7)
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    c = {p.relative_to(tmp_path / "c"): p.read_bytes() for p in (tmp_path / "c").rglob("*") if p.is_file()}
    assert a == b
    assert any(c.get(k) != v for k, v in a.items())
    assert any(k.suffix in {".xlsx", ".parquet"} for k in a)          # binary formats carry no clock either


def test_scale_multiplies_merchants_and_volume(tmp_path: Path, year: GenerateSummary):
    small, large = generate(tmp_path, scale=SCALE / 2), year
    for feed in ("kakao/talkchannel", "kt/kdeal_orders", "skplanet/okcashback_promo", "yogiyo/orders",
                 "yogiyo/coupons", "zigzag/sales", "zigzag/coupons", "baemin/edu_enrollments"):
        ratio = large.feeds[feed].rows / small.feeds[feed].rows
        assert 1.5 < ratio < 2.6, (feed, ratio)
    orders = [sum(int(r["orders"]) for _, r in all_csv(s.out, "baemin/delivery_stats")) for s in (small, large)]
    assert 1.8 < orders[1] / orders[0] < 2.2


def test_a_range_across_new_year_builds_each_programme_year(tmp_path: Path):
    summary = generate(tmp_path, start=dt.date(2023, 12, 30), end=dt.date(2024, 1, 19), scale=0.03)
    assert set(summary.calibration) == {2023, 2024}
    stats = files(tmp_path, "baemin/delivery_stats")
    assert min(stats) == dt.date(2023, 12, 30) and max(stats) == dt.date(2024, 1, 19)
    prefixes = {d: {r["sigungu_code"][:2] for r in csv_rows(p, "utf-8")[1]} for d, p in stats.items()}
    assert "45" in prefixes[dt.date(2024, 1, 17)] and "52" not in prefixes[dt.date(2024, 1, 17)]
    assert "52" in prefixes[dt.date(2024, 1, 18)] and "45" not in prefixes[dt.date(2024, 1, 18)]


def test_writes_to_any_fsspec_url(tmp_path: Path):
    import fsspec

    day = dt.date(2023, 6, 15)
    summary = generate("memory://panro-generate-test/landing", start=day, end=day, scale=0.02)
    local = generate(tmp_path, start=day, end=day, scale=0.02)
    fs = fsspec.filesystem("memory")
    try:
        for name in summary.feeds:
            for p in (tmp_path / name).iterdir():
                assert fs.cat_file(f"/panro-generate-test/landing/{name}/{p.name}") == p.read_bytes()
        assert summary.files == local.files > 0
    finally:
        fs.rm("/panro-generate-test", recursive=True)


def test_bad_arguments_are_refused(tmp_path: Path):
    with pytest.raises(ValueError):
        generate(tmp_path, start=dt.date(2023, 2, 1), end=dt.date(2023, 1, 1))
    with pytest.raises(ValueError):
        generate(tmp_path, scale=0)


@pytest.mark.skipif(not CHECK_FEEDS.exists(), reason="the shared check_feeds.py yardstick is not here")
def test_the_shared_yardstick_finds_all_twelve_feeds_conform(root: Path):
    done = subprocess.run([sys.executable, str(CHECK_FEEDS), str(root)], capture_output=True, text=True,
                          check=False)
    assert "feeds: 12/12 conform" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0
