"""A backfill's helpers: one thread each, one process per core; they end with the run, their forkserver
without Python's finalization."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from panro import helpers

REPO = Path(__file__).resolve().parent.parent

RUN = """
from panro import helpers
helpers._PRELOAD = {preload!r}
helpers.start_loading()
with helpers.Helpers(processes=1) as h:
    h.submit(int).result()
"""


def test_the_forkserver_loads_its_exit_first() -> None:
    assert helpers._PRELOAD[0] == "panro.forkserver_exit"


@pytest.mark.parametrize("preload, finalized", [
    (["panro.forkserver_exit", "tests.support.exit_probe"], False),
    (["tests.support.exit_probe"], True),      # the probe sees a finalization when there is one
], ids=["as the helpers load it", "without it"])
def test_once_the_run_is_gone_the_forkserver_leaves_its_objects_to_the_os(
        tmp_path: Path, preload: list[str], finalized: bool) -> None:
    mark = tmp_path / "finalized"
    # the pipes stay open until the forkserver, which inherited them, has exited too
    done = subprocess.run([sys.executable, "-c", RUN.format(preload=preload)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PANRO_EXIT_PROBE": str(mark)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert mark.exists() is finalized


def test_a_helper_works_on_one_thread_of_its_own_as_one_process_per_core() -> None:
    import pyarrow as pa

    before = pa.cpu_count()
    with helpers.Helpers(processes=1) as h:
        assert h.submit(pa.cpu_count).result() == 1      # Arrow's pool: one thread in the helper
    assert pa.cpu_count() == before                         # this process keeps its own
