"""A full demo year through dbt: a nightly day is incremental, and equals a rebuild.

Takes 2023 as generated (panro.generate: the session's `demo_landing`, generated once per run),
extracts it (panro.extract) and publishes every raw batch as is (the gate is not under test here: its
raw file linked, listed in the index), holding back the last day. Then: a full build; the last day
arrives and an incremental build takes it; a full refresh must give the same marts. The timings are
printed (`pytest -s`); speed is measured in bench/, not asserted here.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import duckdb
import pytest

from panro.domain.contracts import load_contracts
from panro.lake.batches import ensure_published_schemas, write_published_index
from panro.lake.ledger import Ledger
from panro.settings import DataDirs
from panro.transform.build import run_dbt

pytestmark = pytest.mark.slow(minutes=6)

LAST_DAY = dt.date(2023, 12, 31)


def publish_raw(dirs: DataDirs, *, hold_back: bool) -> int:
    """Publish every extracted batch as is, as the gate publishes batches that pass (their raw files
    linked into the published zone, each batch listed in its index); optionally hold back the last
    day. Returns how many batches are published."""
    with Ledger(dirs.ledger_path) as ledger:
        batches = [b for b in ledger.batches(status="extracted") if not (hold_back and b.business_date == LAST_DAY)]
    for raw in {Path(str(b.raw_path)) for b in batches}:
        linked = dirs.published / raw.parent.parent.name / raw.parent.name / raw.name
        if not linked.exists():
            linked.parent.mkdir(parents=True, exist_ok=True)
            os.link(raw, linked)
    write_published_index(dirs, [(b.partner, b.feed, b.batch_id,
                                  str(dirs.published / b.partner / b.feed / Path(str(b.raw_path)).name))
                                 for b in batches])
    ensure_published_schemas(dirs, load_contracts())
    return len(batches)


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


def test_a_year_builds_and_a_day_more_is_incremental_and_equals_a_rebuild(tmp_path: Path, demo_landing: Path) -> None:
    from panro.extract import extract

    dirs = DataDirs.from_env(tmp_path / "data", str(demo_landing))    # the generated year, read only
    with Ledger(dirs.ledger_path) as ledger:
        extract(dirs, None, ledger=ledger)
    held = publish_raw(dirs, hold_back=True)
    assert held > 4000

    full = run_dbt(dirs, "build")
    assert full.success, full.summary()

    added = publish_raw(dirs, hold_back=False) - held
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
