"""The gate's Data Docs, as a job to render once a run's validations are done.

A run's validation results are on disk (`<data>/state/gx_validations/`) by the time its checks end,
whichever process ran them; the site is rebuilt from them once per run. The job is plain data (the
suites, the run's name and time, the suite and label of every result), so the run's process can
hold it, or hand it to a task (a thread, another process, a Dask worker), without importing Great
Expectations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panro.settings import DataDirs


@dataclass
class DocsJob:
    """The Data Docs of one gate run: what `add` was given by every process that validated for it."""

    dirs: DataDirs
    run_name: str
    run_time: dt.datetime
    suites: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    results: list[tuple[str, str]] = field(default_factory=list)     # (suite, label) of every stored result

    def add(self, suites: dict[str, list[dict[str, Any]]], results: list[tuple[str, str]]) -> None:
        for name, items in suites.items():
            self.suites.setdefault(name, items)
        self.results.extend(results)

    def build(self) -> Path:
        """Render the site (imports Great Expectations); its index page."""
        from panro.gate.gx import build_docs

        return build_docs(self.dirs, self.suites, self.run_name, self.run_time, self.results)
