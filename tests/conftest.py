"""Shared fixtures. Area-specific helpers live in tests/support/<area>.py."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from panro.settings import DataDirs

pytest_plugins = ["tests.support.demo", "tests.support.prefect_server", "tests.support.warehouse"]

# Tests never reach the network and never touch a developer's own Prefect or dbt state.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# personal data is pseudonymised with one key across the suite (panro.domain.personal; a test of the key unsets it)
os.environ.setdefault("PANRO_PII_KEY", "the test suite's PII key")
os.environ["PREFECT_HOME"] = os.environ.get("PANRO_TEST_PREFECT_HOME") or tempfile.mkdtemp(prefix="panro-prefect-")
os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture
def dirs(tmp_path: Path) -> DataDirs:
    """A fresh, empty data directory."""
    return DataDirs.from_env(tmp_path / "data")
