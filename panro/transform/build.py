"""Transform: dbt (dbt-duckdb) in-process, from the published batches into the work warehouse.

`run_dbt(dirs)` runs `dbt build` with dbt's own runner (`dbtRunner`) in this process: it reads
`dirs.published` (PANRO_PUBLISHED_DIR, a folder or an object store's URL) and writes
`dirs.work_warehouse` (PANRO_WORK_WAREHOUSE).
dbt's target and log folders live under `dirs.work`, so the repository stays clean. When it
returns, the DuckDB file is closed: another process (publish, an analyst's copy) may open it.
A run parses the project ahead, on a thread, while its extraction and gate run (`parse_ahead`).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panro import settings
from panro.domain.contracts import load_contracts
from panro.freshness.status import ensure_status
from panro.lake import storage
from panro.lake.batches import ensure_published_schemas
from panro.settings import DBT_PROJECT_DIR, DataDirs

# Node statuses that make a run unsuccessful (dbt's RunStatus / TestStatus values).
_FAILED = {"error", "fail", "runtime error"}
_SKIPPED = {"skipped"}

# dbt reads its settings from process-wide state (environment, flags): one invocation at a time.
_DBT_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeFailure:
    """A node (model, seed, test, unit test, source) that failed, with dbt's message."""

    unique_id: str
    resource_type: str
    status: str
    message: str
    compiled_code: str | None = None   # a data test's query: its failing rows (panro.transform.failures)
    tested_model: str | None = None    # the model a data test is attached to (its name)
    failing_rows: int | None = None    # what the test's query returned


@dataclass(frozen=True)
class DbtRun:
    """What one dbt invocation did."""

    command: str
    success: bool
    elapsed: float
    failures: tuple[str, ...] = ()  # "<unique_id>: <message>" per failing node (or "dbt: <error>")
    failed_nodes: tuple[NodeFailure, ...] = ()
    skipped: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    nodes: int = 0
    error: str | None = None  # an exception that stopped dbt before or outside any node
    statuses: Mapping[str, str] = field(default_factory=dict)
    results: tuple[Mapping[str, object], ...] = ()   # each node: name, type, status, rows, seconds, message

    def summary(self) -> str:
        head = f"dbt {self.command}: {'ok' if self.success else 'FAILED'} in {self.elapsed:.1f}s, {self.nodes} nodes"
        lines = [head]
        if self.error:
            lines.append(f"  error: {self.error}")
        lines += [f"  {f.status}: {f.unique_id}: {f.message}" for f in self.failed_nodes]
        if self.skipped:
            lines.append(f"  skipped: {len(self.skipped)} nodes")
        return "\n".join(lines)


