"""Every patch panro makes to Great Expectations, in one place (docs/decisions/0023-task-runners.md).

GX 1.24's pandas engine does work per validation that the gate never reads. Four patches take it out;
each replaces one upstream function or setting whose source is fingerprinted below, so that
`tests/test_gx_compat.py` fails the day the upstream code they stand in for changes (re-read it, re-check
the patch, then update the fingerprint). Any other GX version runs unpatched, and so does this one with
`PANRO_GX_PATCHES=0` (what `bench/bench_gate.py --no-gx-patches` measures them against: the gate's
checks over a 2023 backfill took 28–42 s patched, 53 s unpatched; decision 0023).

- `HASH_THRESHOLD`: GX fingerprints every in-memory frame below 1 GB with an md5 over pandas' row hashes
  (0.6 s per million rows) for a batch marker nobody reads; the gate validates frames it built itself.
- `_apply_row_condition_filter`: an expectation's row condition (`df.query`) is applied again for each
  of the 5-6 metrics GX computes, each time a full copy of the frame; within one validation the same
  frame and condition give the same rows, so the first result is kept (per thread).
- `Expectation._get_domain_kwargs` / `_get_success_kwargs`: rebuild the pydantic configuration once per
  key, some 80 times per expectation and validation; the same code with the configuration read once.
- `AbstractDataContext._save_project_config` on the gate's ephemeral contexts: serialises the whole
  configuration to YAML in memory three times per data source added, read by nobody.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import great_expectations as gx
import great_expectations.execution_engine.pandas_execution_engine as gx_pandas
from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext
from great_expectations.expectations.expectation import Expectation

from panro.runtime import patches

PATCHED_VERSION = "1.24."

# upstream function → sha256 (first 16 hex digits) of its source, as read when the patch was written
FINGERPRINTS: dict[str, str] = {
    "PandasExecutionEngine.get_batch_data_and_markers": "211820aaa4b86075",
    "PandasExecutionEngine._apply_row_condition_filter": "917e05df63a2a6af",
    "Expectation._get_domain_kwargs": "91ad2a0670ff463a",
    "Expectation._get_success_kwargs": "fe376905e18bc525",
    "AbstractDataContext._save_project_config": "55657d61c97eeb3b",
}

_ORIGINALS: dict[str, Callable[..., Any]] = {
    # reads HASH_THRESHOLD to decide whether to fingerprint the frame
    "PandasExecutionEngine.get_batch_data_and_markers": gx_pandas.PandasExecutionEngine.get_batch_data_and_markers,
    "PandasExecutionEngine._apply_row_condition_filter":
        gx_pandas.PandasExecutionEngine._apply_row_condition_filter,
    "Expectation._get_domain_kwargs": Expectation._get_domain_kwargs,
    "Expectation._get_success_kwargs": Expectation._get_success_kwargs,
    "AbstractDataContext._save_project_config": AbstractDataContext._save_project_config,
}


def changed_upstream() -> dict[str, str]:
    """The patched upstream functions whose source is not the one the patches were written against."""
    return patches.changed(_ORIGINALS, FINGERPRINTS)


def enabled() -> bool:
    return gx.__version__.startswith(PATCHED_VERSION) and os.environ.get("PANRO_GX_PATCHES", "1") != "0"


_filtered = threading.local()


def _apply_row_condition_once(self: Any, data: Any, row_condition: Any, domain_kwargs: dict) -> Any:
    cache = _filtered.__dict__.setdefault("cache", {})
    key = (id(data), repr(row_condition), domain_kwargs.get("condition_parser"))
    hit = cache.get(key)
    if hit is not None and hit[0] is data:
        return hit[1]
    rows = _ORIGINALS["PandasExecutionEngine._apply_row_condition_filter"](self, data, row_condition, domain_kwargs)
    cache[key] = (data, rows)
    return rows


def forget_filtered() -> None:
    """Drop this thread's row-condition cache (the gate calls it after each validation)."""
    _filtered.__dict__.pop("cache", None)


def _get_domain_kwargs(self: Any) -> dict[str, Any]:
    kwargs = self.configuration.kwargs
    return {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}


def _get_success_kwargs(self: Any) -> dict[str, Any]:
    kwargs = self.configuration.kwargs
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update({key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys})
    return success


def apply() -> bool:
    """Patch GX in this process (idempotent); False when the installed GX is left as it is."""
    if not enabled():
        return False
    if not hasattr(gx_pandas, "HASH_THRESHOLD"):
        raise RuntimeError("GX's pandas engine no longer has HASH_THRESHOLD: see panro/gate/gx_compat.py")
    gx_pandas.HASH_THRESHOLD = 0
    gx_pandas.PandasExecutionEngine._apply_row_condition_filter = _apply_row_condition_once
    Expectation._get_domain_kwargs = _get_domain_kwargs
    Expectation._get_success_kwargs = _get_success_kwargs
    return True


def quiet_saves(context: Any) -> None:
    """An ephemeral context that does not re-serialise its configuration after each data source."""
    if enabled():
        context._save_project_config = lambda: None
