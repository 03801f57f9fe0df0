"""A catalogue of bad partner data and what the gate does with each (issue 3).

Every case is one hand-built raw batch (one delivered file) with one defect. All cases are written
into one data directory and audited in ONE gate run — so they also show that batches of the same feed,
validated together in one GX validation, are told apart, and that one partner's bad file does not stop
another's. Each case states the documented outcome, the rule families that fail critically (exactly),
the warnings it must raise, a piece of the human-readable reason, and the rows rejected; every case
must reconcile (delivered = published + rejected + quarantined) and lose nothing on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import contract_for, load_contracts
from panro.domain.personal import pseudonym
from panro.gate import audit, checking
from panro.gate import quarantine_files as q
from panro.gate.state import published_file
from panro.lake.batches import published_path, read_batch
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from panro.transform.build import run_dbt
from tests.support.elsewhere import checks_in, processes
from tests.support.raw import KST, TEST_PII_KEY, clean_rows, invalid_brn, write_batch, write_batches_together

TODAY = dt.date(2023, 8, 1)          # the gate's "today" (KST) for this run
Rows = list[dict[str, Any]]


def _set(n: int, col: str, value: Any, *, at: tuple[int, ...] = (7,)) -> Callable[[Rows], Rows]:
    def change(rows: Rows) -> Rows:
        for i in at:
            rows[i][col] = value(rows[i]) if callable(value) else value
        return rows
    return change


def _all(col: str, value: Callable[[Any], Any]) -> Callable[[Rows], Rows]:
    def change(rows: Rows) -> Rows:
        for r in rows:
            r[col] = value(r[col])
        return rows
    return change


def _flip(value: str) -> str:
    """The same BRN with its check digit off by one."""
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def _garbled(text: str) -> str:
    """CP949 bytes read as if they were UTF-8: what a wrongly decoded Korean export looks like."""
    return text.encode("cp949").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Case:
    id: str
    feed: str
    what: str
    outcome: str                                   # published | published_with_rejections | quarantined
    rules: frozenset[str] = frozenset()            # critical rule families that fail — exactly these
    warns: frozenset[str] = frozenset()            # warning rule families that must be raised
    reason: str = ""                               # appears in the reasons (or warnings)
    rejected: int = 0                              # rows rejected when published_with_rejections
    n: int = 200
    change: Callable[[Rows], Rows] | None = None
    write: dict[str, Any] = field(default_factory=dict)   # write_batch options: rename / drop / extra_columns
    day: dt.date | None = None                     # the file's business date (default: one per case)


def _c(id: str, feed: str, what: str, outcome: str, rules: set[str] | None = None, warns: set[str] | None = None,
       **kw: Any) -> Case:
    return Case(id, feed, what, outcome, frozenset(rules or ()), frozenset(warns or ()), **kw)


P, R, Q = "published", "published_with_rejections", "quarantined"
SCRIPT = "<script>alert('panro')</script>"
LANDLINE, RESIDENT_NO = "02-3456-7890", "900101-1234567"
FORGED = "취소\x1b[2J\nheld back: nothing, all published"
CASES = [
    # -- schema drift: a missing or renamed column holds the whole file; a new one is reported -----
    _c("renamed_column", "kt/kdeal_orders", "주문금액 arrives as '주문 금액'", Q, {"schema"},
       reason="missing ['주문금액'], unexpected ['주문 금액']", write={"rename": {"주문금액": "주문 금액"}}),
    _c("missing_column", "yogiyo/orders", "delivery_fee_krw is not in the file", Q, {"schema"},
       reason="missing ['delivery_fee_krw']", write={"drop": ["delivery_fee_krw"]}),
    _c("extra_column", "zigzag/coupons", "an unannounced column 'memo': published without it", P, set(),
       {"schema_drift"}, reason="new column(s) ['memo']", write={"extra_columns": {"memo": "x"}}),
    _c("column_of_another_type", "zigzag/sales", "gmv_krw delivered as text ('30000')", Q, {"schema"},
       reason="gmv_krw is string, the contract says int64", n=100,
       change=_all("gmv_krw", str), write={"raw_types": {"gmv_krw": pa.string()}}),
    # -- encoding ----------------------------------------------------------------------------------
    _c("cp949_garbled_enum", "kt/kdeal_orders", "CP949 text decoded as UTF-8: 주문상태 is garbage in every row",
       Q, {"enum"}, reason="주문상태 is not one of 결제완료, 취소", change=_all("주문상태", _garbled)),
    _c("cp949_garbled_region", "kt/kdeal_stores", "CP949 text decoded as UTF-8: 시도 is garbage in every row",
       Q, {"region"}, reason="시도 is not a known 시도 name", change=_all("시도", _garbled)),
    # -- keys --------------------------------------------------------------------------------------
    _c("duplicate_key_under_tolerance", "kakao/talkchannel", "one event_id twice (2 of 300 rows)", R, {"key"},
       reason="the key (event_id) is not unique", rejected=2, n=300,
       change=_set(0, "event_id", lambda r: "EV-DUP", at=(10, 11))),
    _c("file_rows_doubled", "zigzag/sales", "every row of the day twice in the file", Q, {"key"},
       reason="(store_id, sales_date) is not unique", n=100, change=lambda rows: rows + [dict(r) for r in rows]),
    # -- BRN ---------------------------------------------------------------------------------------
    _c("invalid_brn_under_tolerance", "yogiyo/orders", "one check digit wrong (1 of 200)", R, {"brn"},
       reason=f"biz_reg_no is not a valid 사업자등록번호 (10 digits, bare or dashed, check digit) — 1 of 200 rows — "
              f"e.g. row 8: '{invalid_brn(7)}'", rejected=1, change=_set(0, "biz_reg_no", invalid_brn(7))),
    _c("invalid_brn_over_tolerance", "skplanet/okcashback_promo", "10 of 200 BRNs fail the check digit", Q, {"brn"},
       reason="row rules reject 10 of 200 rows (5.0%), above the tolerance of 1%",
       change=_set(0, "biz_reg_no", lambda r: _flip(r["biz_reg_no"]), at=tuple(range(10)))),
    _c("invalid_brn_optional_column", "baemin/edu_enrollments",
       "a learner's optional BRN fails the check digit: kept (the learner counts), reported", P, set(), {"brn"},
       reason="biz_reg_no is not a valid 사업자등록번호", n=300, change=_set(0, "biz_reg_no", "123-45-67890", at=(1,))),
    # -- regions, enums, codes ---------------------------------------------------------------------
    _c("unknown_region", "kakao/talkchannel", "sido 'Mars' (1 of 200)", R, {"region"},
       reason="sido is not a known 시도 name (region_variants seed) — 1 of 200 rows — e.g. row 8: 'Mars'",
       rejected=1, change=_set(0, "sido", "Mars")),
    _c("unknown_sigungu_prefix", "baemin/delivery_stats", "sigungu_code 99110 (no 시도 99)", R, {"region"},
       reason="sigungu_code does not start with a 시도 code", rejected=1, change=_set(0, "sigungu_code", "99110")),
    _c("unknown_enum", "zigzag/support", "지원항목 '기타지원' is not in the contract", R, {"enum"},
       reason="지원항목 is not one of", rejected=1, change=_set(0, "지원항목", "기타지원")),
    # -- money, counts, numbers --------------------------------------------------------------------
    _c("negative_amount_text", "kt/kdeal_orders", "주문금액 '-12,000' (1 of 150)", R, {"non_negative"},
       reason="주문금액 is negative — 1 of 150 rows — e.g. row 8: '-12,000'", rejected=1, n=150,
       change=_set(0, "주문금액", "-12,000")),
    _c("negative_amount_int_over_tolerance", "zigzag/sales", "gmv_krw −5 in 10 of 100 rows", Q, {"non_negative"},
       reason="gmv_krw is negative", n=100, change=_set(0, "gmv_krw", -5, at=tuple(range(10)))),
    _c("malformed_money", "yogiyo/orders", "gross_sales_krw '18.000원'", R, {"type"},
       reason="gross_sales_krw is not a whole KRW amount", rejected=1, change=_set(0, "gross_sales_krw", "18.000원")),
    _c("rating_out_of_range", "baemin/edu_enrollments", "satisfaction 7.5 on a 1.0-5.0 scale", R, {"range"},
       reason="satisfaction is outside 1.0–5.0", rejected=1, n=300, change=_set(0, "satisfaction", "7.5", at=(3,))),
    # -- dates -------------------------------------------------------------------------------------
    _c("unparseable_timestamp", "kakao/talkchannel", "occurred_at '2023/06/05 12:00'", R, {"type"},
       reason="occurred_at does not parse as ISO-8601 with offset", rejected=1,
       change=_set(0, "occurred_at", "2023/06/05 12:00")),
    _c("future_event", "yogiyo/coupons", "an event_ts the day after the file's date (1 of 200)", R, {"window"},
       reason="event_ts (KST date) is outside D−0 … D of the file's business date D or in the future", rejected=1,
       change=_set(0, "event_ts", lambda r: r["event_ts"] + 86_400_000)),
    _c("future_file", "kakao/talkchannel", "a file dated after today", Q, {"future"},
       reason="the file's business date lies in the future", day=dt.date(2023, 8, 3)),
    _c("old_paid_order", "kt/kdeal_orders", "a paid (결제완료) order line from 10 days before D", R, {"window"},
       reason="a paid (결제완료) line whose 주문일시 is outside D−3 … D", rejected=1, n=150,
       change=_set(0, "주문일시", lambda r: "2023-05-20 10:00:00")),
    _c("seconds_not_milliseconds", "yogiyo/coupons", "event_ts in epoch seconds in every row", Q, {"type"},
       reason="event_ts does not parse as epoch milliseconds", change=_all("event_ts", lambda v: v // 1000)),
    # -- cross-field -------------------------------------------------------------------------------
    _c("redemption_without_order", "yogiyo/coupons", "a redeemed event without order_id", R, {"cross_field"},
       reason="a redeemed coupon event without order_id", rejected=1, change=_set(0, "order_id", None, at=(5,))),
    _c("used_before_issued", "zigzag/coupons", "used_at before issued_at (1 of 150)", R, {"cross_field"},
       reason="used_at is before issued_at", rejected=1, n=150,
       change=_set(0, "issued_at", lambda r: r["used_at"].replace("12:30", "23:59"), at=(3,))),
    _c("completed_before_enrolled", "baemin/edu_enrollments", "completed_at before enrolled_at", R, {"cross_field"},
       reason="completed_at is before enrolled_at", rejected=1, n=300,
       change=_set(0, "enrolled_at", lambda r: r["completed_at"][:10] + " 23:59:59", at=(6,))),
    _c("rating_without_completion", "baemin/edu_enrollments", "satisfaction on an enrollment not completed",
       R, {"cross_field"}, reason="a satisfaction rating without completion", rejected=1, n=300,
       change=_set(0, "satisfaction", "4.0", at=(1,))),
    _c("required_missing", "yogiyo/support", "merchant_name missing", R, {"required"},
       reason="merchant_name is missing (required)", rejected=1, change=_set(0, "merchant_name", None)),
    _c("malformed_extras", "yogiyo/support", "an extra of an unknown type 'banner'", R, {"format"},
       reason="extras is not a list of", rejected=1, change=_set(0, "extras", '[{"type": "banner"}]', at=(4,))),
    # -- empty files and volume --------------------------------------------------------------------
    _c("empty_event_file", "yogiyo/orders", "header only: no orders that day", P, set(), {"empty"},
       reason="the file has no rows", n=0),
    _c("empty_snapshot", "kt/kdeal_stores", "an empty full snapshot", Q, {"empty"},
       reason="the file has no rows (an empty full snapshot)", n=0),
    _c("snapshot_half_missing", "kt/kdeal_stores", "half the stores missing from the snapshot", P, set(),
       {"volume"}, reason="100 rows vs a recent median of 200 (0.50×)", n=100),
    # -- hostile (issue 28): values meant to run, to leak or to mislead ---------------------------
    _c("script_in_a_failing_value", "kakao/talkchannel", "sido '<script>…</script>': a sample on every page",
       R, {"region"}, reason=f"e.g. row 8: {SCRIPT!r}", rejected=1, change=_set(0, "sido", SCRIPT)),
    _c("phone_in_a_plain_column", "kakao/talkchannel", "a phone number typed into sido: never quoted", R,
       {"region"}, reason="e.g. row 9: '(phone number, masked)'", rejected=1,
       change=_set(0, "sido", LANDLINE, at=(8,))),
    _c("resident_number_in_a_value", "zigzag/support", "a 주민등록번호 typed into 지원항목: never quoted", R,
       {"enum"}, reason="'(resident number, masked)'", rejected=1, change=_set(0, "지원항목", RESIDENT_NO)),
    _c("malformed_phone", "kt/kdeal_stores", "연락처 that was no phone number (marked at extraction): reported",
       P, set(), {"phone"}, reason="연락처 is not a phone number",
       change=_set(0, "연락처", pseudonym(TEST_PII_KEY, "내선 없음", phone=True), at=(3,))),
    _c("control_characters_in_a_value", "kt/kdeal_orders", "주문상태 with an ESC sequence and a forged line", R,
       {"enum"}, reason="주문상태 is not one of", rejected=1, n=150, change=_set(0, "주문상태", FORGED)),
]
SNAPSHOT_HISTORY = 7   # clean K-deal snapshots of 200 stores before the cases


@dataclass
class Run:
    dirs: DataDirs
    report: Any
    days: dict[str, dt.date]
    delivered: dict[str, int]
    layout: str = "one file per batch"
    companions: int = 0          # rows of the clean files delivered beside the cases in this run


LAYOUTS = ("checked in the run's process", "checked in another process", "in a backfill's segments",
           "in a nightly with a late file")


@pytest.fixture(scope="module", params=LAYOUTS)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The catalogue's gate run: once with every feed checked on threads of the run's own process and
    once with every feed checked in another process (as a task runner's worker does: the check gets
    and sends back plain data), each case a raw file of its own; then with each case's file among other
    files of its feed in one raw file, as a backfill writes them (two clean files around it), and as a
    nightly does (the night's file with a late correction of one of two files published together the
    night before). The outcomes must not differ."""
    with contextlib.ExitStack() as stack:
        checker = None
        if "another" in request.param:
            checker = checks_in(stack.enter_context(processes(1)))
        layout = request.param if "segment" in request.param or "nightly" in request.param else "one file per batch"
        yield _catalogue_run(tmp_path_factory, checker, layout)