def duckdb_threads(cores: int | None = None) -> int:
    """DuckDB's threads under dbt: each of dbt's threads gets its share of the cores, at least one.

    DuckDB's thread pool belongs to the database, which dbt's threads share. On 2 cores, two
    queries at a time on one core each built a 2023 backfill's marts in 17–21 s against 20–23 s
    for the same queries on both cores (docs/decisions/0014-duckdb-threads-under-dbt.md): less time
    in DuckDB's parallel operators, and dbt's Python per node overlaps the other thread's query."""
    return max(1, (cores or settings.CORES) // settings.DBT_THREADS)


def dbt_filesystems(dirs: DataDirs) -> list[dict[str, object]]:
    """dbt-duckdb's `filesystems` profile setting for a lake on an object store: the fsspec file system
    DuckDB reads the published zone through (s3fs for `s3://`; no httpfs extension). Its credentials
    and endpoint are not here: s3fs takes them from the environment, as AWS tools do (panro.lake.storage)."""
    if dirs.lake_url is None or storage.is_local_url(dirs.lake_url):
        return []
    if storage.is_s3(dirs.lake_url):   # s3fs asking about each object once per invocation (panro.lake.storage)
        storage.register_dbt_filesystem()
        return [{"fs": storage.DBT_S3, "skip_instance_cache": True, **storage.REMOTE_OPTIONS}]
    return [{"fs": storage.protocol(dirs.lake_url), **storage.REMOTE_OPTIONS}]


def dbt_env(dirs: DataDirs) -> dict[str, str]:
    """The environment of a dbt invocation: where to read and write, and no telemetry.

    dbt takes its project, profiles, target and log folders from these variables for every
    command (build, test, docs generate, source freshness, debug …).
    """
    paths = _paths(dirs)
    return {
        "PANRO_PUBLISHED_DIR": str(dirs.published),
        # a published zone on an object store: read through its fsspec file system (profiles.yml)
        "PANRO_DBT_FILESYSTEMS": repr(dbt_filesystems(dirs)),   # a Python literal: profiles.yml as_native
        "PANRO_WORK_WAREHOUSE": str(dirs.work_warehouse),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_TARGET_PATH": str(paths["target"]),
        "DBT_LOG_PATH": str(paths["logs"]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
        # the console gets warnings and errors; every node's line goes to <work>/dbt_logs/dbt.log
        "DBT_LOG_LEVEL": os.environ.get("PANRO_DBT_LOG_LEVEL", "warn"),
        "DBT_LOG_LEVEL_FILE": "info",
        "DBT_USE_COLORS_FILE": "false",
        "DO_NOT_TRACK": "1",
        "PANRO_DBT_THREADS": str(settings.DBT_THREADS),
        "PANRO_DUCKDB_THREADS": str(duckdb_threads()),
        "PANRO_DUCKDB_MEMORY": f"{settings.DBT_MEMORY_MB}MB",
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _close_duckdb() -> None:
    """Close dbt-duckdb's DuckDB instance, which it keeps for the process after a command, so that
    the work warehouse is not held open (publication reads it, another process may write it).
    Called under `_DBT_LOCK`: no other dbt command is running."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        env = DuckDBConnectionManager.env()
    except Exception:   # no environment was created: nothing is open
        return
    try:
        env.close()
    finally:
        DuckDBConnectionManager.close_all_connections()


#: in the work folder: what the last successful build of a run was built from (panro.transform.rebuild)
BUILT_FROM = "built_from.fingerprint"


def _paths(dirs: DataDirs) -> dict[str, Path]:
    return {"target": dirs.work / "dbt_target", "logs": dirs.work / "dbt_logs"}


# dbt's parsed project, kept in this process by work folder, so that a command need not parse again:
# - `parse_ahead` leaves it for the next build (taken once);
# - a build of every node (no `--select`) that started from it leaves it, every node compiled, for a
#   `docs generate --no-compile` right after (any other command in between drops it).
_PARSED: dict[Path, Any] = {}
_BUILT: dict[Path, Any] = {}


def _invoke(dirs: DataDirs, args: list[str]) -> tuple[Any, float]:
    from dbt.cli.main import dbtRunner

    from panro.transform import dbt_compat, parse_cache

    dbt_compat.apply()
    dirs.work.mkdir(parents=True, exist_ok=True)
    target = _paths(dirs)["target"]
    with _DBT_LOCK, _environment(dbt_env(dirs)):
        parse_cache.seed(target)       # a data directory new here starts from the project's last parse
        built = _BUILT.pop(dirs.work, None)
        if args[:1] == ["build"]:
            manifest = _PARSED.pop(dirs.work, None)
        elif args[:2] == ["docs", "generate"] and "--no-compile" in args:
            manifest = built
        else:
            manifest = None
        started = time.perf_counter()
        try:
            result = dbtRunner(manifest=manifest).invoke(args, send_anonymous_usage_stats=False)
        finally:
            _close_duckdb()
        parse_cache.keep(target)
        if args[:1] == ["build"] and "--select" not in args and manifest is not None and result.success:
            _BUILT[dirs.work] = manifest
        return result, time.perf_counter() - started


def parse_ahead(dirs: DataDirs) -> bool:
    """Parse the dbt project now, for the next `build` of `dirs` in this process to start from.

    The parse reads only the project's files (not the data): done while a run extracts and audits,
    it takes seconds off the build. Returns whether it succeeded; if not, the build parses itself
    (and reports the problem, if any)."""
    try:
        result, _ = _invoke(dirs, ["parse"])
    except Exception:
        logging.getLogger("panro.transform.build").debug("dbt parse ahead of the build failed", exc_info=True)
        return False
    if result.success and result.result is not None:
        _PARSED[dirs.work] = result.result
        return True
    return False


def _message(node_result: Any) -> str:
    msg = getattr(node_result, "message", None) or ""
    if not msg and getattr(node_result, "max_loaded_at", None) is not None:  # source freshness
        age = getattr(node_result, "age", None)
        msg = f"stale: newest data {node_result.max_loaded_at:%Y-%m-%d %H:%M %Z}"
        if age is not None:
            msg += f", {age / 3600:.0f} h old"
    failures = getattr(node_result, "failures", None)
    if failures and str(failures) not in msg:
        msg = f"{msg} ({failures} failing rows)" if msg else f"{failures} failing rows"
    return str(msg).strip()


def _collect(command: str, result: Any, elapsed: float) -> DbtRun:
    failures: list[NodeFailure] = []
    skipped: list[str] = []
    warnings: list[str] = []
    statuses: dict[str, str] = {}
    results: list[dict[str, object]] = []
    nodes = 0
    res = getattr(result, "result", None)
    for r in getattr(res, "results", None) or []:
        node = getattr(r, "node", None)
        uid = getattr(node, "unique_id", None) or str(node)
        rtype = str(getattr(node, "resource_type", "") or "")
        status = str(getattr(r.status, "value", r.status))
        statuses[uid] = status
        nodes += 1
        results.append(_node_result(node, rtype, status, r))
        if status in _FAILED:
            attached = getattr(node, "attached_node", None)
            failures.append(NodeFailure(uid, rtype, status, _message(r),
                                        compiled_code=getattr(node, "compiled_code", None),
                                        tested_model=attached.rsplit(".", 1)[-1] if attached else None,
                                        failing_rows=getattr(r, "failures", None)))
        elif status in _SKIPPED:
            skipped.append(uid)
        elif status == "warn":
            warnings.append(uid)
    error = None
    if result.exception is not None:
        error = f"{type(result.exception).__name__}: {result.exception}"
    return DbtRun(
        command=command,
        success=bool(result.success) and not failures and error is None,
        elapsed=elapsed,
        failures=tuple(f"{f.unique_id}: {f.message}" for f in failures) or ((f"dbt: {error}",) if error else ()),
        failed_nodes=tuple(failures),
        skipped=tuple(skipped),
        warnings=tuple(warnings),
        nodes=nodes,
        error=error,
        statuses=statuses,
        results=tuple(results),
    )


def _node_result(node: Any, rtype: str, status: str, r: Any) -> dict[str, object]:
    """One node's line of the night's dbt work, as plain data: which, how it ended, rows, seconds.

    `rows`: what the adapter reports a model wrote (dbt-duckdb: rows affected, when DuckDB tells), or a
    data test's failing rows; None when dbt does not say."""
    response = getattr(r, "adapter_response", None) or {}
    rows = getattr(r, "failures", None) if rtype == "test" else response.get("rows_affected")
    if isinstance(rows, int) and rows < 0:
        rows = None
    return {"name": str(getattr(node, "name", "") or getattr(node, "unique_id", "")),
            "resource_type": rtype, "status": status,
            "rows": rows if isinstance(rows, int) else None,
            "seconds": round(float(getattr(r, "execution_time", 0.0) or 0.0), 2),
            "message": _message(r)[:300] if status not in ("success", "pass") else ""}


def run_dbt(
    dirs: DataDirs,
    command: str = "build",
    *,
    select: str | None = None,
    full_refresh: bool = False,
    vars: dict | None = None,
    exclude: str | None = None,
) -> DbtRun:
    """Run a dbt command (`build`, `run`, `test`, `seed`, `source freshness` …) against `dirs`.

    `select` / `exclude` are dbt selection strings; `full_refresh` rebuilds incremental models
    from every published batch; `vars` are passed as `--vars`. Never raises for a failing node:
    look at `.success` and `.failures`.
    """
    args = shlex.split(command)
    if select:
        args += ["--select", *shlex.split(select)]
    if exclude:
        args += ["--exclude", *shlex.split(exclude)]
    if full_refresh:
        args.append("--full-refresh")
    if vars:
        args += ["--vars", json.dumps(vars, default=str)]
    dirs.work_warehouse.parent.mkdir(parents=True, exist_ok=True)
    # whatever this command changes in the work warehouse, a later run must not take it for the
    # last build's (panro.transform.rebuild writes it again after a run's successful build)
    (dirs.work / BUILT_FROM).unlink(missing_ok=True)
    # every contracted feed must be readable, delivered or not (its zero-row _schema.parquet), and the
    # feeds' status too (a run writes its own before dbt builds: panro.freshness.status)
    ensure_published_schemas(dirs, load_contracts())
    ensure_status(dirs)
    result, elapsed = _invoke(dirs, args)
    return _collect(command, result, elapsed)


def docs_generate(dirs: DataDirs, target_dir: Path | str, *, after_build: bool = False) -> DbtRun:
    """`dbt docs generate --static` into `target_dir`: index.html, one page with the manifest and the
    catalog inside it, which opens from file:// (dbt's usual page fetches them, which a browser refuses
    there), beside manifest.json and catalog.json for tools.

    `after_build`: called right after a build; if that build compiled every node (its manifest is
    kept: `_BUILT`), dbt only writes the catalog (`--no-compile` leaves that manifest in place)
    instead of compiling the whole project again (seconds)."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    ensure_published_schemas(dirs, load_contracts())
    ensure_status(dirs)
    source = _paths(dirs)["target"]
    reuse = after_build and dirs.work in _BUILT and (source / "manifest.json").exists()
    result, elapsed = _invoke(dirs, ["docs", "generate", "--static", *(["--no-compile"] if reuse else [])])
    run = _collect("docs generate", result, elapsed)
    for name, copy in (("static_index.html", "index.html"), ("manifest.json", "manifest.json"),
                       ("catalog.json", "catalog.json")):
        src = source / name
        if src.exists():
            (target_dir / copy).write_bytes(src.read_bytes())
    return run
