"""dbt in the run's process (dbt's own `dbtRunner`): a build that starts from the parse made ahead,
while the run extracted, gives what a build that parses itself gives; after a command the work
warehouse is closed again; DuckDB gets each of dbt's threads' share of the cores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from panro import settings
from panro.settings import DataDirs
from panro.transform import build as transform
from panro.transform.build import duckdb_threads, parse_ahead
from panro.transform.rebuild import build_for_run, project_fingerprint
from tests.support.published import warehouse_rows, write_small_delivery


def test_a_build_from_the_parse_made_ahead_gives_what_a_build_that_parses_itself_gives(tmp_path: Path) -> None:
    ahead, itself = (DataDirs.from_env(tmp_path / name) for name in ("ahead", "itself"))
    for dirs in (ahead, itself):
        write_small_delivery(dirs)
    assert parse_ahead(ahead)
    assert ahead.work in transform._PARSED          # the build takes it
    from_parse, _ = build_for_run(ahead)
    assert ahead.work not in transform._PARSED      # taken once
    parsed_itself, _ = build_for_run(itself)
    assert from_parse.success, from_parse.summary()
    assert from_parse.statuses == parsed_itself.statuses  # every node, with the same outcome
    assert from_parse.nodes > 100
    for relation in ("marts.mart_program_kpis", "marts.mart_festival_sales", "marts.mart_support_reach"):
        built = warehouse_rows(ahead.work_warehouse, relation)
        assert built and built == warehouse_rows(itself.work_warehouse, relation), relation
    assert (ahead.work / "built_with.fingerprint").read_text() == project_fingerprint()

    # dbt's DuckDB is closed after the build: another process may open the work warehouse to write
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('create table probe as select 1').fetchall()"
    done = subprocess.run([sys.executable, "-c", code, str(ahead.work_warehouse)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4)])
def test_duckdb_gives_each_of_dbts_threads_its_share_of_the_cores(cores: int, threads: int) -> None:
    assert duckdb_threads(cores) == threads


def test_dbts_duckdb_runs_with_the_threads_panro_gives_it(dirs: DataDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's own default is every core of the machine; under dbt it gets its share."""
    monkeypatch.setattr(settings, "CORES", 8)
    result, _ = transform._invoke(dirs, ["show", "--inline", "select current_setting('threads') as threads",
                                         "--output", "json"])
    assert result.success, result.exception
    assert [int(v) for v in result.result.results[0].agate_table.columns["threads"]] == [4]


def test_dbts_duckdb_holds_at_most_the_memory_panro_gives_it_then_spills(
        dirs: DataDirs, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's own default is 80 % of the machine; under dbt it gets PANRO_DBT_MEMORY_MB (a scale-4 year's
    build held 2.8 GB without it, bench/bench_pipeline.py)."""
    monkeypatch.setattr(settings, "DBT_MEMORY_MB", 768)
    result, _ = transform._invoke(dirs, ["show", "--inline", "select current_setting('memory_limit') as memory_limit",
                                         "--output", "json"])
    assert result.success, result.exception
    (limit,) = result.result.results[0].agate_table.columns["memory_limit"]
    assert limit == "732.4 MiB"   # 768 MB, shown by DuckDB in MiB
