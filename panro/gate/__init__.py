"""The quality gate (issue 3): GX suites per feed → publish, reject rows, or quarantine (write-audit-publish).

    from panro.gate import audit, published_state
    report = audit(dirs, ledger, run_id="2023-05-06T03:00")     # every `extracted` batch
    report.counts(), report.reconciled, report.quarantined, report.data_docs

Modules:
- `suites`: builds `expectations/<partner>/<feed>.suite.json` from the contract and the feed's
  `.rules.yaml` (deterministic; `python -m panro.gate.suites [--check]`).
- `expectations`: the panro GX expectation types (BRN check digit, datetime formats, windows against
  the business date, datetime order, decimal ranges, JSON schema), vectorised.
- `gx`: the GX context of a run (ephemeral, analytics off, results kept in `<data>/state/gx_validations/`).
- `docs`: a run's Data Docs (`<data>/reports/data_docs/`), the project's own offline pages over the
  stored results, as a job of plain data any process can render.
- `wap`: `audit()` — one gate run, in parts whose imports go one way: `outcomes` (what the gate
  reports), `reading` (a feed's pending batches in one go), `checking` (one GX validation per feed
  and run over their union, failures attributed to batches and rows by position; `checking.check`
  is a unit of work a flow maps over its task runner), `deciding` (a pure function of the checks and
  the contract's tolerance), `applying` (publishing, quarantine folders, the ledger).
- `quarantine_files`: the quarantine folder's layout, written by the gate and `panro quarantine hold`.
- `state`: `published_state()` — what the published zone holds, and any disagreement with the ledger.
`panro quarantine list | show | release` live in `panro.quarantine`, which calls the gate (never the other way).

Great Expectations is imported lazily (it takes seconds), so `panro.gate.suites` and the CLI stay quick;
a run warms it up in the background while it extracts (`import_in_background`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from panro.gate.outcomes import BatchOutcome, GateReport
    from panro.gate.state import PublishedFile, PublishedState, published_state
    from panro.gate.wap import audit

__all__ = ["BatchOutcome", "GateReport", "PublishedFile", "PublishedState", "audit", "import_in_background",
           "published_state"]

_WHERE = {"audit": "wap", "GateReport": "outcomes", "BatchOutcome": "outcomes",
          "published_state": "state", "PublishedState": "state", "PublishedFile": "state"}


_loading: threading.Thread | None = None


def import_in_background() -> threading.Thread:
    """Import the audit's modules (Great Expectations: about 3 s) in a thread, once per process;
    `audit` then finds them loaded. Python's import locks make a concurrent `from panro.gate import
    audit` wait for it, and an import that fails here fails again, and is reported, where the audit
    imports it."""
    global _loading
    if _loading is None:
        import contextlib
        import importlib

        def load() -> None:
            with contextlib.suppress(Exception):
                importlib.import_module("panro.gate.gx")   # Great Expectations
                importlib.import_module("panro.gate.wap")

        _loading = threading.Thread(target=load, name="gate-import", daemon=True)
        _loading.start()
    return _loading


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"panro.gate.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'panro.gate' has no attribute {name!r}")
