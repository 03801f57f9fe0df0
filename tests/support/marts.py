"""What analysts see after a run: every mart table's rows, to compare runs row for row."""

from __future__ import annotations

from pathlib import Path

import duckdb


def marts_of(warehouse: Path) -> dict[str, list[tuple]]:
    """Every mart table's rows, sorted (the publication bookkeeping table aside)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts' and table_name <> '_publication'").fetchall()]
        return {n: sorted(map(tuple, con.execute(f"select * from marts.{n}").fetchall()), key=repr) for n in names}
    finally:
        con.close()
