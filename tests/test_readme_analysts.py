"""README's "For analysts" works as written: every command of its shell and Python blocks, run from a
folder laid out as the repository (`.venv`, `docs/`, `data/` with a published warehouse)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from panro.settings import REPO_ROOT, DataDirs


def analyst_section() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("### For analysts", 1)[1].split("\n### ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", analyst_section(), flags=re.S)


COMMANDS = [line for block in blocks("bash") for line in block.splitlines() if line.strip()]


@pytest.fixture
def checkout(small_publication: DataDirs, tmp_path: Path) -> Path:
    """A folder where the README's relative paths mean what they mean in a checkout after `make setup`."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "docs").symlink_to(REPO_ROOT / "docs")
    (tmp_path / "data").symlink_to(small_publication.root)
    return tmp_path


def run(checkout: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANRO_")}
    return subprocess.run(args, cwd=checkout, env=env, capture_output=True, text=True, timeout=300)


def test_the_section_shows_commands_for_the_cli_the_queries_and_the_export() -> None:
    assert any(c.startswith(".venv/bin/duckdb -readonly data/warehouse/panro.duckdb ") for c in COMMANDS)
    assert any("-f docs/queries/" in c for c in COMMANDS) and any("panro export" in c for c in COMMANDS)
    assert blocks("python")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_shell_command_works_as_written(command: str, checkout: Path) -> None:
    done = run(checkout, ["bash", "-c", command])
    assert done.returncode == 0 and not done.stderr, done.stderr
    assert done.stdout.strip()


def test_the_python_example_works_as_written(checkout: Path) -> None:
    [code] = blocks("python")
    done = run(checkout, [str(checkout / ".venv" / "bin" / "python"), "-c", code])
    assert done.returncode == 0, done.stderr
    assert "지원 소상공인 수" in done.stdout