def _companion_day(i: int, k: int) -> dt.date:
    """A day of its own for the k-th clean file delivered beside case i (before the history's first day)."""
    return dt.date(2023, 5, 31) - dt.timedelta(days=3 * i + k)


def _catalogue_run(tmp_path_factory: pytest.TempPathFactory, checker: checking.FeedChecker | None, layout: str) -> Run:
    dirs = DataDirs.from_env(tmp_path_factory.mktemp("catalogue") / "data")
    days, delivered = {}, {}
    with Ledger(dirs.ledger_path) as ledger:
        first = dt.date(2023, 6, 1)
        cases: list[tuple[int, Case, dt.date, Rows]] = []
        for i, case in enumerate(CASES):
            day = case.day or first + dt.timedelta(days=SNAPSHOT_HISTORY + i)
            rows = clean_rows(case.feed, 200 if case.feed == "kt/kdeal_stores" and case.n else case.n, day)
            if case.id == "snapshot_half_missing":
                rows = rows[: case.n]
            if case.change:
                rows = case.change(rows)
            days[case.id], delivered[case.id] = day, len(rows)
            cases.append((i, case, day, rows))
        if layout == "in a nightly with a late file":   # the night before: two clean files, published
            for i, case, _, _ in cases:
                if not case.write:
                    late, other = _companion_day(i, 0), _companion_day(i, 1)
                    write_batches_together(dirs, ledger, case.feed, {late: _clean_companion(case, late),
                                                                     other: _clean_companion(case, other)})
            audit(dirs, ledger, run_id="the night before", today=TODAY)
        for i in range(SNAPSHOT_HISTORY):
            write_batch(dirs, ledger, "kt/kdeal_stores", clean_rows("kt/kdeal_stores", 200, first + dt.timedelta(i)),
                        day=first + dt.timedelta(i))
        for i, case, day, rows in cases:
            if case.write or layout == "one file per batch":   # a file of another schema: a raw file of its own
                write_batch(dirs, ledger, case.feed, rows, day=day, **case.write)
            elif layout == "in a backfill's segments":        # between two clean files of its feed
                before, after = _companion_day(i, 1), _companion_day(i, 2)
                write_batches_together(dirs, ledger, case.feed, {
                    before: _clean_companion(case, before), day: rows, after: _clean_companion(case, after)})
            else:                                  # tonight's file, and a correction of one of last night's
                late = _companion_day(i, 0)
                write_batches_together(dirs, ledger, case.feed, {
                    day: rows, late: _clean_companion(case, late, start=1000)})
        report = audit(dirs, ledger, run_id="catalogue", today=TODAY, check_feeds=checker)
    cases_rows = sum(delivered.values()) + SNAPSHOT_HISTORY * 200
    return Run(dirs, report, days, delivered, layout, companions=report.rows_delivered - cases_rows)


