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
