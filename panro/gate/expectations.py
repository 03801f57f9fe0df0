"""The panro expectation types: GX 1.x custom expectations for what the built-ins cannot say.

Importing this module registers them with Great Expectations, so a suite JSON that names
`expect_column_values_to_be_valid_brn` (and the others below) loads like any built-in one.
Every metric is vectorised (pandas with Arrow-backed strings, NumPy): no per-row Python.

- `expect_column_values_to_be_valid_brn`: a 사업자등록번호, bare or dashed, whose check digit matches
- `expect_column_values_to_match_datetime_format`: text parses in the contract's `datetime` format
  (`strptime` format, `iso_offset`, `epoch_ms`)
- `expect_column_values_to_be_within_days_of_business_date`: the value's KST date lies within
  [D − max_days_before, D − min_days_before] of the row's business date D (`_business_date`)
- `expect_column_pair_datetimes_a_to_be_on_or_after_b`: e.g. `completed_at` ≥ `enrolled_at`, both parsed
- `expect_column_text_values_to_be_between`: decimal text (e.g. a 1.0-5.0 rating) within bounds
- `expect_column_values_to_be_json_matching_schema`: JSON text valid against a JSON Schema — GX's own
  `expect_column_values_to_match_json_schema` re-checks the schema for every row (6 ms a row); this one
  compiles it once and validates each distinct value once
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

from panro.domain.kst import ZONE

_BRN_WEIGHTS = np.array([1, 3, 7, 1, 3, 7, 1, 3, 5], dtype=np.int64)
_BRN_SHAPE = r"^\d{3}-?\d{2}-?\d{5}$"
_ISO_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"
# epoch milliseconds between 2000-01-01 and 2100-01-01 (anything else is a unit or type error)
_EPOCH_MS_RANGE = (946_684_800_000, 4_102_444_800_000)


# -- vectorised helpers (shared with the gate's SQL-free parts and the tests) ------------------------

def _text(values: pd.Series) -> pd.Series:
    return values if pd.api.types.is_string_dtype(values) else values.astype("str")


def _arrow_text(values: pd.Series) -> pa.Array:
    arr = pa.array(values.array if pd.api.types.is_string_dtype(values) else values.astype("str").array,
                   type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def valid_brn(values: pd.Series) -> np.ndarray:
    """True where a value is a well-formed BRN (bare or dashed) whose check digit matches."""
    text = pc.utf8_trim_whitespace(_arrow_text(values))
    ok = pc.fill_null(pc.match_substring_regex(text, _BRN_SHAPE), False).to_numpy(zero_copy_only=False)
    result = np.zeros(len(text), dtype=bool)
    if ok.any():
        # every remaining value is exactly ten ASCII digits: read them straight from the Arrow buffer
        digits = pc.replace_substring(text.filter(pa.array(ok)), "-", "").combine_chunks() \
            if isinstance(text, pa.ChunkedArray) else pc.replace_substring(text.filter(pa.array(ok)), "-", "")
        digits = pa.concat_arrays([digits]) if digits.offset else digits
        offsets = np.frombuffer(digits.buffers()[1], dtype=np.int64)[: len(digits) + 1]
        data = np.frombuffer(digits.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
        d = data.reshape(-1, 10).astype(np.int64) - 48
        total = d[:, :9] @ _BRN_WEIGHTS + (5 * d[:, 8]) // 10
        result[ok] = (10 - total % 10) % 10 == d[:, 9]
    return result


_parsed = threading.local()   # per thread: feeds are validated in parallel, each in one thread
_PARSED_KEEP = 6


def _identity(values: pd.Series) -> tuple[Any, ...] | None:
    """What identifies a column's data across GX's metric calls (GX hands each metric `df[column]`)."""
    data = getattr(values.array, "_pa_array", None)
    if data is not None:
        return ("arrow", id(data), len(values)), data
    arr = values.to_numpy()
    if arr.dtype == object:
        return None
    return ("numpy", arr.__array_interface__["data"][0], len(arr), str(arr.dtype)), arr


def parse_instant(values: pd.Series, datetime_format: str) -> pd.Series:
    """Values parsed per the contract's `datetime` setting, as naive KST wall time (NaT when unparseable).

    `strptime` formats carry KST wall time already (feeds.md: "KST, no offset"); `iso_offset`
    values are converted to KST; `epoch_ms` is UTC milliseconds, converted to KST; `date` is a typed
    date. The format check and the window of the same column share one parse (a small per-thread cache
    keyed on the column's data, which holds a reference to it so the key cannot be reused).
    """
    ident = _identity(values)
    cache = getattr(_parsed, "cache", None)
    if cache is None:
        cache = _parsed.cache = {}
    if ident is not None:
        key = (ident[0], datetime_format)
        hit = cache.get(key)
        if hit is not None and hit[0] is ident[1]:
            return pd.Series(hit[1], index=values.index)
    parsed = _parse_instant(values, datetime_format)
    if ident is not None:
        if len(cache) >= _PARSED_KEEP:
            cache.pop(next(iter(cache)))
        cache[key] = (ident[1], parsed.to_numpy())
    return parsed


def forget_parsed() -> None:
    """Drop the parse cache of this thread (the gate calls it after each validation)."""
    getattr(_parsed, "cache", {}).clear()


def _parse_instant(values: pd.Series, datetime_format: str) -> pd.Series:
    if datetime_format == "epoch_ms":
        num = pd.to_numeric(values, errors="coerce")
        num = num.where((num >= _EPOCH_MS_RANGE[0]) & (num < _EPOCH_MS_RANGE[1]))
        ts = pd.to_datetime(num, unit="ms", utc=True, errors="coerce")
        return ts.dt.tz_convert(ZONE).dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_convert(ZONE).dt.tz_localize(None) if isinstance(values.dtype, pd.DatetimeTZDtype) \
            else values
    if datetime_format == "date" or not pd.api.types.is_string_dtype(values):
        return pd.to_datetime(values, errors="coerce")     # typed dates (Python date objects)
    text = _text(values)
    if datetime_format == "iso_offset":
        shaped = text.str.fullmatch(_ISO_OFFSET).fillna(False).astype(bool)
        ts = pd.to_datetime(text.where(shaped), format="ISO8601", utc=True, errors="coerce")
        return ts.dt.tz_convert(ZONE).dt.tz_localize(None)
    return pd.to_datetime(text, format=datetime_format, exact=True, errors="coerce")


def parse_number(values: pd.Series) -> pd.Series:
    """Decimal text (thousands separators allowed) as float; NaN when it is not a number."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(_text(values).str.replace(",", "", regex=False), errors="coerce")


@lru_cache(maxsize=32)
def _json_validator(schema_text: str) -> Any:
    import jsonschema

    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def json_matches(values: pd.Series, schema: dict[str, Any]) -> np.ndarray:
    """True where a value is JSON text valid against `schema` (each distinct value checked once)."""
    validator = _json_validator(json.dumps(schema, sort_keys=True))

    def ok(text: Any) -> bool:
        try:
            return validator.is_valid(json.loads(text))
        except (TypeError, ValueError):
            return False

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    verdict = np.array([ok(u) for u in uniques] + [True], dtype=bool)   # the sentinel (-1): null passes
    return verdict[codes]


# -- metrics -----------------------------------------------------------------------------------------

class ColumnValuesValidBrn(ColumnMapMetricProvider):
    condition_metric_name = "column_values.panro_valid_brn"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return valid_brn(column)


class ColumnValuesMatchDatetimeFormat(ColumnMapMetricProvider):
    condition_metric_name = "column_values.panro_match_datetime_format"
    condition_value_keys = ("datetime_format",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, datetime_format, **kwargs):
        return parse_instant(column, datetime_format).notna()


class ColumnValuesJsonMatchingSchema(ColumnMapMetricProvider):
    condition_metric_name = "column_values.panro_json_matching_schema"
    condition_value_keys = ("json_schema",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, json_schema, **kwargs):
        return pd.Series(json_matches(column, json_schema), index=column.index)


def _not_outside(values: pd.Series, low: float | None, high: float | None) -> pd.Series:
    """True where a value is not below `low` nor above `high` (an open bound, or NaN, passes)."""
    ok = pd.Series(True, index=values.index)
    if low is not None:
        ok &= ~(values < low)
    if high is not None:
        ok &= ~(values > high)
    return ok


class ColumnTextValuesBetween(ColumnMapMetricProvider):
    condition_metric_name = "column_values.panro_text_between"
    condition_value_keys = ("min_value", "max_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, min_value=None, max_value=None, **kwargs):
        # unparseable text passes here: the type expectation reports it
        return _not_outside(parse_number(column), min_value, max_value)


class ColumnPairWithinDaysOfBusinessDate(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.panro_within_days_of_business_date"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ("datetime_format", "min_days_before", "max_days_before")

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, datetime_format, min_days_before=None, max_days_before=None,
                **kwargs):
        day = parse_instant(column_A, datetime_format).dt.normalize()
        business = pd.to_datetime(column_B, errors="coerce")
        lag = (business - day).dt.days  # days the value lies before the business date
        # unparseable values pass here: the type expectation reports them
        return _not_outside(lag, min_days_before, max_days_before)


class ColumnPairDatetimesAOnOrAfterB(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.panro_datetime_a_on_or_after_b"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ("datetime_format",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, datetime_format, **kwargs):
        a = parse_instant(column_A, datetime_format)
        b = parse_instant(column_B, datetime_format)
        return ~(a < b)  # NaT compares False: unparseable values are the type expectation's


# -- expectations ---

def _says(template: str) -> Any:
    """A Data Docs sentence for a panro expectation ($name = the kwarg)."""

    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        params = {k: (v if not isinstance(v, dict | list) else json.dumps(v, ensure_ascii=False))
                  for k, v in (configuration.kwargs if configuration else {}).items()}
        return [RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={"template": template, "params": params,
                             "styling": (runtime_configuration or {}).get("styling")})]

    return classmethod(_prescriptive_renderer)

class ExpectColumnValuesToBeValidBrn(ColumnMapExpectation):
    """Expect column values to be 사업자등록번호 (bare or dashed) whose check digit matches."""

    map_metric = "column_values.panro_valid_brn"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["panro"]}
    _prescriptive_renderer = _says("$column values must be 사업자등록번호 (10 digits, bare or dashed) "
                                   "whose check digit matches.")


class ExpectColumnValuesToMatchDatetimeFormat(ColumnMapExpectation):
    """Expect text to parse in a `strptime` format, or as `iso_offset` / `epoch_ms`."""

    datetime_format: str
    map_metric = "column_values.panro_match_datetime_format"
    success_keys = ("datetime_format", "mostly")
    args_keys = ("column", "datetime_format")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["panro"]}
    _prescriptive_renderer = _says("$column values must parse as $datetime_format.")


