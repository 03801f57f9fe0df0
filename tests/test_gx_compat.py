"""The patches panro makes to Great Expectations stay true to the code they replace
(`panro/gate/gx_compat.py`): when an upgrade changes that code, these tests fail and name it."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.execution_engine.pandas_execution_engine as gx_pandas
import pandas as pd
import pytest
from great_expectations.expectations.expectation import Expectation

from panro.gate import gx_compat
from panro.runtime import patches


def test_every_patched_upstream_function_is_the_code_the_patch_was_written_against():
    if not gx.__version__.startswith(gx_compat.PATCHED_VERSION):
        pytest.skip(f"GX {gx.__version__} runs unpatched")
    changed = gx_compat.changed_upstream()
    assert not changed, (f"GX {gx.__version__} changed {sorted(changed)}: re-read the upstream code, re-check the "
                         f"patch in panro/gate/gx_compat.py, then record the new fingerprints {changed}")


def test_a_fingerprint_notices_a_one_character_change():
    def before(x):
        return x + 1

    def after(x):
        return x + 2

    assert patches.fingerprint(before) != patches.fingerprint(after)


def test_the_patches_are_in_place_once_the_gate_has_imported_gx():
    import panro.gate.gx  # noqa: F401  (applies them)

    assert gx_pandas.HASH_THRESHOLD == 0
    assert Expectation._get_domain_kwargs is gx_compat._get_domain_kwargs
    assert gx_pandas.PandasExecutionEngine._apply_row_condition_filter is gx_compat._apply_row_condition_once


def _expectations() -> list[Expectation]:
    return [
        gx.expectations.ExpectColumnValuesToBeBetween(column="amount", min_value=0, max_value=100, mostly=0.9,
                                                      row_condition='kind=="sale"', condition_parser="pandas"),
        gx.expectations.ExpectColumnValuesToMatchRegex(column="brn", regex=r"^\d{10}$"),
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(column_A="amount", column_B="refund",
                                                                or_equal=True),
    ]


def test_kwargs_read_once_equal_the_upstream_kwargs():
    for expectation in _expectations():
        assert gx_compat._get_domain_kwargs(expectation) == \
            gx_compat._ORIGINALS["Expectation._get_domain_kwargs"](expectation)
        assert gx_compat._get_success_kwargs(expectation) == \
            gx_compat._ORIGINALS["Expectation._get_success_kwargs"](expectation)


def test_a_validation_finds_the_same_rows_patched_and_unpatched(monkeypatch):
    frame = pd.DataFrame({"kind": ["sale", "sale", "refund", "sale"] * 5, "amount": [5, 500, 900, 7] * 5,
                          "refund": [0, 0, 1, 9] * 5, "brn": ["1234567890", "12-34", "1234567890", "x"] * 5})

    def validate() -> list[tuple[str, int]]:
        context = gx.get_context(mode="ephemeral")
        batch = context.data_sources.add_pandas("p").add_dataframe_asset("a") \
            .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
        results = []
        for expectation in _expectations():
            r = batch.validate(expectation, result_format="COMPLETE")
            results.append((type(expectation).__name__, r.success, r.result.get("unexpected_index_list")))
            gx_compat.forget_filtered()
        return results

    import panro.gate.gx  # noqa: F401
    patched = validate()
    monkeypatch.setattr(gx_pandas.PandasExecutionEngine, "_apply_row_condition_filter",
                        gx_compat._ORIGINALS["PandasExecutionEngine._apply_row_condition_filter"])
    monkeypatch.setattr(Expectation, "_get_domain_kwargs", gx_compat._ORIGINALS["Expectation._get_domain_kwargs"])
    monkeypatch.setattr(Expectation, "_get_success_kwargs", gx_compat._ORIGINALS["Expectation._get_success_kwargs"])
    monkeypatch.setattr(gx_pandas, "HASH_THRESHOLD", 1e9)
    assert validate() == patched
    assert [r[1] for r in patched] == [False, False, False]
