"""Great Expectations, set up the way the gate runs it: an ephemeral context for each feed's check,
in whichever process runs it (`panro.gate.checking.check`), nothing in the repo.

- Context: ephemeral (in-memory suites), analytics and progress bars off. Validation results are kept
  in `<data>/state/gx_validations/`, under the run's name and time whichever process stored them, each
  with the files, business dates and rows it covered (`meta["panro"]`); the run's Data Docs are the
  project's own pages over them (`panro.gate.docs`: GX's site loads its styles and scripts from CDNs,
  and shows nothing offline).
- Engine: the pandas data source (GX 1.24's DuckDB SQL source does not work) over Arrow-backed frames.
- Results: BASIC counts first; an expectation with unexpected rows runs again in COMPLETE format
  without index columns — its unexpected index list is then the frame's own positions, which the
  gate maps to batches and rows; everything bulky is stripped before storing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from panro.domain.personal import mask
from panro.gate import gx_compat
from panro.gate.expectations import forget_parsed  # (importing it registers the panro expectations)
from panro.settings import DataDirs

gx_compat.apply()   # GX 1.24 without the work the gate never reads (panro/gate/gx_compat.py)

# Two passes: every expectation counts its unexpected rows (BASIC), and only those that found some are
# run again to list the rows' positions (COMPLETE). Most expectations pass on most nights; a full
# COMPLETE pass filtered the whole frame a few more times per expectation: about 15 % of the gate's CPU.
COUNT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "partial_unexpected_count": 20,
}
LOCATE_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": 20,
    "return_unexpected_index_query": False,
}
_BULKY = ("unexpected_list", "unexpected_index_list", "partial_unexpected_index_list", "unexpected_index_query",
          "unexpected_rows")


def covered(frame: pd.DataFrame) -> dict[str, Any]:
    """What a validated frame holds, for its Data Docs page: the delivered files (by name), their
    business dates and the rows (from the lineage columns the gate's frames carry)."""
    out: dict[str, Any] = {"rows": len(frame), "files": []}
    if "_source_file" in frame.columns:
        out["files"] = sorted(str(f) for f in frame["_source_file"].dropna().unique())
    if "_business_date" in frame.columns and len(frame):
        dates = pd.to_datetime(frame["_business_date"]).dropna()
        if len(dates):
            out["business_dates"] = [dates.min().date().isoformat(), dates.max().date().isoformat()]
    return out


def _config(dirs: DataDirs) -> DataContextConfig:
    memory = {"class_name": "InMemoryStoreBackend"}
    return DataContextConfig(
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": memory},
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(dirs.state / "gx_validations")},
            },
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": memory},
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )


class GxRun:
    """One gate run's GX context (in one process): suites and validations; `stored()` for the run's
    Data Docs (`panro.gate.docs`), then `close()`."""

    def __init__(self, dirs: DataDirs, run_id: str, *, keep_results: bool = True,
                 run_time: dt.datetime | None = None) -> None:
        self.dirs, self.keep_results = dirs, keep_results
        # `run_time`: the same in every process that validates for one gate run (its results' keys)
        self.run_id = RunIdentifier(run_name=run_id, run_time=run_time or dt.datetime.now(dt.UTC))
        self.context = gx.get_context(mode="ephemeral", project_config=_config(dirs))
        gx_compat.quiet_saves(self.context)
        self._assets: dict[str, Any] = {}
        self._lock = threading.RLock()   # feeds are validated in parallel threads; the context is shared
        self._suites: dict[str, Any] = {}
        self._items: dict[str, list[dict[str, Any]]] = {}   # each suite as configured (for DocsJob)
        self._stored: list[tuple[str, str]] = []   # (suite, label) of every result stored

    def suite(self, name: str, items: list[dict[str, Any]]) -> tuple[Any, dict[str, int]]:
        """The GX suite `name` (added once per run) and a map expectation id → position in `items`."""
        with self._lock:
            if name not in self._suites:
                suite = self.context.suites.add(gx.ExpectationSuite(name=name,
                                                                    expectations=[dict(i) for i in items]))
                ids = {str(e.id): n for n, e in enumerate(suite.expectations)}
                self._suites[name] = (suite, ids)
                self._items[name] = [dict(i) for i in items]
            return self._suites[name]

    def validate(self, suite: Any, frame: pd.DataFrame, *, asset: str, label: str) -> Any:
        """Validate a frame; a failed row-level result carries `unexpected_index_list` (positions in
        the frame). Each asset gets a pandas data source of its own — an execution engine keeps one
        active batch, so validations running in parallel threads must not share one."""
        with self._lock:
            if asset not in self._assets:
                source = self.context.data_sources.add_pandas(f"panro-{asset}")
                self._assets[asset] = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe("all")
            definition = self._assets[asset]
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        try:
            result = batch.validate(suite, result_format=COUNT_FORMAT)
            result.meta["panro"] = covered(frame)
            expectations = {str(e.id): e for e in suite.expectations}
            for r in result.results:
                if not r.success and r.result.get("unexpected_count"):
                    located = batch.validate(expectations[str(r.expectation_config.id)],
                                             result_format=LOCATE_FORMAT)
                    positions = located.result.get("unexpected_index_list")
                    if positions is None:  # could not be listed: the gate reports it as not evaluated
                        info = located.exception_info or {}
                        r.exception_info = {"raised_exception": True, "exception_message": str(
                            info.get("exception_message") or "GX counted unexpected rows but did not list them")}
                    else:
                        r.result["unexpected_index_list"] = positions
            return result
        finally:
            forget_parsed()
            gx_compat.forget_filtered()

    def store(self, suite_name: str, label: str, result: Any, pii_columns: list[str]) -> None:
        """Keep a stripped copy of a result for the Data Docs (no index lists, no personal data)."""
        if not self.keep_results:
            return
        for r in result.results:
            for key in _BULKY:
                r.result.pop(key, None)
            kwargs = r.expectation_config.kwargs
            domain = {kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"),
                      *(kwargs.get("column_list") or [])}
            if domain & set(pii_columns):
                for key in ("partial_unexpected_list", "partial_unexpected_counts"):
                    r.result.pop(key, None)
            elif r.result.get("partial_unexpected_list"):   # a phone number typed into any column
                r.result["partial_unexpected_list"] = [mask(v) if isinstance(v, str) else v
                                                       for v in r.result["partial_unexpected_list"]]
                r.result.pop("partial_unexpected_counts", None)
        with self._lock:
            self.context.validation_results_store.set(result_key(self.run_id, suite_name, label), result)
            self._stored.append((suite_name, label))

    def stored(self) -> tuple[dict[str, list[dict[str, Any]]], list[tuple[str, str]]]:
        """The suites this context validated with, and the (suite, label) of every result it stored:
        plain values, which the run's process takes in without importing GX (`panro.gate.docs`)."""
        with self._lock:
            return dict(self._items), list(self._stored)

    def close(self) -> None:
        """Let go of the context's frames. GX keeps the last context made in a process as the
        process's current one (other threads may be validating with theirs: it stays), and with it
        each data source's last batch: its data sources are deleted, and their frames with them."""
        with self._lock:
            for asset in list(self._assets):
                with contextlib.suppress(Exception):   # already gone: nothing held
                    self.context.data_sources.delete(f"panro-{asset}")
            self._assets.clear()
            self._suites.clear()
            self._items.clear()


def result_key(run_id: RunIdentifier, suite_name: str, label: str) -> ValidationResultIdentifier:
    return ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
                                      run_id=run_id, batch_identifier=label)