class ExpectColumnTextValuesToBeBetween(ColumnMapExpectation):
    """Expect decimal text to lie within [min_value, max_value]."""

    min_value: float | None = None
    max_value: float | None = None
    map_metric = "column_values.panro_text_between"
    success_keys = ("min_value", "max_value", "mostly")
    args_keys = ("column", "min_value", "max_value")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["panro"]}
    _prescriptive_renderer = _says("$column values (decimal text) must lie between $min_value and $max_value.")


class ExpectColumnValuesToBeWithinDaysOfBusinessDate(ColumnPairMapExpectation):
    """Expect column_A's KST date to lie between max_days_before and min_days_before days before
    the business date in column_B (`_business_date`)."""

    datetime_format: str
    min_days_before: int | None = None
    max_days_before: int | None = None
    ignore_row_if: str = "either_value_is_missing"
    map_metric = "column_pair_values.panro_within_days_of_business_date"
    domain_keys = ("batch_id", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")
    success_keys = ("datetime_format", "min_days_before", "max_days_before", "mostly")
    args_keys = ("column_A", "column_B", "datetime_format", "min_days_before", "max_days_before")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["panro"]}
    _prescriptive_renderer = _says("$column_A (KST date, as $datetime_format) must lie between $max_days_before "
                                   "and $min_days_before days before the file's business date ($column_B).")


class ExpectColumnPairDatetimesAToBeOnOrAfterB(ColumnPairMapExpectation):
    """Expect the instant in column_A to be on or after the instant in column_B (both in datetime_format)."""

    datetime_format: str
    ignore_row_if: str = "either_value_is_missing"
    map_metric = "column_pair_values.panro_datetime_a_on_or_after_b"
    domain_keys = ("batch_id", "column_A", "column_B", "row_condition", "condition_parser", "ignore_row_if")
    success_keys = ("datetime_format", "mostly")
    args_keys = ("column_A", "column_B", "datetime_format")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["panro"]}
    _prescriptive_renderer = _says("$column_A must be on or after $column_B (both $datetime_format).")


class ExpectColumnValuesToBeJsonMatchingSchema(ColumnMapExpectation):
    """Expect JSON text that validates against `json_schema` (compiled once, each distinct value once)."""

    json_schema: dict
    map_metric = "column_values.panro_json_matching_schema"
    success_keys = ("json_schema", "mostly")
    args_keys = ("column", "json_schema")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["panro"]}
    _prescriptive_renderer = _says("$column values must be JSON matching the schema $json_schema.")
