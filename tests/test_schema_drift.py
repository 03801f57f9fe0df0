"""Schema drift (issue 27): partners change their exports without warning.

A file whose columns come in another order, or with a column the contract does not know, is accepted:
the raw zone keeps the new column, the gate publishes the contract's columns and says which column
is new, and the marts are the same as from the file as the contract describes it. A missing or
renamed column is still held back (tests/test_extract_bad_files.py, tests/test_gate_catalogue.py).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from panro.domain.contracts import contract_for
from panro.extract import extract
from panro.gate import audit
from panro.gate.state import published_file
from panro.lake.batches import read_batch
from panro.lake.ledger import Ledger
from panro.report.outcome import schema_drift
from panro.settings import DataDirs
from panro.transform.build import run_dbt
from tests.support.landing import SAMPLES, csv_bytes, deliver, jsonl_bytes, parquet_bytes, xlsx_bytes

DAY = dt.date(2023, 5, 1)
TODAY = dt.date(2023, 5, 2)
NOTE = "봄맞이 기획"   # the value of every file's new column


def _csv_drifted(feed: str) -> bytes:
    """The feed's sample rows with the columns reversed and a new column `promo_note` in the middle."""
    contract = contract_for(feed)
    names = list(reversed(contract.column_names))
    names.insert(2, "promo_note")
    rows = [[NOTE if n == "promo_note" else r[n] for n in names] for r in SAMPLES[feed].rows]
    return csv_bytes(names, rows, encoding="cp949" if contract.encoding == "cp949" else "utf-8",
                     delimiter=contract.delimiter, bom=contract.encoding == "utf-8-sig")


def _jsonl_drifted(feed: str) -> bytes:
    return jsonl_bytes([dict(reversed(list({**r, "promo_note": NOTE}.items()))) for r in SAMPLES[feed].rows])


def _yogiyo_support_drifted() -> bytes:
    """A new field in every record, and one nested in `merchant`: their dotted paths are the new columns."""
    doc = json.loads(SAMPLES["yogiyo/support"].bytes())
    for record in doc["records"]:
        record["promo_note"] = NOTE
        record["merchant"]["tier"] = {"level": 2}
    return json.dumps(doc, ensure_ascii=False).encode()


def _xlsx_drifted() -> bytes:
    names = list(reversed(contract_for("zigzag/support").column_names))
    names.insert(2, "promo_note")
    rows = [[NOTE if n == "promo_note" else r[n] for n in names] for r in SAMPLES["zigzag/support"].rows]
    return xlsx_bytes("지원내역", names, rows)


def _parquet_drifted() -> bytes:
    rows = SAMPLES["zigzag/sales"].rows
    table = pa.Table.from_pylist(rows).select(list(reversed(contract_for("zigzag/sales").column_names)))
    return parquet_bytes(table.add_column(1, "promo_note", pa.array([NOTE] * len(rows))))


DRIFTED: dict[str, tuple[bytes, list[str]]] = {   # feed → (the drifted file, its new columns)
    **{feed: (_csv_drifted(feed), ["promo_note"]) for feed in SAMPLES if contract_for(feed).format == "csv"},
    "kakao/talkchannel": (_jsonl_drifted("kakao/talkchannel"), ["promo_note"]),
    "yogiyo/coupons": (_jsonl_drifted("yogiyo/coupons"), ["promo_note"]),
    "yogiyo/support": (_yogiyo_support_drifted(), ["merchant.tier.level", "promo_note"]),
    "zigzag/support": (_xlsx_drifted(), ["promo_note"]),
    "zigzag/sales": (_parquet_drifted(), ["promo_note"]),
}


def test_every_feed_has_a_drifted_file() -> None:
    assert set(DRIFTED) == set(SAMPLES)


def _contract_rows(table: pa.Table, feed: str) -> list[dict[str, Any]]:
    names = [*contract_for(feed).column_names, "_source_file", "_business_date", "_row_number"]
    return table.select(names).to_pylist()


@pytest.mark.parametrize("feed", sorted(DRIFTED))
def test_a_new_column_and_another_order_are_accepted_and_the_new_column_kept_raw(dirs: DataDirs, tmp_path: Path,
                                                                                feed: str) -> None:
    clean = DataDirs.from_env(tmp_path / "clean")
    deliver(clean, feed, DAY)
    data, added = DRIFTED[feed]
    deliver(dirs, feed, DAY, data=data)

    [want] = extract(clean, [DAY], today=TODAY).extracted
    report = extract(dirs, [DAY], today=TODAY)
    assert not report.failed
    [got] = report.extracted

    expected = read_batch(want.raw_path, want.batch_id)
    raw = read_batch(got.raw_path, got.batch_id)
    assert _contract_rows(raw, feed) == _contract_rows(expected, feed)    # the contract's columns as always
    contract = contract_for(feed)
    assert raw.column_names == contract.column_names + sorted(added) + expected.column_names[len(contract.columns):]
    kept = raw.column(added[-1]).to_pylist()
    assert kept == [NOTE] * raw.num_rows
    if feed == "yogiyo/support":
        assert raw.column("merchant.tier.level").to_pylist() == ["2"] * raw.num_rows


