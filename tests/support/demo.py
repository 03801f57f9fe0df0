"""The default demonstration landing zone — 2023, scale 1, seed 2023 — generated once per test run.

Register with `pytest_plugins = ["tests.support.demo"]`; then any test can take `demo_landing` (the
landing folder, `<partner>/<feed>/<file>`) or `demo_summary` (what `panro.generate.generate` returned).
Both are built once per run, whichever xdist worker asks first (tests.support.sharing): they are
shared, read-only; a test that changes files copies them first (`tests.support.sharing.copy_of`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from panro.generate import GenerateSummary, generate
from tests.support.sharing import built_once


@pytest.fixture(scope="session")
def demo_summary(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    """Generates the default year into a folder of the run (about ten seconds on a quiet machine)."""
    return built_once(tmp_path_factory, "demo-year", lambda folder: generate(folder / "landing"))


@pytest.fixture(scope="session")
def demo_landing(demo_summary: GenerateSummary) -> Path:
    """The landing folder holding the default 2023 partner feeds."""
    return Path(demo_summary.out)


SMALL_RANGE = ("2023-04-27", "2023-05-03")


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of all twelve feeds at a small scale (2023-04-27 … 2023-05-03), for tests that run the flows."""
    start, end = (dt.date.fromisoformat(d) for d in SMALL_RANGE)
    return built_once(tmp_path_factory, "small-week",
                      lambda folder: generate(folder / "landing", start=start, end=end, scale=0.05).out)
