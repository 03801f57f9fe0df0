"""What `dbt docs` under reports/dbt_docs/ must hold after a run's build."""

from __future__ import annotations

import json

from panro.settings import DataDirs


def assert_docs_carry_compiled_sql_and_catalog(dirs: DataDirs) -> None:
    """The docs' manifest has a mart's compiled SQL (from the build), and the catalog lists the mart."""
    docs = dirs.reports / "dbt_docs"
    manifest = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    assert "from" in manifest["nodes"]["model.panro.mart_program_kpis"]["compiled_code"]
    assert "mart_program_kpis" in (docs / "catalog.json").read_text(encoding="utf-8")
