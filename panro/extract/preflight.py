"""Misconfiguration fails loudly, before a run does anything (issue 25).

A run that cannot find its landing, that would start a new data directory where an existing one was
meant (a mistyped `--data-dir`), or that finds no partner delivered anything at all, would otherwise
publish empty marts and exit 0. `check` raises `Misconfigured`, one sentence saying what to fix,
before the run takes its lock, writes its ledger or starts Prefect's work: nothing is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from panro.lake import storage
from panro.settings import DataDirs

# a nightly accepts files dated in the week before its business date (partners deliver a day late,
# some weekly): a week without one file of any feed is a landing that is not the partners' drop
NIGHTLY_LOOKBACK_DAYS = 7


class Misconfigured(RuntimeError):
    """The run cannot do what it was asked: the message says what to fix."""


def check_data_dir(dirs: DataDirs, *, create: bool) -> None:
    """The data directory exists, or this run was told to create it (`create`)."""
    if dirs.root.is_dir():
        return
    if dirs.root.exists():
        raise Misconfigured(f"the data directory {dirs.root} is not a folder: point --data-dir "
                            "(PANRO_DATA_DIR) at the pipeline's data directory")
    if not create:
        raise Misconfigured(f"the data directory {dirs.root} does not exist: check --data-dir (PANRO_DATA_DIR), "
                            "or start a new one with `panro run --init` or `panro backfill`")
    dirs.root.mkdir(parents=True, exist_ok=True)


def window(dates: Sequence[dt.date], kind: str) -> tuple[dt.date, dt.date]:
    """The business dates a run expects some file of: a backfill's range; a nightly's date and the week before."""
    first, last = min(dates), max(dates)
    if kind == "nightly":
        first -= dt.timedelta(days=NIGHTLY_LOOKBACK_DAYS)
    return first, last


def check_landing(dirs: DataDirs, dates: Sequence[dt.date], kind: str) -> int:
    """The landing exists, can be listed, and holds some partner's file dated in the run's `window`.
    Returns the bytes of the files dated in it: the run's size (`panro.runtime.engines`)."""
    from panro.extract.discover import open_landing

    where = dirs.landing_url
    for url, what in ((where, "landing"), (dirs.lake_url, "lake")):
        if url is not None and storage.is_s3(url):
            try:   # an object store that does not answer, no such bucket, access refused: named, no listing
                storage.check_reachable(url, what)
            except storage.StorageUnreachable as e:
                raise Misconfigured(f"{e}: check --{what} (PANRO_{what.upper()}) and the AWS settings "
                                    "(AWS_ENDPOINT_URL, AWS_PROFILE, the keys)") from None
    if storage.is_s3(where):
        return _check_found(dirs, dates, kind)   # an object store has no folders to ask about: one listing
    try:
        fs, root = open_landing(where)
        exists = fs.exists(root)
    except Exception as e:
        raise Misconfigured(f"the landing {where} cannot be opened ({type(e).__name__}: {e}): "
                            "check --landing (PANRO_LANDING)") from e
    if not exists:
        raise Misconfigured(f"the landing {where} does not exist: point --landing (PANRO_LANDING) at the "
                            "folder the partners deliver to")
    if not fs.isdir(root):
        raise Misconfigured(f"the landing {where} is not a folder: point --landing (PANRO_LANDING) at the "
                            "folder the partners deliver to")
    try:
        fs.ls(root, detail=False)
    except Exception as e:
        raise Misconfigured(f"the landing {where} cannot be listed ({type(e).__name__}: {e}): "
                            "check its permissions or credentials") from e
    return _check_found(dirs, dates, kind)


def _check_found(dirs: DataDirs, dates: Sequence[dt.date], kind: str) -> int:
    """The landing holds some partner's file dated in the run's `window` (one listing: discovery's);
    returns their bytes."""
    from panro.domain.contracts import load_contracts
    from panro.extract.discover import listing_for_run

    where = dirs.landing_url
    try:   # extraction reuses this listing (one per run)
        found, _ = listing_for_run(where, load_contracts())
    except Exception as e:
        raise Misconfigured(f"the landing {where} cannot be listed ({type(e).__name__}: {e}): "
                            "check its permissions or credentials") from e
    first, last = window(dates, kind)
    dated = [f.business_date for f in found if f.business_date is not None]
    if not any(first <= d <= last for d in dated) and not any(f.date_problem for f in found):
        span = f"{first}" if first == last else f"{first} … {last}"
        held = (f"it holds {len(found):,} partner files, the newest of {max(dated)}" if dated
                else "it holds no partner file at all")
        raise Misconfigured(f"no partner delivered any file dated {span} to the landing {where} ({held}): "
                            "check --landing (PANRO_LANDING) and the run's dates")
    return sum(f.size for f in found if f.business_date is not None and first <= f.business_date <= last)


def check(dirs: DataDirs, dates: Sequence[dt.date], kind: str, *, create: bool = False) -> int:
    """Everything a run needs before it starts; raises `Misconfigured` naming the first thing missing.
    The landing is checked first: a run that cannot start creates no data directory. Returns the
    bytes of the landing's files dated in the run's window (`check_landing`)."""
    from panro.extract.discover import forget_listings

    try:
        size = check_landing(dirs, dates, kind)
        check_data_dir(dirs, create=create)
    except Misconfigured:
        forget_listings()   # a run that does not start leaves no listing for the next one
        raise
    return size