def _clean_companion(case: Case, day: dt.date, start: int = 0) -> Rows:
    """A clean file of the case's feed for another day (`start`: other rows, a new version of it)."""
    return clean_rows(case.feed, 200 if case.feed == "kt/kdeal_stores" else max(case.n, 100), day, start=start)


def _outcome(run: Run, case: Case):
    name = contract_for(case.feed).file_name(run.days[case.id])
    return run.report.outcome(name)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(run: Run, case: Case) -> None:
    out = _outcome(run, case)
    assert out.outcome == case.outcome, (out.reasons, out.warnings)
    assert out.rules("critical") == case.rules, out.reasons
    assert case.warns <= out.rules("warning"), out.warnings
    text = "\n".join(out.reasons + out.warnings)
    assert case.reason in text
    assert out.partner in text and out.file_name in text          # partner and file in every reason
    # reconciliation: nothing lost
    assert out.rows_delivered == run.delivered[case.id]
    assert out.reconciled
    if case.outcome == R:
        assert (out.rows_rejected, out.rows_published) == (case.rejected, out.rows_delivered - case.rejected)
    elif case.outcome == Q:
        assert (out.rows_published, out.rows_rejected, out.rows_quarantined) == (0, 0, out.rows_delivered)
    else:
        assert (out.rows_published, out.rows_rejected) == (out.rows_delivered, 0)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_on_disk(run: Run, case: Case) -> None:
    """What the published zone and the quarantine folder hold adds up to what was delivered."""
    out = _outcome(run, case)
    contract = contract_for(case.feed)
    with Ledger(run.dirs.ledger_path) as ledger:
        batch = ledger.get(out.batch_id)
    on_disk = 0
    if out.outcome == Q:   # no earlier version: a held file publishes nothing
        assert batch.published_path is None
        assert not published_path(run.dirs, contract, out.file_name, batch.checksum).exists()
    else:
        on_disk = read_batch(published_file(run.dirs, contract, batch), out.batch_id).num_rows
    assert on_disk == out.rows_published
    if out.outcome == P:
        assert out.quarantine_id is None
        return
    folder = q.folder(run.dirs, out.quarantine_id)
    manifest = json.loads((folder / q.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["status"] == ("held" if out.outcome == Q else "rows_rejected")
    assert (folder / q.VALIDATION_FILE).exists() and (folder / q.REASONS_FILE).exists()
    assert case.reason.split(" — ")[0] in (folder / q.REASONS_FILE).read_text(encoding="utf-8")
    validation = json.loads((folder / q.VALIDATION_FILE).read_text(encoding="utf-8"))
    assert validation["suite"] == f"{contract.partner}.{contract.feed}" and not validation["success"]
    if out.outcome == Q:
        assert pq.read_metadata(folder / q.BATCH_FILE).num_rows == out.rows_delivered
    rejected = folder / q.REJECTED_FILE
    if out.outcome == R:
        table = pq.read_table(rejected)
        assert table.num_rows == out.rows_rejected
        assert all(table.column("_reasons").to_pylist())
        assert on_disk + table.num_rows == out.rows_delivered


def test_a_new_column_stays_in_the_raw_zone_and_is_not_published(run: Run) -> None:
    """Schema drift: the file with a column the contract does not know is published in the contract's
    columns; its raw file keeps the new column, values and all."""
    case = next(c for c in CASES if c.id == "extra_column")
    out = _outcome(run, case)
    contract = contract_for(case.feed)
    with Ledger(run.dirs.ledger_path) as ledger:
        batch = ledger.get(out.batch_id)
    raw = read_batch(batch.raw_path, batch.batch_id)
    assert set(raw.column("memo").to_pylist()) == {"x"}
    published = read_batch(published_file(run.dirs, contract, batch), batch.batch_id)
    assert published.column_names == raw.drop_columns(["memo"]).column_names
    assert published.num_rows == raw.num_rows == out.rows_published


def test_one_run_reconciles(run: Run) -> None:
    r = run.report
    assert r.reconciled
    companions = {"one file per batch": 0, "in a backfill's segments": 2, "in a nightly with a late file": 1}
    assert r.rows_delivered == sum(run.delivered.values()) + SNAPSHOT_HISTORY * 200 + run.companions
    assert len(r.batches) == SNAPSHOT_HISTORY + len(CASES) + companions[run.layout] * sum(not c.write for c in CASES)
    assert r.rows_delivered == r.rows_published + r.rows_rejected + r.rows_quarantined
    assert r.data_docs is not None and r.data_docs.exists()


def test_no_personal_data_leaves_the_gate(run: Run) -> None:
    """대표자명 / 연락처 (pii) appear in no quarantine file, reason, report or Data Docs page."""
    texts = [json.dumps(run.report.to_dict(), ensure_ascii=False)]
    for path in list(run.dirs.quarantine.rglob("*")) + list(run.dirs.reports.rglob("*.html")):
        if path.suffix == ".parquet":
            texts.append(pq.read_table(path).to_pandas().to_csv())
        elif path.is_file() and path.suffix in (".json", ".txt", ".html"):
            texts.append(path.read_text(encoding="utf-8"))
    blob = "\n".join(texts)
    assert "홍길동" not in blob and "010-" not in blob
    held = q.folder(run.dirs, _outcome(run, next(c for c in CASES if c.id == "cp949_garbled_region")).quarantine_id)
    masked = pq.read_table(held / q.BATCH_FILE)
    assert set(masked.column("대표자명").to_pylist()) == {"***"}


def test_staging_reads_each_published_batch_once(run: Run) -> None:
    """dbt's staging models hold every published batch's rows once, from the one file the published index
    names for it: never a rejected row, nor a row of a batch held or replaced, though a raw file of several
    batches, published as it is, still holds them."""
    if run.layout == "one file per batch":
        pytest.skip("every batch has a raw file of its own here: no file is shared")
    built = run_dbt(run.dirs, "build", select="resource_type:seed staging",
                    exclude="resource_type:test resource_type:unit_test")
    assert built.success, built.summary()
    with Ledger(run.dirs.ledger_path) as ledger:
        everything = ledger.batches()
    published = {b.batch_id: b.rows_published for b in everything if b.status == "published"}
    sharing = Counter(b.raw_path for b in everything)
    # the layout shares raw files between trimmed, held or replaced batches and clean ones
    for status in ("published", "quarantined") + (("superseded",) if "nightly" in run.layout else ()):
        assert any(sharing[b.raw_path] > 1 and b.status == status and (b.rows_rejected or status != "published")
                   for b in everything), status
    con = duckdb.connect(str(run.dirs.work_warehouse), read_only=True)
    try:
        staged: dict[str, int] = {}
        for contract in load_contracts():
            staged |= dict(con.execute(f"select _batch_id, count(*) from staging.stg_{contract.partner}__"
                                       f"{contract.feed} group by 1").fetchall())
    finally:
        con.close()
    assert staged == {bid: n for bid, n in published.items() if n}


def test_cases_cover_every_feed_and_rule() -> None:
    assert {c.feed for c in CASES} == {c.name for c in load_contracts()}
    assert len(CASES) >= 15
    assert {"schema", "key", "brn", "region", "enum", "type", "non_negative", "window", "cross_field",
            "required", "empty", "volume", "future", "range", "format", "schema_drift"
            } <= {r for c in CASES for r in c.rules | c.warns}


def test_kst_helper_is_kst() -> None:
    assert dt.datetime(2023, 1, 1, tzinfo=KST).utcoffset() == dt.timedelta(hours=9)


def test_data_docs_site(run: Run) -> None:
    index = run.report.data_docs
    assert index == run.dirs.reports / "data_docs" / "index.html"
    pages = list(Path(index.parent, "runs").rglob("*.html"))
    assert pages and any(p.parent.name == "kdeal_orders" and p.name.startswith("KDEAL_ORDER_") for p in pages)


def test_hostile_values_are_inert_and_masked_on_every_page(run: Run) -> None:
    """A delivered `<script>` is text on the Data Docs pages; a phone or resident number typed into any
    column is masked in reasons, samples and pages; personal data never appears (issue 28)."""
    pages = "\n".join(p.read_text(encoding="utf-8") for p in run.dirs.reports.rglob("*.html"))
    assert "&lt;script&gt;alert(" in pages                       # shown, as text
    assert "<script" not in pages.lower()                         # the pages run no script at all
    texts = [json.dumps(run.report.to_dict(), ensure_ascii=False), pages]
    texts += [p.read_text(encoding="utf-8") for p in run.dirs.quarantine.rglob("*.json")]
    texts += [p.read_text(encoding="utf-8") for p in run.dirs.root.rglob("state/gx_validations/**/*.json")]
    blob = "\n".join(texts)
    assert LANDLINE not in blob and RESIDENT_NO not in blob
    assert "(phone number, masked)" in blob and "(resident number, masked)" in blob
    forged = _outcome(run, next(c for c in CASES if c.id == "control_characters_in_a_value"))
    assert forged.outcome == R                                    # the value is data: rejected, kept, reported