def test_a_drifted_file_gets_a_raw_file_of_its_own_beside_its_feeds_segment(dirs: DataDirs) -> None:
    """The extractor writes a feed's files of one run together; one with a new column has another schema."""
    deliver(dirs, "yogiyo/orders", DAY)
    deliver(dirs, "yogiyo/orders", DAY + dt.timedelta(days=1), data=DRIFTED["yogiyo/orders"][0]
            .replace(b"2023-05-01", b"2023-05-02"))
    report = extract(dirs, [DAY, DAY + dt.timedelta(days=1)], today=TODAY + dt.timedelta(days=1))
    assert len(report.extracted) == 2
    first, second = report.extracted
    assert first.raw_path != second.raw_path
    assert "promo_note" not in read_batch(first.raw_path, first.batch_id).column_names
    assert "promo_note" in read_batch(second.raw_path, second.batch_id).column_names


# -- through the gate and dbt: published without the new column, the marts unchanged ---------------

def _pipeline(dirs: DataDirs, drifted: bool) -> Any:
    for feed in SAMPLES:   # each on a day its sample rows fit (요기요 support's are of 05-02)
        deliver(dirs, feed, TODAY if feed == "yogiyo/support" else DAY, data=DRIFTED[feed][0] if drifted else None)
    with Ledger(dirs.ledger_path) as ledger:
        extract(dirs, [DAY, TODAY], today=TODAY, ledger=ledger)
        gate = audit(dirs, ledger, run_id="drift", today=TODAY)
    built = run_dbt(dirs, "build", exclude="resource_type:unit_test")
    assert built.success, built.summary()
    return gate


def _marts(dirs: DataDirs) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(dirs.work_warehouse), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()]
        # when a file was delivered is the landing file's time: the two landings were written apart
        columns = {"mart_feed_status": "* exclude (last_delivered_at)"}
        return {n: sorted(map(tuple, con.execute(f"select {columns.get(n, '*')} from marts.{n}").fetchall()), key=repr)
                for n in names}
    finally:
        con.close()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[DataDirs, Any]]:
    out = {}
    for name, drifted in (("clean", False), ("drifted", True)):
        dirs = DataDirs.from_env(tmp_path_factory.mktemp(name) / "data")
        out[name] = (dirs, _pipeline(dirs, drifted))
    return out


def test_the_gate_publishes_drifted_files_and_says_which_column_is_new(both) -> None:
    _, gate = both["drifted"]
    assert gate.counts()["quarantined"] == 0 and len(gate.batches) == len(SAMPLES)
    for b in gate.batches:
        added = DRIFTED[f"{b.partner}/{b.feed}"][1]
        assert b.outcome == "published", b.reasons
        assert any(f"new column(s) {sorted(added)}" in w and b.file_name in w for w in b.warnings), b.warnings
    assert "zigzag/sales zigzag_sales_20230501.parquet: new column(s) ['promo_note'] (kept in the raw zone" \
        in gate.summary()
    drift = schema_drift(gate.batches)
    assert {(d["partner"], d["feed"], d["file_name"]) for d in drift} == {
        (b.partner, b.feed, b.file_name) for b in gate.batches}
    assert all("promo_note" in d["detail"] for d in drift)
    assert schema_drift(both["clean"][1].batches) == []


def test_a_drifted_file_is_published_in_the_contracts_columns(both) -> None:
    dirs, gate = both["drifted"]
    with Ledger(dirs.ledger_path) as ledger:
        for b in gate.batches:
            batch = ledger.get(b.batch_id)
            contract = contract_for(batch.feed_name)
            published = read_batch(published_file(dirs, contract, batch), batch.batch_id)
            assert "promo_note" not in published.column_names
            assert published.column_names[:len(contract.columns)] == contract.column_names
            assert "promo_note" in read_batch(batch.raw_path, batch.batch_id).column_names


def test_the_marts_are_the_same_as_from_the_files_the_contract_describes(both) -> None:
    clean, drifted = _marts(both["clean"][0]), _marts(both["drifted"][0])
    assert clean.keys() == drifted.keys() and clean["fct_support_events"]
    assert drifted == clean
