"""Expensive test data built once per test run, however many processes run the tests.

`make test` runs the suite on pytest-xdist's workers (`-n auto`): each worker is a process of its own,
so a `scope="session"` fixture runs once *per worker*. For the fixtures that cost a minute (a
generated year, a dbt build) that is once too many. `built_once` makes them once per run:

    @pytest.fixture(scope="session")
    def my_year(tmp_path_factory):
        return built_once(tmp_path_factory, "my-year", lambda folder: generate(folder / "landing"))

The first process to ask builds into a folder shared by the run (under pytest's base temporary
folder, beside the workers' own), holding a file lock; the others wait on the lock and get what
it built: the folder's contents and `build`'s return value (pickled, so it must pickle). A build
that raises leaves nothing behind: the next process to ask builds again (and fails the same way,
with its own traceback). Without xdist it is simply a session fixture's body.

What `built_once` returns is shared between processes running at the same time: treat it as
read-only, and copy it (`copy_of`) before a test changes anything in it.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

_DONE = ".built.pickle"


def worker_id() -> str:
    """`gw0`, `gw1` … under pytest-xdist; `main` in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every process of this test run shares (xdist gives each worker a `popen-gwN` of its
    own inside it); without workers, the session's base temporary folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[None]:
    """An exclusive lock named `name`, held against the other processes of this test run."""
    locks = run_folder(tmp_path_factory) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{_safe(name)}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> T:
    """`build(folder)`'s result, built by the first process of the run to ask for `name`."""
    folder = run_folder(tmp_path_factory) / "built-once" / _safe(name)
    with run_lock(tmp_path_factory, f"built-once-{name}"):
        done = folder / _DONE
        if done.exists():
            return pickle.loads(done.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)      # a build that failed half-way
        folder.mkdir(parents=True)
        try:
            value = build(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        done.write_bytes(pickle.dumps(value))
        return value


def copy_of(source: Path, target: Path, *, hard_links: bool = False) -> Path:
    """A private copy of a shared folder, for a test that changes it. `hard_links=True` links the files
    instead of copying them (a year of feeds in a second): only for a test that never writes into a
    file in place (replacing a file, or adding one, is fine)."""
    if hard_links:
        try:
            return Path(shutil.copytree(source, target, symlinks=True, copy_function=os.link))
        except OSError:                  # another file system: copy
            shutil.rmtree(target, ignore_errors=True)
    return Path(shutil.copytree(source, target, symlinks=True))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
