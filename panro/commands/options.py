"""What the `panro` commands share: exit statuses, the options' types, the run's data directory (set
once from the options every command takes), and the usage error a command refuses a request with."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from cyclopts import Parameter

from panro.settings import DataDirs

EXIT_OK, EXIT_FAILED, EXIT_HELD_BACK = 0, 1, 2
EXIT_USAGE = 2

# the options every command takes (app.meta): where the data is, and how much is said
DataDir = Annotated[str | None, Parameter(name="--data-dir",
                                          help="data directory (default: $PANRO_DATA_DIR or ./data)")]
Landing = Annotated[str | None, Parameter(
    name="--landing", help="landing root, a folder or any fsspec URL (default: $PANRO_LANDING or DATA_DIR/landing)")]
Lake = Annotated[str | None, Parameter(
    name="--lake", help="where the raw, published and quarantine zones are, a folder or any fsspec URL (default: "
    "$PANRO_LAKE or DATA_DIR); S3 credentials and endpoint from the AWS environment, never in the URL "
    "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_PROFILE)")]
Quiet = Annotated[bool, Parameter(name=["--quiet", "-q"],
                                  help="say nothing but what needs a look (held back, overdue, failures): for cron")]
Verbose = Annotated[bool, Parameter(name=["--verbose", "-v"], help="also Prefect's own log lines")]
FailOnOverdue = Annotated[bool, Parameter(
    help="exit 2 when a feed is overdue (default: overdue feeds are reported, exit as usual)")]
DaskAddress = Annotated[str | None, Parameter(
    help="extract and check on this Dask cluster's workers, tcp://HOST:PORT (default: $PANRO_DASK_ADDRESS, "
         "else this machine: threads for a nightly, processes for a backfill)")]

_dirs: DataDirs | None = None
_as_command = False   # the `panro` console script: this process is the run's, and ends with it


def use_dirs(d: DataDirs) -> None:
    """Where this command's data is (from --data-dir, --landing, --lake or the environment)."""
    global _dirs
    _dirs = d


def dirs() -> DataDirs:
    return _dirs if _dirs is not None else DataDirs.from_env()


def run_as_command() -> None:
    """This process is the `panro` console script's: a run it starts ends with it (panro.runtime.guard)."""
    global _as_command
    _as_command = True


def as_command() -> bool:
    return _as_command


class UsageError(ValueError):
    """A request that cannot be: refused before anything runs."""


def check_span(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")

