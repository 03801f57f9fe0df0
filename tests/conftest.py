"""Shared fixtures. Area-specific helpers live in tests/support/<area>.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from panro.settings import DataDirs

# Tests never reach the network and never touch a developer's own Prefect or dbt state.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def dirs(tmp_path: Path) -> DataDirs:
    """A fresh, empty data directory."""
    return DataDirs.from_env(tmp_path / "data")
