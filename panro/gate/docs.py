"""The gate's Data Docs: the project's own pages over Great Expectations' validation results.

GX's own site pulls its styles and scripts from CDNs: offline (the agency's network) its index lists
nothing, and its pages were named `pending.html` and showed "Data asset: None". These pages need
nothing but themselves (no script, no external file), open from `file://`, and are named for what
they check: `reports/data_docs/runs/<run time>_<run>/<partner>/<feed>/<file>.html`, one per feed and
run, where `<file>` is the first delivered file checked, `+N` when N more were checked with it.
`reports/data_docs/index.html` lists the latest runs and their feeds.

A run's validation results are on disk (`<data>/state/gx_validations/`) by the time its checks end,
whichever process ran them, each with the files, business dates and rows it covered (`panro.gate.gx`).
The job is plain data (the run's name and time, and the suite and label of every result), so the run's
process can hold it, or hand it to a task (a thread, another process, a Dask worker); rendering needs
no GX. Every value
on a page is HTML-escaped (a partner can deliver `<script>` as a value); personal-data columns' samples
were never stored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panro.domain.personal import mask
from panro.settings import DataDirs

INDEX_RUNS = 100                 # runs the index lists (older pages stay on disk)
SAMPLES = 20                     # sample values shown per expectation
_GX_SITE_LEFTOVERS = ("static", "validations", "expectations")   # GX's own site, before these pages


@dataclass
class DocsJob:
    """The Data Docs of one gate run: what `add` was given by every process that validated for it."""

    dirs: DataDirs
    run_name: str
    run_time: dt.datetime
    results: list[tuple[str, str]] = field(default_factory=list)     # (suite, label) of every stored result

    def add(self, suites: dict[str, list[dict[str, Any]]], results: list[tuple[str, str]]) -> None:
        """The results a process stored (`GxRun.stored()`); its suites are in the results already."""
        del suites
        self.results.extend(results)

    def build(self) -> Path:
        """Render the run's pages and the index; the index's path."""
        return render(self.dirs, self.run_name, self.run_time, self.results)


# -- reading the stored results ------------------------------------------------------------------

def _result_path(dirs: DataDirs, suite: str, run_name: str, run_time: dt.datetime, label: str) -> Path:
    """Where GX's filesystem store keeps a result (its key: suite, run name, run time, batch label)."""
    stamp = run_time.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return dirs.state / "gx_validations" / Path(*suite.split(".")) / run_name / stamp / f"{label}.json"


@dataclass
class Check:
    """One expectation's outcome, as a page shows it."""

    status: str                  # passed / failed / error
    rule: str
    reason: str
    expectation: str
    columns: list[str]
    severity: str
    unexpected: int | None
    unexpected_percent: float | None
    samples: list[tuple[Any, int]]       # (value, times among the samples)
    observed: Any
    error: str | None


@dataclass
class Result:
    suite: str
    label: str
    success: bool
    statistics: dict[str, Any]
    files: list[str]
    business_dates: list[str] | None
    rows: int | None
    checks: list[Check]

    @property
    def per_file(self) -> bool:
        return self.suite.endswith(".batches")


