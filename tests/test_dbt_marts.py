"""dbt on a small hand-built delivery: every mart returns exactly the rows worked out here by hand.

The delivery (tests/support/published.py, `small_delivery_files`) has a few merchants per partner,
with values exactly as partners send them: dashed and bare BRNs, an invalid BRN, `12,000`,
`2023.05.01`, epoch milliseconds, ISO times with +09:00, region name variants, a legacy 시군구
code, a re-sent 배민 enrollment, a redelivered kakao event, a K-deal snapshot gap, a cancelled
K-deal order, reversed and expired coupons. One real `dbt build` (models, data tests, unit tests)
into a real DuckDB file serves every test of this module.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from panro.settings import DataDirs
from panro.transform.build import DbtRun, docs_generate, run_dbt
from panro.transform.rebuild import refresh_docs
from tests.support.dbt_docs import assert_docs_carry_compiled_sql_and_catalog
from tests.support.published import M, warehouse_rows, write_published, write_small_delivery

D = dt.date.fromisoformat
MAY = "DH2023-05"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataDirs, DbtRun]:
    dirs = DataDirs.from_env(tmp_path_factory.mktemp("marts") / "data")
    write_small_delivery(dirs)
    run = run_dbt(dirs, "build")
    assert run.success, run.summary()
    return dirs, run


# the codes' Korean names, which the marts carry as their last columns (test_marts_name_their_codes_in_korean)
NAMES = {"marts.dim_merchant": ["sido_name_ko"],
         "marts.mart_support_reach": ["platform_name_ko", "support_type_ko", "sido_name_ko"],
         "marts.mart_coupon_redemption": ["platform_name_ko", "festival_name_ko"],
         "marts.mart_festival_sales": ["festival_name_ko", "platform_name_ko", "sido_name_ko"],
         "marts.mart_support_outcomes": ["platform_name_ko", "support_type_ko"],
         "marts.mart_program_kpis": ["kpi_name_ko", "platform_name_ko"],
         "marts.mart_daily_sales": ["platform_name_ko"]}


def rows(dirs: DataDirs, relation: str) -> list[tuple]:
    """The rows of a mart, in the contract's columns (marts.md) without the Korean names."""
    return warehouse_rows(dirs.work_warehouse, relation, exclude=NAMES.get(relation, ()))


def approx_rows(got: list[tuple], want: list[tuple]) -> None:
    """Same rows (order-independent), floats compared approximately."""
    def key(r: tuple) -> str:
        return repr(tuple(round(v, 6) if isinstance(v, float) else v for v in r))
    got, want = sorted(got, key=key), sorted(want, key=key)
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w), (g, w)


# -- the expected support events, worked out from the delivery ------------------------------------

# (merchant, partner, support_type, support_item, supported_on, value_krw, market_id)
EVENTS = [
    # kakao: E1, E2 (delivered twice, counted once), E5; E3 has an invalid BRN. 23:30 KST stays 05-03.
    (M[1], "kakao", "marketing", "talkchannel_open", D("2023-05-03"), None, "MKT-0042"),
    (M[2], "kakao", "capability", "digital_tutor", D("2023-05-03"), None, "MKT-0007"),
    (M[1], "kakao", "marketing", "message_campaign", D("2023-05-04"), None, None),
    # baemin: EN1 (dashed BRN) and EN3; EN2 has no BRN
    (M[3], "baemin", "capability", "online_course", D("2023-05-02"), None, None),
    (M[1], "baemin", "capability", "online_course", D("2023-05-20"), None, None),
    # kt K1 (M4): first snapshot 05-01 already shows 수수료면제 Y and 3 messages → 입점일 04-15;
    # 상세페이지 from 05-02; 0503 missing, 0504 shows 스마트상점 and 5 messages; 0505 no change.
    (M[4], "kt", "promotion", "kdeal_onboarding", D("2023-04-15"), None, None),
    (M[4], "kt", "promotion", "fee_waiver", D("2023-04-15"), None, None),
    (M[4], "kt", "marketing", "message_send", D("2023-04-15"), None, None),
    (M[4], "kt", "marketing", "detail_page", D("2023-05-02"), None, None),
    (M[4], "kt", "capability", "smart_store", D("2023-05-04"), None, None),
    (M[4], "kt", "marketing", "message_send", D("2023-05-04"), None, None),
    # kt K2 (M5): 0 messages at first, 2 on 05-02, absent on 05-04, 4 on 05-05
    (M[5], "kt", "promotion", "kdeal_onboarding", D("2023-05-01"), None, None),
    (M[5], "kt", "capability", "smart_store", D("2023-05-02"), None, None),
    (M[5], "kt", "marketing", "message_send", D("2023-05-02"), None, None),
    (M[5], "kt", "marketing", "message_send", D("2023-05-05"), None, None),
    # skplanet: cashback points (5,000 with a thousands separator)
    (M[1], "skplanet", "marketing", "location_promo", D("2023-05-06"), 5000, None),
    (M[6], "skplanet", "marketing", "location_promo", D("2023-05-06"), 2500, None),
    (M[1], "skplanet", "marketing", "location_promo", D("2023-05-07"), 1000, None),
    # yogiyo: package = gov + private; each extra on its applied_at
    (M[7], "yogiyo", "promotion", "o2o_package", D("2023-05-02"), 600000, None),
    (M[7], "yogiyo", "marketing", "menu_photo", D("2023-05-10"), 50000, None),
    (M[8], "yogiyo", "marketing", "ad_discount", D("2023-05-03"), 20000, None),
    (M[8], "yogiyo", "promotion", "coupon_pack", D("2023-05-03"), 10000, None),
    # zigzag
    (M[9], "zigzag", "marketing", "ad_points", D("2023-05-03"), 100000, None),
    (M[9], "zigzag", "promotion", "coupon_support", D("2023-05-03"), 50000, None),
    (M[10], "zigzag", "capability", "ai_analytics", D("2023-05-03"), 0, None),
]

