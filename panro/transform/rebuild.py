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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Scope:
    """How much of the project a run's build rebuilds, and why (the run's progress line says so)."""

    select: str | None       # dbt's `--select`; None: every model
    full_refresh: bool
    reason: str


def _scope(dirs: DataDirs, project: str, inputs: str | None) -> Scope:
    built_with = _stamp(dirs.work / BUILT_WITH)
    if built_with is None:
        return Scope(None, True, "in full: the first build of this work folder")
    if built_with != project:
        return Scope(None, True, "in full: the dbt project changed since the last build")
    if inputs is None:
        return Scope(None, False, "every model: the published zone has no index")
    recorded, now = _stamp(dirs.work / BUILT_FROM), _built_from(inputs, dirs)
    if recorded is None:
        return Scope(None, False, "every model: the last dbt command was not a successful build")
    if recorded.partition("\n")[0] != inputs:
        return Scope(None, False, "every model: batches published, replaced or held since the last build")
    if recorded != now:
        return Scope(None, False, "every model: the work warehouse is not the one the last build left")
    return Scope(STATUS_AND_DEPENDENTS, False, "only the feed status and what depends on it: nothing new "
                                               "published since the last build")


def build_for_run(dirs: DataDirs) -> tuple[DbtRun, Scope]:
    """A run's `dbt build` (models and data tests; unit tests belong to the test suite), of as much
    of the project as the run needs (the module's docstring), and how much that was."""
    project, inputs = project_fingerprint(), inputs_fingerprint(dirs)
    scope = _scope(dirs, project, inputs)
    run = run_dbt(dirs, "build", select=scope.select, exclude="resource_type:unit_test",
                  full_refresh=scope.full_refresh)
    if run.success:
        (dirs.work / BUILT_WITH).write_text(project)
        record = _built_from(inputs, dirs)   # the warehouse as this build left it
        if record is not None:
            (dirs.work / BUILT_FROM).write_text(record)
    return run, scope


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
