"""Tuning lives in `panro/settings.py`, each knob overridable by its environment variable, and a value
that is not one fails loudly instead of running with a default nobody asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from panro import settings


def _read(env: dict[str, str], names: str) -> subprocess.CompletedProcess:
    code = f"import panro.settings as s; print({names})"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)


def test_every_knob_is_taken_from_its_environment_variable():
    done = _read({"PANRO_WORKERS": "3", "PANRO_SEGMENT_FILES": "5", "PANRO_SEGMENT_MB": "2",
                  "PANRO_LEDGER_FLUSH_ROWS": "7", "PANRO_DBT_THREADS": "1", "PANRO_VALIDATION_ROWS": "9",
                  "PANRO_DBT_MEMORY_MB": "512", "PANRO_PROCESSES_MIN_MB": "4"},
                 "s.WORKERS, s.SEGMENT_FILES, s.SEGMENT_BYTES, s.LEDGER_FLUSH_ROWS, s.DBT_THREADS, s.VALIDATION_ROWS, "
                 "s.DBT_MEMORY_MB, s.PROCESSES_MIN_BYTES")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "5", str(2 * 1024 * 1024), "7", "1", "9", "512", str(4 * 1024 * 1024)]


def test_dbts_parse_is_kept_where_panro_dbt_parse_cache_says_else_in_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PANRO_DBT_PARSE_CACHE", str(tmp_path / "parse"))
    assert settings.dbt_parse_cache() == tmp_path / "parse"
    monkeypatch.delenv("PANRO_DBT_PARSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.dbt_parse_cache() == tmp_path / "xdg" / "panro"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert settings.dbt_parse_cache() == Path.home() / ".cache" / "panro"


def test_the_defaults_are_the_benchmarked_ones():
    assert (settings.SEGMENT_FILES, settings.SEGMENT_BYTES, settings.DBT_THREADS) == (32, 16 * 1024 * 1024, 2)
    assert settings.PROCESSES_MIN_BYTES == 16 * 1024 * 1024


@pytest.mark.parametrize("value", ["many", "0", "-2", "1.5"])
def test_a_knob_that_is_not_a_positive_whole_number_fails_at_start_naming_it(value):
    done = _read({"PANRO_SEGMENT_FILES": value}, "s.SEGMENT_FILES")
    assert done.returncode != 0
    assert f"PANRO_SEGMENT_FILES={value!r}" in done.stderr
