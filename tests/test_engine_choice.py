"""Which of Prefect's task runners a run gets when nobody names one (panro.runtime.engines): a nightly
runs on threads; a backfill on a process per core, unless its landing files are too few megabytes
for spawned workers (each imports panro, Prefect and GX first) to pay; a named engine always wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from panro import settings
from panro.extract import preflight
from panro.extract.discover import forget_listings
from panro.runtime import engines
from panro.settings import DataDirs

BIG = settings.PROCESSES_MIN_BYTES


@pytest.fixture(autouse=True)
def _no_engine_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engines.ENGINE_VAR, raising=False)


@pytest.mark.parametrize(("kind", "work_bytes", "engine"), [
    ("nightly", None, "threads"),
    ("nightly", 50 * BIG, "threads"),            # a night is never worth a pool, however late files pile up
    ("backfill", None, "processes"),             # size not known: taken as big
    ("backfill", BIG, "processes"),
    ("backfill", BIG - 1, "threads"),
    ("backfill", 0, "threads"),
])
def test_by_default_the_run_s_kind_and_size_choose(kind: str, work_bytes: int | None, engine: str) -> None:
    assert engines.local_engine(kind, work_bytes=work_bytes) == engine
    runner = engines.task_runner(kind, work_bytes=work_bytes)
    assert type(runner).__name__ == {"threads": "ThreadPoolTaskRunner", "processes": "ProcessPoolTaskRunner"}[engine]
    assert engines.describe(kind, work_bytes=work_bytes) == f"local {engine}"


def test_an_engine_named_by_the_flow_or_the_environment_wins_over_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert engines.local_engine("backfill", "processes", work_bytes=0) == "processes"
    assert engines.local_engine("nightly", "processes", work_bytes=0) == "processes"
    monkeypatch.setenv(engines.ENGINE_VAR, "processes")
    assert engines.local_engine("backfill", work_bytes=0) == "processes"
    monkeypatch.setenv(engines.ENGINE_VAR, "threads")
    assert engines.local_engine("backfill", work_bytes=50 * BIG) == "threads"


def test_the_pre_flight_check_measures_the_files_dated_in_the_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for day, size in (("20230501", 1000), ("20230502", 300), ("20230510", 7)):
        folder = landing / "yogiyo" / "orders"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"orders_daily_{day}.csv").write_bytes(b"x" * size)
    (landing / "yogiyo" / "orders" / "notes.txt").write_bytes(b"y" * 5000)   # no partner's file: not counted
    dirs = DataDirs.from_env(tmp_path / "data", str(landing))
    try:
        size = preflight.check(dirs, [dt.date(2023, 5, 1), dt.date(2023, 5, 2)], "backfill", create=True)
    finally:
        forget_listings()
    assert size == 1300
