"""A full demo year through dbt: the build is fast, a nightly day is incremental, and equals a rebuild.

Generates 2023 (panro.generate), extracts it (panro.extract) and publishes every raw batch as is
(the gate is not under test here), holding back the last day. Then: a full build; the last day
arrives and an incremental build takes it; a full refresh must give the same marts. The timings
are printed (`pytest -s`); the bounds are generous because CI machines are shared.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest

from panro.batches import ensure_published_schemas
from panro.contracts import load_contracts
from panro.ledger import Ledger
from panro.settings import DataDirs
from panro.transform import run_dbt

pytestmark = pytest.mark.slow

LAST_DAY = ("20231231", "2023-12-31")


def publish_raw(dirs: DataDirs, *, hold_back: bool) -> int:
    """Copy raw batches to the published zone (one per file name); optionally hold back the last day."""
    n = 0
    for p in sorted(dirs.raw.glob("*/*/*.parquet")):
        name = p.name.rsplit("@", 1)[0]
        if hold_back and any(d in name for d in LAST_DAY):
            continue
        dest = dirs.published / p.parent.parent.name / p.parent.name / f"{name}.parquet"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
            n += 1
    ensure_published_schemas(dirs, load_contracts())
    return n


def marts(path: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()]
        return {n: sorted((tuple(round(v, 9) if isinstance(v, float) else v for v in r)
                           for r in con.execute(f"select * from marts.{n}").fetchall()), key=repr)
                for n in names}
    finally:
        con.close()


def test_a_year_builds_fast_and_a_day_incrementally(tmp_path: Path) -> None:
    from panro.extract import extract
    from panro.generate import generate

    dirs = DataDirs.from_env(tmp_path / "data")
    generate(Path(dirs.landing_url))
    with Ledger(dirs.ledger_path) as ledger:
        extract(dirs, None, ledger=ledger)
    held = publish_raw(dirs, hold_back=True)
    assert held > 4000

    full = run_dbt(dirs, "build")
    assert full.success, full.summary()

    added = publish_raw(dirs, hold_back=False)
    assert 5 <= added <= 12
    started = time.perf_counter()
    nightly = run_dbt(dirs, "build")
    nightly_s = time.perf_counter() - started
    assert nightly.success, nightly.summary()
    incremental = marts(dirs.work_warehouse)

    refresh = run_dbt(dirs, "build", full_refresh=True, exclude="resource_type:test resource_type:unit_test")
    assert refresh.success, refresh.summary()
    assert marts(dirs.work_warehouse) == incremental

    kpis = {(r[1], r[2]): r[3] for r in incremental["mart_program_kpis"] if r[0] == 2023}
    assert kpis[("ALL", "merchants_reached")] == 16_867
    print(f"\nfull year build {full.elapsed:.1f}s ({full.nodes} nodes); "
          f"one more day, incremental {nightly_s:.1f}s; full refresh (models only) {refresh.elapsed:.1f}s")
    assert full.elapsed < 240 and nightly_s < 180
