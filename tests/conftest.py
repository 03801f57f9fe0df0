"""Shared fixtures, and how the suite runs in parallel. Area-specific helpers live in tests/support/<area>.py.

`make test` runs `pytest`, whose options (pyproject.toml) spread the tests over pytest-xdist's workers
(`-n auto --dist loadfile`) and print the ten slowest. For a test to be safe there, and fast:

- **A module runs on one worker** (`--dist loadfile`), so a `scope="module"` fixture runs once, as it
  does without xdist. (Not `--dist loadgroup`: with pytest 9.2 it silently stops grouping,
  pytest-dev/pytest-xdist#1386.) Modules that share something expensive share it through the
  session fixtures below, never by relying on running in the same process.
- **The slow modules start first**, so that the longest work is not left to the end: those marked
  `pytest.mark.slow(minutes=N)` by N, largest first (N: the minutes the module took in a measured
  run, decision 0030; only their order matters), then those marked `slow`, then the rest.
- **Each worker is a process of its own**: its own PREFECT_HOME (below), its own Prefect server
  (`prefect_api_url`, tests/support/prefect_server.py), its own temporary folders (`tmp_path`,
  `tmp_path_factory`). A test binds port 0, never a fixed port.
- **A session fixture runs once per worker.** One that costs more than a few seconds is built once
  per run with `tests.support.sharing.built_once` (a file lock in the run's temporary folder): the
  generated 2023 year (`demo_landing`, `demo_summary`) and the small week (`small_landing`) are.
  What it returns is shared by processes running at the same time: read-only; `copy_of` it first.

`pytest -n 0` runs everything in one process, slow modules first too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from panro.settings import DataDirs
from tests.support.sharing import run_folder

pytest_plugins = ["tests.support.demo", "tests.support.prefect_server", "tests.support.warehouse"]

# Tests never reach the network and never touch a developer's own Prefect or dbt state.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# personal data is pseudonymised with one key across the suite (panro.domain.personal; a test of the key unsets it)
os.environ.setdefault("PANRO_PII_KEY", "the test suite's PII key")
# a PREFECT_HOME of this process's own: each xdist worker imports this file in its own process
_prefect_home = os.environ.get("PANRO_TEST_PREFECT_HOME")
if _prefect_home:
    _prefect_home = os.path.join(_prefect_home, os.environ.get("PYTEST_XDIST_WORKER", "main"))
    os.makedirs(_prefect_home, exist_ok=True)
os.environ["PREFECT_HOME"] = _prefect_home or tempfile.mkdtemp(prefix="panro-prefect-")
os.environ.pop("PREFECT_API_URL", None)


@pytest.hookimpl(tryfirst=True)       # after pytest orders by fixture parameters, before xdist sends the ids
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start with the slowest modules (xdist hands out modules in this order): those marked
    `slow(minutes=N)` by N, largest first, then those marked `slow`, then the others, each in the
    collection's order."""
    weight: dict[Path, float] = {}
    first_seen: dict[Path, int] = {}
    for item in session.items:
        first_seen.setdefault(item.path, len(first_seen))
        mark = item.get_closest_marker("slow")
        if mark is not None:
            weight[item.path] = max(weight.get(item.path, 0.0), float(mark.kwargs.get("minutes", 0.5)))
    session.items.sort(key=lambda item: (-weight.get(item.path, 0.0), first_seen[item.path]))


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dbt parse every data directory of this run starts from (panro.transform.parse_cache): kept in
    the run's folder, shared by its processes and by the `panro` commands the tests start, never the
    developer's own."""
    folder = run_folder(tmp_path_factory) / "dbt-parse"
    os.environ["PANRO_DBT_PARSE_CACHE"] = str(folder)
    return folder


@pytest.fixture
def dirs(tmp_path: Path) -> DataDirs:
    """A fresh, empty data directory."""
    return DataDirs.from_env(tmp_path / "data")
