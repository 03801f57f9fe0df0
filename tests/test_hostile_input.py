"""Hostile and careless input (issue 28): no leak, no hang, no silent loss — at the door.

Each test is one reproduction from the issue, run through the real extraction (a real landing folder,
a real ledger, real Parquet), and states what must happen instead.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import time
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from panro.domain.contracts import ContractError, contract_for, parse_contract
from panro.domain.personal import PHONE_MASK, is_phone, mask, pii_key, pseudonym
from panro.extract import extract
from panro.extract.decoded import column_problem
from panro.settings import DataDirs
from tests.support.landing import SAMPLES, csv_bytes, deliver, jsonl_bytes, put, xlsx_bytes

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)
OWNERS, PHONES = ("김민수", "이영희"), ("010-1234-5678", "01012345678")


def _raw_text(dirs: DataDirs) -> str:
    return "\n".join(pq.read_table(p).to_pandas().to_csv() for p in dirs.raw.rglob("*.parquet"))


def _failed_reason(report, name: str) -> str:
    (f,) = [f for f in report.files if f.file_name == name]
    assert f.outcome == "failed", f
    return f.reason or ""


# -- 1. personal data minimised at the door ------------------------------------------------------

def test_personal_columns_are_keyed_pseudonyms_in_the_raw_zone(dirs: DataDirs, monkeypatch) -> None:
    monkeypatch.setenv("PANRO_PII_KEY", "tonight's key")
    deliver(dirs, "kt/kdeal_stores", DAY)
    report = extract(dirs, [DAY], today=TODAY)
    assert [f.outcome for f in report.files] == ["extracted"]
    raw = pq.read_table(report.files[0].raw_path)
    owners, phones = raw.column("대표자명").to_pylist(), raw.column("연락처").to_pylist()
    key = pii_key(dirs.state)
    assert owners == [pseudonym(key, "김민수"), pseudonym(key, "이영희")]
    assert phones == [pseudonym(key, "010-1234-5678", phone=True), None]     # NULL stays NULL
    assert all(o.startswith("p:") and len(o) == 34 for o in owners)
    text = _raw_text(dirs)
    assert not any(v in text for v in OWNERS + PHONES)
    assert raw.column("상호명").to_pylist() == ["망원 떡집", "춘천 닭갈비, 본점"]    # the rest as delivered


def test_the_same_phone_written_two_ways_is_one_pseudonym_and_a_bad_one_is_marked() -> None:
    key = pii_key.__globals__["PiiKey"](b"k")
    assert pseudonym(key, "010-1234-5678", phone=True) == pseudonym(key, "01012345678", phone=True)
    assert pseudonym(key, "not a phone", phone=True).startswith("x:")
    assert pseudonym(pii_key.__globals__["PiiKey"](b"another key"), "김민수") != pseudonym(key, "김민수")
    assert repr(key) == "PiiKey(***)"                      # a context carrying it never prints it


def test_without_a_configured_key_a_key_of_the_process_is_used_and_never_written(dirs: DataDirs,
                                                                                  monkeypatch) -> None:
    monkeypatch.delenv("PANRO_PII_KEY", raising=False)
    monkeypatch.delenv("PANRO_PII_KEY_BLOCK", raising=False)
    deliver(dirs, "kt/kdeal_stores", DAY)
    report = extract(dirs, [DAY], today=TODAY)
    assert [f.outcome for f in report.files] == ["extracted"]
    key = pii_key()
    assert pii_key() == key                                  # one key for the whole run
    owners = pq.read_table(report.files[0].raw_path).column("대표자명").to_pylist()
    assert owners == [pseudonym(key, "김민수"), pseudonym(key, "이영희")]
    secret = key.secret.decode()
    written = [p for p in dirs.root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert written == []                                     # the key is in no file under the data dir


def test_the_pii_key_can_come_from_a_prefect_secret_block(dirs: DataDirs, monkeypatch, prefect_api_url: str) -> None:
    from prefect.blocks.system import Secret

    from panro.domain.personal import PiiKey

    Secret(value="the agency's key, kept by Prefect").save("panro-pii-key-test", overwrite=True)
    monkeypatch.delenv("PANRO_PII_KEY", raising=False)
    monkeypatch.setenv("PANRO_PII_KEY_BLOCK", "panro-pii-key-test")
    assert pii_key(dirs.state) == PiiKey(b"the agency's key, kept by Prefect")
    monkeypatch.setenv("PANRO_PII_KEY_BLOCK", "no-such-block")
    with pytest.raises(RuntimeError, match=r"Secret block 'no-such-block' .* cannot be loaded"):
        pii_key(dirs.state)


def test_a_store_file_without_its_header_row_is_failed_without_quoting_its_first_row(dirs: DataDirs) -> None:
    sample = SAMPLES["kt/kdeal_stores"]
    names = sample.contract.column_names
    headless = csv_bytes(names, [[r[n] for n in names] for r in sample.rows], encoding="cp949")
    headless = headless.split(b"\n", 1)[1]                  # the header row left out
    name = deliver(dirs, "kt/kdeal_stores", DAY, data=headless)
    reason = _failed_reason(extract(dirs, [DAY], today=TODAY), name)
    assert "none of the contract's columns" in reason and "header row is missing" in reason
    assert not any(v in reason for v in OWNERS + PHONES + ("망원 떡집",))


def test_a_phone_number_in_a_column_name_or_value_is_masked_in_reasons() -> None:
    contract = contract_for("kt/kdeal_orders")
    renamed = [c if c != "주문금액" else "010-9876-5432" for c in contract.column_names]
    problem = column_problem(renamed, contract, "header (line 1)")
    assert "010-9876-5432" not in problem and PHONE_MASK in problem
    for phone in ("010-1234-5678", "01012345678", "+82 10-1234-5678", "02-123-4567", "031.123.4567", "1588-1234"):
        assert is_phone(phone) and mask(f"call {phone} now") == f"call {PHONE_MASK} now", phone
    assert "900101-1234567" not in mask("주민 900101-1234567")
    for not_personal in ("101-86-62870", "1018662870", "12,000", "2023-05-01 12:00:01", "KD-0001"):
        assert mask(not_personal) == not_personal


def test_files_the_extraction_writes_are_owner_only(dirs: DataDirs, monkeypatch) -> None:
    from panro.settings import owner_only

    monkeypatch.setenv("PANRO_PII_KEY", "k")
    before = os.umask(0o022)
    try:
        owner_only()
        deliver(dirs, "kt/kdeal_orders", DAY)
        report = extract(dirs, [DAY], today=TODAY)
    finally:
        os.umask(before)
    raw = Path(report.files[0].raw_path)
    assert stat.S_IMODE(raw.stat().st_mode) == 0o600
    assert stat.S_IMODE(raw.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(dirs.ledger_path.stat().st_mode) & 0o077 == 0


def test_contracts_mark_a_phone_column_personal_and_text() -> None:
    base = {"partner": "p", "feed": "f", "file": {"pattern": r"f_(?P<date>\d{8})\.csv", "date_format": "%Y%m%d"},
            "format": {"type": "csv"}, "kind": "events"}
    with pytest.raises(ContractError, match="mark it `pii: true`"):
        parse_contract({**base, "columns": {"tel": {"phone": True}}})
    with pytest.raises(ContractError, match="must be of type string"):
        parse_contract({**base, "columns": {"age": {"type": "int", "pii": True}}})
    assert contract_for("kt/kdeal_stores").column("연락처").phone


# -- 4. limits with clear reasons; the rest of the night goes on -------------------------------------

def test_a_header_of_a_million_columns_fails_in_seconds(dirs: DataDirs) -> None:
    wide = ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n1\n"
    name = deliver(dirs, "kt/kdeal_orders", DAY, data=wide)
    deliver(dirs, "kakao/talkchannel", DAY)
    t0 = time.perf_counter()
    report = extract(dirs, [DAY], today=TODAY)
    assert time.perf_counter() - t0 < 60          # generous: the check is linear (bench/ has the figure)
    reason = _failed_reason(report, name)
    assert "1,000,000 columns" in reason and "limits.max_columns" in reason
    assert {f.feed: f.outcome for f in report.files}["talkchannel"] == "extracted"


def test_the_column_check_is_linear_in_the_header_width() -> None:
    contract = contract_for("kt/kdeal_orders")
    header = [f"c{i}" for i in range(200_000)]
    t0 = time.perf_counter()
    problem = column_problem(header, contract, "header")
    assert time.perf_counter() - t0 < 5          # quadratic: hours
    assert "none of the contract's columns" in problem


def _bomb(sheet_bytes: int) -> bytes:
    """A workbook whose sheet is highly compressible XML: small on disk, `sheet_bytes` inflated."""
    real = xlsx_bytes("주문", SAMPLES["kt/kdeal_orders"].contract.column_names, [])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                pad = b"<!--" + b" " * (sheet_bytes - len(data) - 7) + b"-->"
                data = data.replace(b"<sheetData", pad + b"<sheetData", 1)
            dst.writestr(item, data)
    return out.getvalue()


def test_an_excel_sheet_inflating_past_the_limit_is_failed_before_it_inflates(dirs: DataDirs) -> None:
    contract = parse_contract({
        "partner": "kt", "feed": "kdeal_orders", "file": {"pattern": r"K_(?P<date>\d{8})\.xlsx",
                                                           "date_format": "%Y%m%d"},
        "format": {"type": "xlsx", "sheet": "주문"}, "kind": "events", "limits": {"max_sheet_mb": 8},
        "columns": {c: {"type": "string"} for c in SAMPLES["kt/kdeal_orders"].contract.column_names}})
    put(dirs, "kt", "kdeal_orders", "K_20230501.xlsx", _bomb(16 * 1024 * 1024))
    report = extract(dirs, [DAY], today=TODAY, contracts=(contract,))
    reason = _failed_reason(report, "K_20230501.xlsx")
    assert "inflates to 16 MB" in reason and "limits.max_sheet_mb" in reason


def test_a_value_longer_than_the_field_limit_fails_the_file(dirs: DataDirs) -> None:
    rows = [dict(r) for r in SAMPLES["kakao/talkchannel"].rows]
    rows[1]["store_name"] = "가" * 20_000
    name = deliver(dirs, "kakao/talkchannel", DAY, data=jsonl_bytes(rows))
    reason = _failed_reason(extract(dirs, [DAY], today=TODAY), name)
    assert "row 2, column 'store_name': a value of 20,000 characters" in reason and "max_field_chars" in reason


def test_a_file_over_the_size_limit_is_not_read(dirs: DataDirs) -> None:
    contract = parse_contract({
        "partner": "kakao", "feed": "talkchannel", "file": {"pattern": r"t_(?P<date>\d{8})\.jsonl",
                                                            "date_format": "%Y%m%d"},
        "format": {"type": "jsonl"}, "kind": "events", "limits": {"max_file_mb": 1},
        "columns": {"event_id": {}}})
    put(dirs, "kakao", "talkchannel", "t_20230501.jsonl", b'{"event_id": "' + b"x" * (2 * 1024 * 1024) + b'"}\n')
    reason = _failed_reason(extract(dirs, [DAY], today=TODAY, contracts=(contract,)), "t_20230501.jsonl")
    assert "2.0 MB" in reason and "limits.max_file_mb" in reason


def test_rows_over_the_limit_and_a_decoding_deadline_fail_the_file(dirs: DataDirs) -> None:
    contract = parse_contract({
        "partner": "kakao", "feed": "talkchannel", "file": {"pattern": r"t_(?P<date>\d{8})\.jsonl",
                                                            "date_format": "%Y%m%d"},
        "format": {"type": "jsonl"}, "kind": "events", "limits": {"max_rows": 10},
        "columns": {"event_id": {}}})
    put(dirs, "kakao", "talkchannel", "t_20230501.jsonl", jsonl_bytes([{"event_id": str(i)} for i in range(11)]))
    reason = _failed_reason(extract(dirs, [DAY], today=TODAY, contracts=(contract,)), "t_20230501.jsonl")
    assert "11 rows" in reason and "limits.max_rows" in reason
    from panro.extract.errors import BadFile
    from panro.extract.limits import check_deadline, deadline

    with deadline(0.01), pytest.raises(BadFile, match="deadline_seconds"):
        time.sleep(0.02)
        check_deadline("line 1024")


def test_limits_are_checked_in_the_contract() -> None:
    base = {"partner": "p", "feed": "f", "file": {"pattern": r"f_(?P<date>\d{8})\.csv", "date_format": "%Y%m%d"},
            "format": {"type": "csv"}, "kind": "events", "columns": {"a": {}}}
    with pytest.raises(ContractError, match="unknown settings"):
        parse_contract({**base, "limits": {"max_bytes": 1}})
    with pytest.raises(ContractError, match="positive number"):
        parse_contract({**base, "limits": {"max_rows": 0}})
    assert parse_contract(base).limits.max_columns == 500


# -- 5. nothing silently skipped ---------------------------------------------------------------------

def _not_extracted(report) -> dict[str, str]:
    return {f.file_name: f.reason or "" for f in report.unmatched}


def test_every_landing_entry_not_extracted_is_reported_with_why(dirs: DataDirs, tmp_path: Path) -> None:
    landing = Path(dirs.landing_url)
    deliver(dirs, "kt/kdeal_orders", DAY)
    orders = landing / "kt" / "kdeal_orders"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "KDEAL_ORDER_20230430.csv").write_bytes((orders / "KDEAL_ORDER_20230501.csv").read_bytes())
    (orders / "KDEAL_ORDER_20230430.csv").symlink_to(outside / "KDEAL_ORDER_20230430.csv")   # out of the landing
    (landing / "kt" / "kdeal_stores").symlink_to(outside)                                    # a whole feed
    (orders / "KDEAL_ORDER_20230429.csv").mkdir()                                             # a folder
    os.mkfifo(orders / "KDEAL_ORDER_20230428.csv")                                            # never opened
    (orders / "README.txt").write_text("hello")                                               # no contract fits
    (landing / "kt" / "kdeal_orders" / "dangling.csv").symlink_to(tmp_path / "nothing")
    t0 = time.perf_counter()
    report = extract(dirs, [DAY], today=TODAY)
    assert time.perf_counter() - t0 < 60                    # the FIFO was not opened (it would block)
    skipped = _not_extracted(report)
    assert "leading out of the landing zone" in skipped["KDEAL_ORDER_20230430.csv"]
    assert "leading out of the landing zone" in skipped["kdeal_stores"]
    assert "a folder where a delivered file was expected" in skipped["KDEAL_ORDER_20230429.csv"]
    assert "a FIFO" in skipped["KDEAL_ORDER_20230428.csv"]
    assert "fits no file pattern" in skipped["README.txt"]
    assert "a symbolic link to nothing" in skipped["dangling.csv"]
    assert [f.file_name for f in report.extracted] == ["KDEAL_ORDER_20230501.csv"]
    assert "unmatched" in report.summary()


def test_a_symlink_that_stays_inside_the_landing_is_followed(dirs: DataDirs) -> None:
    landing = Path(dirs.landing_url)
    deliver(dirs, "kt/kdeal_orders", DAY)
    shared = landing / "kt" / "shared"
    shared.mkdir()
    name = SAMPLES["kakao/talkchannel"].file_name(DAY)
    (shared / name).write_bytes(SAMPLES["kakao/talkchannel"].bytes())
    (landing / "kakao").mkdir()
    (landing / "kakao" / "talkchannel").symlink_to(shared)                 # a feed folder linked within
    os.symlink("KDEAL_ORDER_20230501.csv", landing / "kt" / "kdeal_orders" / "KDEAL_ORDER_20230430.csv")
    report = extract(dirs, [DAY, DAY - dt.timedelta(days=1)], today=TODAY)
    assert sorted(f.file_name for f in report.extracted) == ["KDEAL_ORDER_20230430.csv", "KDEAL_ORDER_20230501.csv",
                                                            name]
    assert {f.file_name for f in report.unmatched} == {name}   # kt/shared has no contract: said so, once


def test_an_unreadable_file_fails_that_file_not_the_night(dirs: DataDirs) -> None:
    """The file is found, then cannot be read (gone, or no permission for the pipeline's user)."""
    from panro.extract.planning import plan
    from panro.extract.segments import extract_segment
    from panro.lake.ledger import Ledger

    unreadable = deliver(dirs, "kt/kdeal_orders", DAY)
    deliver(dirs, "kt/kdeal_orders", DAY - dt.timedelta(days=1))
    with Ledger(dirs.ledger_path) as ledger:
        work = plan(dirs, [DAY], ledger, today=TODAY)
    path = Path(dirs.landing_url) / "kt" / "kdeal_orders" / unreadable
    if os.geteuid() == 0:
        path.unlink()                          # root reads any file: take it away between listing and reading
    else:
        path.chmod(0)
    (unit,) = work.units
    done = [d for s in unit.segments for d in extract_segment(work.context, s)]
    outcome = {d.result.file_name: (d.result.outcome, d.result.reason or "") for d in done}
    assert outcome[unreadable][0] == "unmatched" and "cannot be read" in outcome[unreadable][1]
    assert outcome["KDEAL_ORDER_20230430.csv"][0] == "extracted"


# -- 6. one lock for every writer; ids exact or 12+ characters ----------------------------------------

def _held(dirs: DataDirs):
    from panro.gate import audit
    from panro.lake.ledger import Ledger
    from tests.support.raw import clean_rows, write_batch

    rows = clean_rows("kt/kdeal_stores", 100, DAY)
    for r in rows[:10]:
        r["시도"] = "동해특별시"
    with Ledger(dirs.ledger_path) as ledger:
        batch = write_batch(dirs, ledger, "kt/kdeal_stores", rows, day=DAY)
        audit(dirs, ledger, run_id="held", today=TODAY)
    return batch


def test_a_short_or_empty_id_selects_nothing(dirs: DataDirs, capsys) -> None:
    from panro import quarantine as q

    batch = _held(dirs)
    for short in ("", "  ", batch.checksum[:4], "KDEA", batch.checksum[:11]):
        with pytest.raises(q.QuarantineError):
            q.resolve(dirs, short)
        assert q.cli_release(dirs, short, accept=True, reason="r", who="kim") == 1
    assert "not taken as a prefix" in capsys.readouterr().err
    assert q.list_quarantined(dirs)[0].status == "held"            # nothing was released
    assert q.resolve(dirs, batch.checksum[:12]).batch_id == batch.batch_id


def test_quarantine_commands_during_a_run_refuse_in_one_sentence_or_wait(dirs: DataDirs, capsys,
                                                                          monkeypatch) -> None:
    import threading

    from panro import quarantine as q
    from panro.runtime.runlock import run_lock

    batch = _held(dirs)
    with run_lock(dirs):                                  # a run holds the lock (and its ledger)
        assert q.cli_list(dirs) == 1
        assert q.cli_show(dirs, batch.checksum[:12]) == 1
        assert q.cli_release(dirs, batch.checksum[:12], accept=True, reason="r", who="kim") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "duckdb" not in err.lower()
    assert err.count("another panro run") == 3 and "`quarantine list` waits until it ends" in err
    assert q.list_quarantined(dirs)[0].status == "held"

    monkeypatch.setenv("PANRO_LOCK_WAIT", "30")           # configured to wait: it does, then goes on
    held = threading.Event()

    def run_for_a_second() -> None:
        with run_lock(dirs, wait=0):
            held.set()
            time.sleep(1)

    runner = threading.Thread(target=run_for_a_second)
    runner.start()
    held.wait()
    t0 = time.perf_counter()
    assert q.cli_list(dirs) == 0
    assert time.perf_counter() - t0 >= 0.5
    runner.join()
    assert batch.checksum[:12] in capsys.readouterr().out
