"""Personal data (feeds.md): K-deal's 대표자명 (owner's name) and 연락처 (phone) never leave staging.

The published K-deal snapshots carry both. After a real dbt build, no relation in the work
warehouse — staging included, since stg_kt__kdeal_stores drops them — has such a column or holds
such a value, and dbt's own logs and compiled SQL do not show them either.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from panro.settings import DataDirs
from panro.transform.build import run_dbt
from tests.support.published import write_published, write_small_delivery

OWNER = "김비밀"
PHONE = "010-9876-5432"
PII_COLUMN_RE = re.compile(r"대표자|연락처|owner|phone|contact|mobile|tel", re.IGNORECASE)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> DataDirs:
    dirs = DataDirs.from_env(tmp_path_factory.mktemp("pii") / "data")
    write_small_delivery(dirs)  # its K-deal rows carry 홍길동 / 010-1234-5678
    write_published(dirs, "kt/kdeal_stores", "KDEAL_STORE_20230506.csv", [
        {"사업자등록번호": "101-86-62870", "상호명": "망원떡집", "대표자명": OWNER, "연락처": PHONE,
         "시도": "서울", "시군구": "마포구", "업종": "떡집", "입점일": "2023.05.06", "수수료면제": "N",
         "상세페이지지원": "N", "메시지발송건수": "0", "스마트상점": "N"}])
    run = run_dbt(dirs, "build")
    assert run.success, run.summary()
    return dirs


def _relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema not in ('information_schema', 'pg_catalog') order by 1, 2").fetchall()


def test_no_relation_has_a_personal_data_column(dirs: DataDirs) -> None:
    con = duckdb.connect(str(dirs.work_warehouse), read_only=True)
    try:
        rels = _relations(con)
        assert any(s == "intermediate" for s, _ in rels) and any(s == "marts" for s, _ in rels)
        cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns").fetchall()
    finally:
        con.close()
    assert [c for c in cols if PII_COLUMN_RE.search(c[2])] == []


def test_no_relation_holds_an_owner_name_or_phone_number(dirs: DataDirs) -> None:
    con = duckdb.connect(str(dirs.work_warehouse), read_only=True)
    found = []
    try:
        for schema, table in _relations(con):
            text_cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "and data_type = 'VARCHAR'", [schema, table]).fetchall()]
            for col in text_cols:
                hits = con.execute(
                    f'select count(*) from {schema}."{table}" where "{col}" in (?, ?, ?) '
                    f"or regexp_matches(\"{col}\", '01[016789]-?[0-9]{{3,4}}-?[0-9]{{4}}')",
                    [OWNER, "홍길동", PHONE]).fetchall()[0][0]
                if hits:
                    found.append((schema, table, col, hits))
    finally:
        con.close()
    assert found == []


def test_dbt_logs_and_artifacts_show_no_personal_data(dirs: DataDirs) -> None:
    files = [p for p in dirs.work.rglob("*") if p.is_file() and p.suffix in {".log", ".sql", ".json", ".txt"}]
    assert files
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        for value in (OWNER, "홍길동", PHONE, "010-1234-5678", PHONE.replace("-", ""), "01012345678"):
            assert value not in text, (p, value)


def test_published_batches_did_carry_it(dirs: DataDirs) -> None:
    """The check above means something: the input really had the personal data."""
    con = duckdb.connect()
    try:
        glob = str(Path(dirs.published) / "kt" / "kdeal_stores" / "*.parquet")
        n = con.execute(f"select count(*) from read_parquet('{glob}') where 대표자명 = ? and 연락처 = ?",
                        [OWNER, PHONE]).fetchall()[0][0]
    finally:
        con.close()
    assert n == 1
