"""The default demonstration landing zone — 2023, scale 1, seed 2023 — generated once per test session.

Register with `pytest_plugins = ["tests.support.demo"]`; then any test can take `demo_landing` (the
landing folder, `<partner>/<feed>/<file>`) or `demo_summary` (what `panro.generate.generate` returned).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from panro.generate import GenerateSummary, generate


@pytest.fixture(scope="session")
def demo_summary(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    """Generates the default year into a session temporary folder (about ten seconds)."""
    return generate(tmp_path_factory.mktemp("demo") / "landing")


@pytest.fixture(scope="session")
def demo_landing(demo_summary: GenerateSummary) -> Path:
    """The landing folder holding the default 2023 partner feeds."""
    return demo_summary.out


SMALL_RANGE = ("2023-04-27", "2023-05-03")


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of all twelve feeds at a small scale (2023-04-27 … 2023-05-03), for tests that run the flows."""
    import datetime as dt

    start, end = (dt.date.fromisoformat(d) for d in SMALL_RANGE)
    return generate(tmp_path_factory.mktemp("small") / "landing", start=start, end=end, scale=0.05).out
