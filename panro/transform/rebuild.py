"""What a run's dbt build rebuilds (`build_for_run`), and when its docs are made again (`refresh_docs`).

- **Every table from every published batch** (`--full-refresh`) after the dbt project changed since
  the last successful build: tables written by the old models never meet the new ones (a new
  column, a changed rule). The first build of a work folder is one.
- **Every model, incrementally**, after the published zone changed since the last successful build
  (a batch published, replaced, released or held: the zone's index says so) or the contracts did.
- **Only the feed status and what depends on it**, with their tests, when neither changed (a night
  with nothing new): every other model would be rebuilt from the same rows into the same tables.
  The status changes every night (days since the last delivery, overdue), and with it
  `mart_feed_status` and the completeness the figures carry.

A successful build records what it was built from and the work warehouse it left (`BUILT_FROM` in
the work folder); any other dbt command that may change the work warehouse, a failed build and a
build cut short leave no record, and a warehouse gone or put back from a copy is not the one
recorded, so the next run rebuilds every model (decision 0032).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from panro.lake.batches import INDEX_FILE
from panro.settings import CONTRACTS_DIR, DBT_PROJECT_DIR, DataDirs
from panro.transform.build import BUILT_FROM, DbtRun, docs_generate, run_dbt

#: dbt's selection of the feed status and every node downstream of it (models and their data tests)
STATUS_AND_DEPENDENTS = "source:panro.feed_status+"
BUILT_WITH = "built_with.fingerprint"   # the dbt project the last successful build ran

def _digest(root: Path, suffixes: set[str], *more: bytes) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in suffixes and "target" not in path.relative_to(root).parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    for part in more:
        digest.update(part)
    return digest.hexdigest()


def project_fingerprint() -> str:
    """A hash of the dbt project's own files (models, macros, seeds, tests, configuration)."""
    return _digest(DBT_PROJECT_DIR, {".sql", ".yml", ".yaml", ".csv", ".md"})


def inputs_fingerprint(dirs: DataDirs) -> str | None:
    """A hash of what the models read besides the project: the published zone's index (every
    published batch and the file holding its rows; a published file is written once, named for
    its segment or its batch's version) and the contracts. None without an index (staging then
    scans the zone, whose changes nothing counts) or when it cannot be read."""
    try:
        index = (dirs.published / INDEX_FILE).read_bytes()
    except OSError:
        return None
    return _digest(CONTRACTS_DIR, {".yaml", ".yml", ".json"}, index)


def _stamp(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _built_from(inputs: str | None, dirs: DataDirs) -> str | None:
    """The record of a build from `inputs` into the work warehouse as it is now (its size and time of
    last change: a warehouse put back from a copy, or gone, is not the one the last build left)."""
    try:
        stat = dirs.work_warehouse.stat()
    except OSError:
        return None
    return None if inputs is None else f"{inputs}\n{stat.st_size}:{stat.st_mtime_ns}"


def build_for_run(dirs: DataDirs) -> DbtRun:
    """A run's `dbt build` (models and data tests; unit tests belong to the test suite), of as much
    of the project as the run needs (the module's docstring)."""
    built_with, built_from = dirs.work / BUILT_WITH, dirs.work / BUILT_FROM
    project, inputs = project_fingerprint(), inputs_fingerprint(dirs)
    full = _stamp(built_with) != project
    record = _built_from(inputs, dirs)
    status_only = not full and record is not None and _stamp(built_from) == record
    run = run_dbt(dirs, "build", select=STATUS_AND_DEPENDENTS if status_only else None,
                  exclude="resource_type:unit_test", full_refresh=full)
    if run.success:
        built_with.write_text(project)
        record = _built_from(inputs, dirs)   # the warehouse as this build left it
        if record is not None:
            built_from.write_text(record)
    return run


def refresh_docs(dirs: DataDirs) -> DbtRun | None:
    """`dbt docs` under reports/dbt_docs/, regenerated only when the project changed (it costs seconds).

    Called right after a run's successful build: the docs reuse that build's compiled SQL when it
    compiled every node (`docs_generate`)."""
    target = dirs.reports / "dbt_docs"
    stamp = target / ".fingerprint"
    fingerprint = project_fingerprint()
    if (target / "index.html").exists() and _stamp(stamp) == fingerprint:
        return None
    run = docs_generate(dirs, target, after_build=True)
    if run.success:
        stamp.write_text(fingerprint)
    return run
