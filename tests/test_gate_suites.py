"""The committed GX suites: generated deterministically, up to date, loadable, and covering the contracts."""

from __future__ import annotations

import json

import pytest

from panro.domain import regions
from panro.domain.contracts import FeedContract, load_contracts
from panro.domain.personal import PSEUDONYM_REGEX
from panro.gate import suites
from panro.lake.batches import LINEAGE

CONTRACTS = load_contracts()


def test_committed_suites_are_up_to_date() -> None:
    assert suites.stale_suites() == [], "run: .venv/bin/python -m panro.gate.suites"


def test_generation_is_deterministic() -> None:
    for contract in CONTRACTS:
        assert suites.render(suites.build_suite(contract)) == suites.render(suites.build_suite(contract))


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c.name for c in CONTRACTS])
def test_suite_loads_in_great_expectations(contract: FeedContract) -> None:
    import great_expectations as gx

    import panro.gate.expectations  # noqa: F401  (registers the panro expectation types)

    doc = suites.load_suite(contract)
    suite = gx.ExpectationSuite(**doc)
    assert len(suite.expectations) == len(doc["expectations"])
    for item in doc["expectations"]:
        assert item["severity"] in ("critical", "warning", "info")
        assert {"scope", "unit", "rule", "reason"} <= set(item["meta"])
        assert item["meta"]["scope"] in ("rows", "batches") and item["meta"]["unit"] in ("row", "batch")


def _of(doc: dict, type_: str, **kwargs: object) -> list[dict]:
    return [e for e in doc["expectations"] if e["type"] == type_
            and all(e["kwargs"].get(k) == v for k, v in kwargs.items())]


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c.name for c in CONTRACTS])
def test_suite_covers_the_contract(contract: FeedContract) -> None:
    doc = suites.load_suite(contract)
    # every column of the contract present holds the batch; a column it does not know only warns (drift)
    schema = {(e["meta"]["rule"], e["severity"], e["kwargs"]["exact_match"])
              for e in _of(doc, "expect_table_columns_to_match_set",
                           column_set=contract.column_names + list(LINEAGE.names))}
    assert schema == {("schema", "critical", False), ("schema_drift", "warning", True)}
    for c in contract.columns:
        if c.required:
            assert _of(doc, "expect_column_values_to_not_be_null", column=c.name), c.name
        if c.brn:
            (e,) = _of(doc, "expect_column_values_to_be_valid_brn", column=c.name)
            assert e["severity"] == ("critical" if c.required else "warning")
        if c.region:
            (e,) = _of(doc, "expect_column_values_to_be_in_set", column=c.name)
            assert set(e["kwargs"]["value_set"]) == set(regions.variants())
        if c.enum:
            assert _of(doc, "expect_column_values_to_be_in_set", column=c.name, value_set=list(c.enum))
        if c.money or c.count:
            kind = "expect_column_values_to_not_match_regex" if c.type == "string" else \
                "expect_column_values_to_be_between"
            assert [e for e in _of(doc, kind, column=c.name) if e["meta"]["rule"] == "non_negative"], c.name
        if c.datetime:
            assert _of(doc, "expect_column_values_to_match_datetime_format", column=c.name, datetime_format=c.datetime)
        if c.datetime or c.type == "date":
            assert _of(doc, "expect_column_values_to_be_within_days_of_business_date", column_A=c.name), c.name
        if c.pii:   # only its pseudonym's form is read: `x:` marks a value that was no phone number
            assert not [e for e in doc["expectations"] if c.name in json.dumps(e["kwargs"], ensure_ascii=False)
                        and e["meta"]["rule"] not in ("schema", "schema_drift", "phone")], \
                "no rule reads a personal-data column"
        if c.phone:
            (e,) = _of(doc, "expect_column_values_to_match_regex", column=c.name)
            assert e["meta"]["rule"] == "phone" and e["kwargs"]["regex"] == PSEUDONYM_REGEX
    if contract.key:
        assert _of(doc, "expect_compound_columns_to_be_unique", column_list=["_batch_id", *contract.key])
    batch_rules = {e["meta"]["rule"] for e in doc["expectations"] if e["meta"]["scope"] == "batches"}
    assert batch_rules == {"future", "empty", "volume"}
    (volume,) = [e for e in doc["expectations"] if e["meta"]["rule"] == "volume"]
    assert volume["severity"] == "warning"
    (empty,) = [e for e in doc["expectations"] if e["meta"]["rule"] == "empty"]
    assert empty["severity"] == ("critical" if contract.kind == "snapshot" else "warning")
    assert doc["meta"]["row_tolerance"] == contract.row_tolerance


def test_feed_specific_rules_are_in_the_suites() -> None:
    by_name = {c.name: suites.load_suite(c) for c in CONTRACTS}
    edu = by_name["baemin/edu_enrollments"]
    assert _of(edu, "expect_column_pair_datetimes_a_to_be_on_or_after_b", column_A="completed_at",
               column_B="enrolled_at")
    assert _of(edu, "expect_column_values_to_be_null", column="satisfaction")
    assert _of(by_name["zigzag/coupons"], "expect_column_pair_datetimes_a_to_be_on_or_after_b", column_A="used_at",
               column_B="issued_at")
    assert _of(by_name["yogiyo/coupons"], "expect_column_values_to_not_be_null", column="order_id")
    (window,) = _of(by_name["kt/kdeal_stores"], "expect_column_values_to_be_within_days_of_business_date")
    assert (window["kwargs"]["min_days_before"], window["kwargs"]["max_days_before"]) == (0, None)
    windows = _of(by_name["kt/kdeal_orders"], "expect_column_values_to_be_within_days_of_business_date")
    assert sorted(w["kwargs"]["max_days_before"] for w in windows) == [3, 400]   # paid lines vs cancellations


def test_a_dated_column_without_a_window_is_refused(tmp_path) -> None:
    contract = next(c for c in CONTRACTS if c.name == "kt/kdeal_orders")
    (tmp_path / "kt").mkdir()
    (tmp_path / "kt" / "kdeal_orders.rules.yaml").write_text("windows: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no window for dated column"):
        suites.build_suite(contract, tmp_path)