# merchant → (store_name, sido_code, sigungu_name, category, first_supported_on, partners_count)
MERCHANTS = {
    # 05-04's kakao row renames the store and has no 시군구: the latest non-null value wins each
    M[1]: ("망원떡집 본점", "11", "마포구", None, D("2023-05-03"), 3),
    M[2]: ("춘천닭갈비", "51", "춘천시", None, D("2023-05-03"), 1),   # 강원도 → 51
    M[3]: (None, None, None, None, D("2023-05-02"), 1),
    M[4]: ("K1상회", "52", "전주시", "한식", D("2023-04-15"), 1),     # 전라북도 → 52
    M[5]: ("K2분식", "41", "수원시", "분식", D("2023-05-01"), 1),
    M[6]: (None, None, None, None, D("2023-05-06"), 1),
    M[7]: ("해운대치킨", "26", "해운대구", "치킨", D("2023-05-02"), 1),
    M[8]: ("대구피자", "27", "중구", "피자", D("2023-05-03"), 1),
    M[9]: ("스토어 ZZ-001", "28", None, None, D("2023-05-03"), 1),
    M[10]: ("스토어 ZZ-002", "28", None, None, D("2023-05-03"), 1),   # Incheon → 28
}


def test_build_runs_models_data_tests_and_unit_tests(built: tuple[DataDirs, DbtRun]) -> None:
    _, run = built
    kinds = {uid.split(".")[0] for uid in run.statuses}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    assert not run.failures and not run.failed_nodes
    assert sum(uid.startswith("unit_test.") for uid in run.statuses) >= 10


