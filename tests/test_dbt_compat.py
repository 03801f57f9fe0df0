"""One parse of the dbt project serves every data directory (decision 0033): a new, copied or moved
data directory starts from the parse another one left (panro.transform.parse_cache), because what
dbt renders while parsing names no folder (the published zone is a SQL variable set by
panro.transform.dbt_plugin) and dbt's check of a kept parse looks at the warehouse's file name, not
its folder (the one patch in panro/transform/dbt_compat.py, which fails here when dbt changes it)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from panro import settings
from panro.settings import DBT_PROJECT_DIR, DataDirs
from panro.transform import dbt_compat, parse_cache
from panro.transform.build import run_dbt
from tests.support.published import index_published, warehouse_rows, write_small_delivery


def test_the_patched_upstream_function_is_the_code_the_patch_was_written_against() -> None:
    if not dbt_compat.enabled():
        pytest.skip(f"dbt {dbt_compat.DBT_VERSION} runs unpatched")
    changed = dbt_compat.changed_upstream()
    assert not changed, (f"dbt {dbt_compat.DBT_VERSION} changed {sorted(changed)}: re-read the upstream code, "
                         f"re-check the patch in panro/transform/dbt_compat.py, then record {changed}")


def test_nothing_dbt_renders_while_parsing_names_a_folder() -> None:
    """The patch is sound only while no model reads the warehouse's path while it is parsed, and a
    parse is shared only while nothing names the published zone's folder."""
    files = [p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in {".sql", ".yml"} and p.name != "profiles.yml"
             and not {"target", "logs", "dbt_packages"} & set(p.relative_to(DBT_PROJECT_DIR).parts)]
    assert len(files) > 20
    for path in files:
        text = path.read_text()
        assert not re.search(r"target\s*\.\s*(path|attach|external_root|settings)", text), path
        assert "PANRO_PUBLISHED_DIR" not in text and "PANRO_WORK_WAREHOUSE" not in text, path


def test_two_checkouts_on_one_machine_keep_a_parse_each(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A parse names its project's folder (dbt reads a seed's CSV from there): a checkout elsewhere
    must never start from it."""
    here = parse_cache.cache_file()
    monkeypatch.setattr(settings, "DBT_PROJECT_DIR", tmp_path / "another-checkout" / "dbt_project")
    assert parse_cache.cache_file() != here and parse_cache.cache_file().parent == here.parent


def _parsed_files(dirs: DataDirs) -> int:
    """How many project files dbt's last `parse` of `dirs` parsed (0: it took a kept parse up again)."""
    return json.loads((dirs.work / "dbt_target" / "perf_info.json").read_text())["parsed_path_count"]


def test_a_new_data_directory_starts_from_the_parse_another_left_and_reads_its_own_zone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANRO_DBT_PARSE_CACHE", str(tmp_path / "cache"))
    first = DataDirs.from_env(tmp_path / "first")            # nothing published there
    assert run_dbt(first, "parse").success
    assert _parsed_files(first) > 100                         # a whole parse, kept
    assert parse_cache.cache_file().parent == tmp_path / "cache" and parse_cache.cache_file().exists()

    second = DataDirs.from_env(tmp_path / "second")
    write_small_delivery(second)
    index_published(second)
    assert run_dbt(second, "parse").success
    assert _parsed_files(second) == 0                         # the first one's parse, taken up again
    run = run_dbt(second, "build", exclude="resource_type:unit_test")
    assert run.success, run.summary()
    orders = warehouse_rows(second.work_warehouse, "staging.stg_kt__kdeal_orders")
    assert {r[0] for r in orders} == {"O1", "O2", "O3", "O4", "O5"}   # its own zone's rows, not the first's

    moved = DataDirs.from_env(shutil.copytree(second.root, tmp_path / "moved"))
    shutil.rmtree(tmp_path / "cache")                         # only its own parse to go on
    assert run_dbt(moved, "parse").success
    assert _parsed_files(moved) == 0                          # a warehouse in another folder: the same parse