def _columns(kwargs: dict[str, Any]) -> list[str]:
    found = [kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(kwargs.get("column_list") or [])
    return [str(c) for c in found if c]


def _counted(values: list[Any]) -> list[tuple[Any, int]]:
    """Sample values once each, with how often they are among the samples, most frequent first."""
    counts: dict[str, tuple[Any, int]] = {}
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        counts[key] = (v, counts.get(key, (v, 0))[1] + 1)
    return sorted(counts.values(), key=lambda vc: -vc[1])[:SAMPLES]


def _check(r: dict[str, Any]) -> Check:
    config = r.get("expectation_config") or {}
    meta, kwargs, got = config.get("meta") or {}, config.get("kwargs") or {}, r.get("result") or {}
    info = r.get("exception_info") or {}
    raised = bool(info.get("raised_exception"))
    return Check(
        status="error" if raised else "passed" if r.get("success") else "failed",
        rule=str(meta.get("rule", "")), reason=str(meta.get("reason", "")), expectation=str(config.get("type", "")),
        columns=_columns(kwargs), severity=str(config.get("severity") or ""),
        unexpected=got.get("unexpected_count"), unexpected_percent=got.get("unexpected_percent"),
        samples=_counted(got.get("partial_unexpected_list") or []), observed=got.get("observed_value"),
        error=str(info.get("exception_message")) if raised else None)


def read_result(path: Path, suite: str, label: str) -> Result:
    doc = json.loads(path.read_text(encoding="utf-8"))
    covered = (doc.get("meta") or {}).get("panro") or {}
    return Result(suite=suite, label=label, success=bool(doc.get("success")), statistics=doc.get("statistics") or {},
                  files=list(covered.get("files") or []), business_dates=covered.get("business_dates"),
                  rows=covered.get("rows"), checks=[_check(r) for r in doc.get("results") or []])


# -- the pages -----------------------------------------------------------------------------------

def _files_label(files: list[str]) -> str:
    """`first.csv`, or `first.csv+N` when N more files were checked with it (as raw segments are named)."""
    if not files:
        return "no-files"
    return files[0] + (f"+{len(files) - 1}" if len(files) > 1 else "")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._+-@" else "_" for ch in name) or "_"


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("panro", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["shown"] = _shown
    return env


def _shown(value: Any) -> str:
    """A delivered or observed value as text (the template escapes it)."""
    if isinstance(value, str):
        value = mask(value)
        return repr(value) if value.strip() != value or not value else value
    return mask(json.dumps(value, ensure_ascii=False, default=str))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render(dirs: DataDirs, run_name: str, run_time: dt.datetime, results: list[tuple[str, str]]) -> Path:
    """The pages of a run's stored results, one per feed, and the index of the latest runs."""
    env = _environment()
    site = dirs.data_docs
    for leftover in _GX_SITE_LEFTOVERS:   # GX's CDN-bound site from before: its pages would mislead
        shutil.rmtree(site / leftover, ignore_errors=True)
    run_dir = f"{run_time.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}_{_safe(run_name)[:12]}"
    by_feed: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for suite, label in dict.fromkeys(results):
        path = _result_path(dirs, suite, run_name, run_time, label)
        if path.exists():
            partner, feed = suite.split(".")[:2]
            by_feed[(partner, feed)].append(read_result(path, suite, label))
    feeds = []
    for (partner, feed), found in sorted(by_feed.items()):
        found.sort(key=lambda r: (r.per_file, r.label))
        files = sorted({f for r in found for f in r.files})
        href = f"runs/{run_dir}/{_safe(partner)}/{_safe(feed)}/{_safe(_files_label(files))}.html"
        failed = sum(c.status != "passed" for r in found for c in r.checks)
        feeds.append({"partner": partner, "feed": feed, "files": len(files), "first_file": files[0] if files else "",
                      "label": _files_label(files), "success": all(r.success for r in found), "failed": failed,
                      "checks": sum(len(r.checks) for r in found), "href": href})
        _write(site / href, env.get_template("data_docs/feed.html.j2").render(
            partner=partner, feed=feed, files=files, results=found, run_name=run_name, run_time=run_time,
            index="../" * (href.count("/")) + "index.html"))
    summary = {"run_name": run_name, "run_time": run_time.astimezone(dt.UTC).isoformat(), "feeds": feeds}
    _write(site / "runs" / run_dir / "_run.json", json.dumps(summary, ensure_ascii=False))
    index = site / "index.html"
    _write(index, env.get_template("data_docs/index.html.j2").render(runs=_latest_runs(site)))
    return index


def _latest_runs(site: Path) -> list[dict[str, Any]]:
    runs = []
    for summary in (site / "runs").glob("*/_run.json"):
        try:
            runs.append(json.loads(summary.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue   # a run's summary being replaced: the next index lists it
    runs.sort(key=lambda r: r["run_time"], reverse=True)
    for r in runs:
        r["when"] = dt.datetime.fromisoformat(r["run_time"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    return runs[:INDEX_RUNS]