def test_run_dbt_leaves_the_warehouse_unlocked(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    code = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute('create table main._lock_probe as select 1 as x'); c.execute('drop table main._lock_probe')"
    )
    done = subprocess.run([sys.executable, "-c", code, str(dirs.work_warehouse)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # dbt's artifacts and logs went to the data directory's work/ folder, not into the repository
    assert (dirs.work / "dbt_target" / "run_results.json").exists()
    assert (dirs.work / "dbt_logs" / "dbt.log").exists()


def test_fct_support_events(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    got = rows(dirs, "marts.fct_support_events")
    ids = [r[0] for r in got]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert sorted((r[1:] for r in got), key=repr) == sorted(EVENTS, key=repr)


def test_dim_merchant(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    got = {r[0]: r[1:] for r in rows(dirs, "marts.dim_merchant")}
    assert got == MERCHANTS


def test_small_dimensions(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    assert ("zigzag", "카카오스타일", "지그재그") in rows(dirs, "marts.dim_partner")
    assert len(rows(dirs, "marts.dim_partner")) == 6
    regions = rows(dirs, "marts.dim_region")
    assert len(regions) == 17 and ("51", "강원특별자치도", "Gangwon") in regions
    assert not {"42", "45"} & {r[0] for r in regions}
    assert (MAY, "2023 봄빛 동행축제", D("2023-05-01"), D("2023-05-28")) in rows(dirs, "marts.dim_festival")


def test_mart_support_reach(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for e in EVENTS:
        month = e[4].replace(day=1)
        groups[(month, e[1], e[2], MERCHANTS[e[0]][1])].append(e)
    want = []
    for (month, partner, stype, sido), evs in groups.items():
        merchants = {e[0] for e in evs}
        new = {m for m in merchants if MERCHANTS[m][4].replace(day=1) == month}
        value = sum(e[5] or 0 for e in evs)
        want.append((month, partner, stype, sido, len(merchants), len(new), len(evs), value))
    assert sorted(rows(dirs, "marts.mart_support_reach"), key=repr) == sorted(want, key=repr)


def test_mart_coupon_redemption(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    approx_rows(rows(dirs, "marts.mart_coupon_redemption"), [
        # K-deal: KC-1 and KC-2 issued and redeemed with their orders on 05-05; O4 (KC-2) cancelled
        ("kt", "KDEAL", None, D("2023-05-05"), MAY, 2, 1, 0, 0.5, 3000, 30000, 0.0),
        # 요기요: Y1 issued 00:30 KST (15:30 UTC the day before), redeemed 12 h later; Y2 reversed; Y3 expired
        ("yogiyo", "YC-A", "5월 쿠폰", D("2023-05-05"), MAY, 3, 1, 1, 1 / 3, 3000, 25000, 12.0),
        # 지그재그: latest record per coupon — ZC1 used after 24 h, ZC2 expired
        ("zigzag", "ZCAMP", None, D("2023-05-05"), MAY, 2, 1, 1, 0.5, 2000, 40000, 24.0),
    ])


def test_mart_festival_sales(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    # window 05-01..05-28 (28 days), baseline 04-03..04-30; built outside a run, no feed's status is
    # known: data_complete_through NULL, period_complete false (a run's: tests/test_feeds_overdue_runs.py)
    approx_rows(rows(dirs, "marts.mart_festival_sales"), [
        # 배민 aggregates: 42110 (old 강원 code) is the same cell as 51110; 11440 한식 has baseline only
        (MAY, "baemin", "51", "치킨", 28, None, 20, 3_500_000, None, 28, 1_000_000, 3.5, None, False),
        (MAY, "baemin", "11", "중식", 28, None, 2, 200_000, None, 28, 0, None, None, False),
        # K-deal: O3 30,000 (O4 cancelled two days later); baseline O1 + O2 = 20,000; O5 for M5
        (MAY, "kt", "52", "한식", 28, 1, 1, 30_000, 3_000, 28, 20_000, 1.5, None, False),
        (MAY, "kt", "41", "분식", 28, 1, 1, 15_000, 0, 28, 0, None, None, False),
        (MAY, "yogiyo", "26", "치킨", 28, 1, 20, 250_000, 3_000, 28, 100_000, 2.5, None, False),
        (MAY, "yogiyo", "27", "피자", 28, 1, 1, 10_000, 0, 28, 0, None, None, False),
        # 지그재그: both stores in 인천, no category known
        (MAY, "zigzag", "28", None, 28, 2, 12, 230_000, 5_000, 28, 50_000, 4.6, None, False),
    ])


def test_mart_daily_sales(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    assert rows(dirs, "marts.mart_daily_sales") == sorted([
        # (partner, day, orders, sales, coupon discounts, merchants with sales)
        ("kt", D("2023-04-10"), 2, 20_000, 0, 1),                 # O1 + O2
        ("kt", D("2023-05-05"), 2, 45_000, 3_000, 2),             # O3 + O5; O4 cancelled on 05-07
        ("yogiyo", D("2023-04-10"), 10, 100_000, 0, 1),
        ("yogiyo", D("2023-05-05"), 21, 260_000, 3_000, 2),
        ("zigzag", D("2023-04-10"), 5, 50_000, 0, 1),
        ("zigzag", D("2023-05-05"), 12, 230_000, 5_000, 2),
    ])


def test_mart_support_outcomes(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    approx_rows(rows(dirs, "marts.mart_support_outcomes"), [
        # M4: d0 = 04-15 (onboarding); before 03-18..04-14 = 20,000; after 04-15..05-12 = 30,000
        ("kt", "promotion", D("2023-04-01"), 1, round(20000 / 28), round(30000 / 28), 1.5, None, False),
        # M7: d0 = 05-02 (1+1 package); before 100,000; after 250,000. M8: before 0, left out
        ("yogiyo", "promotion", D("2023-05-01"), 1, round(100000 / 28), round(250000 / 28), 2.5, None, False),
        # M9: d0 = 05-03, ad points and coupon support the same day → promotion; M10 before 0
        ("zigzag", "promotion", D("2023-05-01"), 1, round(50000 / 28), round(200000 / 28), 4.0, None, False),
    ])


def test_mart_program_kpis(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    got = {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows(dirs, "marts.mart_program_kpis")}
    want = {}
    for p in ("kakao", "baemin", "kt", "skplanet", "yogiyo", "zigzag"):
        want[(2023, p, "merchants_reached")] = (2.0, "merchants")
    want[(2023, "ALL", "merchants_reached")] = (10.0, "merchants")
    want[(2023, "kakao", "traditional_markets")] = (2.0, "markets")
    want[(2023, "baemin", "courses")] = (2.0, "courses")
    want[(2023, "baemin", "learners")] = (2.0, "learners")        # L1, L2 (L2 has no BRN)
    want[(2023, "baemin", "course_satisfaction_avg")] = (4.75, "score (1-5)")  # EN1's latest row 4.5, EN3 5.0
    want[(2023, "kt", "smart_stores")] = (2.0, "stores")
    want[(2023, "yogiyo", "o2o_package_merchants")] = (1.0, "merchants")
    want[(2023, "yogiyo", "extra_support_merchants")] = (2.0, "merchants")
    for p, v in (("kt", 1.5), ("yogiyo", 2.5), ("zigzag", 4.0)):
        want[(2023, p, "avg_sales_growth_multiple")] = (v, "multiple")
    for p, v in (("kt", 45_000), ("yogiyo", 260_000), ("zigzag", 230_000), ("ALL", 535_000)):
        want[(2023, p, "festival_sales_krw")] = (float(v), "KRW")
    for p, v in (("kakao", 0), ("baemin", 0), ("kt", 0), ("skplanet", 8_500), ("yogiyo", 380_000),
                 ("zigzag", 150_000), ("ALL", 538_500)):
        want[(2023, p, "private_support_krw")] = (float(v), "KRW")
    assert got.keys() == want.keys()
    for k, (value, unit) in want.items():
        assert got[k] == (pytest.approx(value), unit), k


def test_marts_name_their_codes_in_korean(built: tuple[DataDirs, DbtRun]) -> None:
    """Each code's Korean name, from the seeds, in the marts' last columns; a NULL code has a NULL name."""
    dirs, _ = built
    partners = {r[0]: r[2] for r in rows(dirs, "marts.dim_partner")}
    regions = {r[0]: r[1] for r in rows(dirs, "marts.dim_region")}
    types = {"marketing": "홍보·마케팅", "capability": "역량강화", "promotion": "판촉지원"}
    for r in warehouse_rows(dirs.work_warehouse, "marts.mart_support_reach"):
        assert r[-3:] == (partners[r[1]], types[r[2]], regions.get(r[3])), r
    for r in warehouse_rows(dirs.work_warehouse, "marts.dim_merchant"):
        assert r[-1] == regions.get(r[2]), r
    for r in warehouse_rows(dirs.work_warehouse, "marts.mart_festival_sales"):
        assert r[-3:] == ("2023 봄빛 동행축제", partners[r[1]], regions.get(r[2])), r
    kpis = {(r[1], r[2]): r[-2:] for r in warehouse_rows(dirs.work_warehouse, "marts.mart_program_kpis")}
    assert kpis[("ALL", "merchants_reached")] == ("지원 소상공인 수", "전체")
    assert kpis[("zigzag", "avg_sales_growth_multiple")] == ("지원 후 매출 성장 (배)", "지그재그")
    assert all(name for name, _ in kpis.values())


def test_docs_generate(built: tuple[DataDirs, DbtRun], tmp_path: Path) -> None:
    dirs, _ = built
    run = docs_generate(dirs, tmp_path / "dbt_docs")
    assert run.success, run.summary()
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert (tmp_path / "dbt_docs" / name).stat().st_size > 0
    assert "mart_program_kpis" in (tmp_path / "dbt_docs" / "catalog.json").read_text(encoding="utf-8")


def test_a_failing_data_test_is_reported(tmp_path: Path) -> None:
    dirs = DataDirs.from_env(tmp_path / "data")
    write_small_delivery(dirs)
    # an unparseable 주문일시 slips past: staging's not_null test on ordered_at must fail the build
    write_published(dirs, "kt/kdeal_orders", "KDEAL_ORDER_20230508.csv", [
        {"주문번호": "O9", "사업자등록번호": "101-86-62870", "주문일시": "2023/05/08 10:00", "주문금액": "1,000",
         "할인금액": "0", "쿠폰번호": None, "주문상태": "결제완료"}])
    run = run_dbt(dirs, "build", select="+stg_kt__kdeal_orders")
    assert not run.success
    assert any("not_null_stg_kt__kdeal_orders_ordered_at" in f for f in run.failures), run.summary()
    assert all(isinstance(f, str) for f in run.failures)


def test_docs_after_a_build_carry_its_compiled_sql_and_the_catalog(built: tuple[DataDirs, DbtRun]) -> None:
    dirs, _ = built
    assert run_dbt(dirs, "build", exclude="resource_type:unit_test").success
    run = refresh_docs(dirs)
    assert run is not None and run.success, run and run.summary()
    assert_docs_carry_compiled_sql_and_catalog(dirs)
    assert refresh_docs(dirs) is None  # the project has not changed since
