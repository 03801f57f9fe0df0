"""Limits on what one delivered file may cost the night (issue 28): size, rows, columns, field
length, the uncompressed size of an Excel workbook's parts, and time.

Each feed's contract may set them (`limits:`, contracts/README.md); the defaults are far above any
real delivery (the largest generated file of a year at scale 1 is a few MB) and far below what
stalls a run. A file over a limit fails with the limit in its reason, and the rest of the night goes
on. The time limit is a per-file deadline the readers check as they go (`check_deadline`): the
other limits bound the work done between two checks (a 10⁶-column header, a 1 GB sheet, a
200 MB line never get that far).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from panro.contracts import MB, Limits, parse_limits
from panro.extract.errors import BadFile

__all__ = ["MB", "Limits", "check_deadline", "deadline", "over", "parse_limits"]

# -- the per-file deadline: set around one file's decoding, checked by the readers as they go --------

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within: `check_deadline` raises BadFile once `seconds` have passed (per thread: per file)."""
    previous = getattr(_local, "until", None)
    _local.until = (time.monotonic() + seconds, seconds)
    try:
        yield
    finally:
        _local.until = previous


def check_deadline(where: str = "") -> None:
    until = getattr(_local, "until", None)
    if until is not None and time.monotonic() > until[0]:
        at = f" (at {where})" if where else ""
        raise BadFile(f"decoding took longer than the feed's limit of {until[1]:g} s{at} "
                      "(limits.deadline_seconds); the file was given up")


def over(limit: str, found: str, allowed: object) -> BadFile:
    """The reason a file is over a limit: which, how much, what is allowed, where to change it."""
    return BadFile(f"{found}, over the feed's limit of {allowed} (limits.{limit} in the contract); "
                   "the file was not read further")
