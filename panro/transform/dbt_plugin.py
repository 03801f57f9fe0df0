"""A dbt-duckdb plugin (the profile's `plugins`): every DuckDB cursor dbt opens learns where the
published zone is, as the variable `panro_published` (`getvariable('panro_published')` in SQL).

The sources and the staging macros read the published zone through that variable instead of dbt's
`env_var`: what dbt renders while parsing then names no folder, so one parse of the project serves
every data directory (panro.transform.parse_cache). The value is PANRO_PUBLISHED_DIR, which
panro.transform.build sets for each invocation; a bare `dbt` call from the project's folder reads
../data/published, as profiles.yml's other defaults do.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

VARIABLE = "panro_published"
DEFAULT = "../data/published"


def published_dir() -> str:
    return os.environ.get("PANRO_PUBLISHED_DIR", DEFAULT)


class Plugin(BasePlugin):
    def configure_cursor(self, cursor: Any) -> None:
        # a DuckDB variable belongs to one connection, and each cursor is a connection of its own
        cursor.execute(f"set variable {VARIABLE} = ?", [published_dir()])
