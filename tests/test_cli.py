"""The command line: impossible requests are usage errors, misconfiguration fails loudly before anything runs,
and what it prints is what a terminal shows (issue 25). None of these start Prefect."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.cells import cell_len

from panro.cli import main
from tests.support.landing import deliver

PANRO = Path(sys.executable).parent / "panro"


def panro(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PANRO), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("argv", [
    ["backfill", "--start", "2023-05-03", "--end", "2023-05-01"],
    ["generate", "--start", "2023-05-02", "--end", "2023-05-01"],
    ["generate", "--scale", "0"],
    ["run", "--date", "2023-13-01"],
    ["run", "--no-such-option"],
    ["backfill", "--start", "2023-05-01"],
])
def test_impossible_arguments_are_usage_errors_and_touch_nothing(argv: list[str], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    out = [] if argv[0] != "generate" else ["--out", str(tmp_path / "l")]
    code = main([*argv, "--data-dir", str(data_dir), *out])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("panro: ") and "panro --help" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not data_dir.exists() and not (tmp_path / "l").exists()


def test_version_names_the_installed_package() -> None:
    result = panro("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"panro {version('panro')}"


def test_help_lists_every_command_and_the_global_options() -> None:
    result = panro("--help")
    assert result.returncode == 0
    for word in ("run", "backfill", "quarantine", "export", "generate", "demo", "--quiet", "--verbose", "--version",
                 "--data-dir", "--landing"):
        assert word in result.stdout, word


# -- misconfiguration: exit 1, one sentence, nothing created ----------------------------------------

def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("panro: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def _landing_with(tmp_path: Path, day: dt.date) -> Path:
    landing = tmp_path / "landing"
    deliver(landing, "yogiyo/orders", day)
    return landing


def test_a_landing_that_does_not_exist_fails_the_run_and_creates_nothing(tmp_path: Path) -> None:
    data_dir, landing = tmp_path / "data", tmp_path / "typo"
    line = _one_sentence(panro("run", "--date", "2023-05-03", "--data-dir", str(data_dir), "--landing", str(landing)))
    assert f"the landing {landing} does not exist" in line and "--landing" in line
    line = _one_sentence(panro("backfill", "--start", "2023-05-01", "--end", "2023-05-03", "--data-dir",
                               str(data_dir), "--landing", str(landing)))
    assert "does not exist" in line
    assert not data_dir.exists() and not landing.exists()


def test_a_landing_that_cannot_be_listed_fails_the_run(tmp_path: Path) -> None:
    with socket.socket() as s:        # a port on this machine where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    landing = f"ftp://127.0.0.1:{port}/landing"
    line = _one_sentence(panro("run", "--date", "2023-05-03", "--data-dir", str(tmp_path / "data"),
                               "--landing", landing))
    assert f"the landing {landing} cannot be" in line and "ConnectionRefusedError" in line
    assert not (tmp_path / "data").exists()


def test_a_landing_that_is_a_file_fails_the_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing.csv"
    landing.write_text("a,b\n", encoding="utf-8")
    line = _one_sentence(panro("run", "--date", "2023-05-03", "--data-dir", str(tmp_path), "--landing", str(landing)))
    assert "is not a folder" in line


def test_run_on_a_data_dir_that_does_not_exist_fails_unless_told_to_create_it(tmp_path: Path) -> None:
    landing = _landing_with(tmp_path, dt.date(2023, 5, 3))
    data_dir = tmp_path / "dta"   # a mistyped --data-dir
    line = _one_sentence(panro("run", "--date", "2023-05-03", "--data-dir", str(data_dir), "--landing", str(landing)))
    assert f"the data directory {data_dir} does not exist" in line and "--init" in line
    assert not data_dir.exists()


def test_a_night_when_no_partner_delivered_anything_fails_and_says_what_the_landing_holds(tmp_path: Path) -> None:
    landing = _landing_with(tmp_path, dt.date(2023, 1, 2))   # only a file from months before
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    line = _one_sentence(panro("run", "--date", "2023-05-03", "--data-dir", str(data_dir), "--landing", str(landing)))
    assert "no partner delivered any file dated 2023-04-26 … 2023-05-03" in line
    assert "the newest of 2023-01-02" in line
    assert list(data_dir.iterdir()) == []         # nothing written: no ledger, no warehouse, no marts
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _one_sentence(panro("backfill", "--start", "2023-05-01", "--end", "2023-05-03", "--data-dir",
                               str(tmp_path / "new"), "--landing", str(empty)))
    assert "it holds no partner file at all" in line
    assert not (tmp_path / "new").exists()


def test_the_flow_itself_refuses_a_missing_data_dir(tmp_path: Path) -> None:
    """A deployment's run (no command line in front of it) checks the same, before any work."""
    from panro.extract import preflight
    from panro.settings import DataDirs

    dirs = DataDirs.from_env(tmp_path / "nope", str(_landing_with(tmp_path, dt.date(2023, 5, 3))))
    with pytest.raises(preflight.Misconfigured, match="does not exist"):
        preflight.check(dirs, [dt.date(2023, 5, 3)], "nightly")
    preflight.check(dirs, [dt.date(2023, 5, 3)], "nightly", create=True)
    assert dirs.root.is_dir()


# -- what a terminal shows -----------------------------------------------------------------------

def test_the_kpi_table_lines_up_in_a_terminal_where_hangul_is_two_columns_wide() -> None:
    from panro.domain import article

    names = {("ALL", "merchants_reached"): "지원 소상공인 수 · 전체",
             ("kakao", "traditional_markets"): "전통시장 · 카카오",
             ("baemin", "course_satisfaction_avg"): "교육 만족도 (평균) · 배달의민족"}
    text = article.format_table(article.compare({("ALL", "merchants_reached"): 16_867.0,
                                                 ("kakao", "traditional_markets"): 111.0}), names)
    lines = [ln for ln in text.splitlines() if ln.endswith(("✓", "✗"))]
    assert len(lines) == 11 and "지원 소상공인 수 · 전체" in lines[0] and "교육 만족도 (평균) · 배달의민족" in lines[4]
    # in terminal cells, the pipeline's figures end in one column, and so do the ok marks
    pipeline_ends = {cell_len(ln[:ln.index(v) + len(v)]) for ln, v in ((lines[0], "16,867"), (lines[1], "111"),
                                                                      (lines[4], "—"), (lines[10], "—"))}
    assert len(pipeline_ends) == 1, text
    assert len({cell_len(ln) for ln in lines}) == 1, text
