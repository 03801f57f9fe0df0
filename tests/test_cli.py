"""The command line refuses impossible requests with a usage message, before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from panro.cli import main


@pytest.mark.parametrize("argv", [
    ["backfill", "--start", "2023-05-03", "--end", "2023-05-01"],
    ["generate", "--start", "2023-05-02", "--end", "2023-05-01"],
    ["generate", "--scale", "0"],
    ["run", "--date", "2023-13-01"],
])
def test_impossible_arguments_are_usage_errors_and_touch_nothing(argv: list[str], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--data-dir", str(data_dir), *([] if argv[0] != "generate" else ["--out", str(tmp_path / "l")])])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "usage: panro" in err and "Traceback" not in err
    assert not data_dir.exists() and not (tmp_path / "l").exists()
