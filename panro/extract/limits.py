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

import io
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from panro.domain.contracts import MB, FeedContract, Limits, parse_limits
from panro.extract.errors import BadFile, over

if TYPE_CHECKING:
    from panro.extract.decoded import Decoded

__all__ = ["MB", "Limits", "check_deadline", "deadline", "inflated_parts", "over", "parse_limits", "within_limits"]

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


# -- the checks (the readers call them) ------------------------------------------------------------

def inflated_parts(contract: FeedContract, data: bytes) -> None:
    """A workbook whose sheets or shared strings inflate beyond the feed's limit (a zip bomb: 18 MB
    becoming 1 GB of XML) is failed before anything inflates it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            parts = [(i.filename, i.file_size) for i in z.infolist()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return   # not a zip at all: openpyxl says so, below
    limit = contract.limits.max_sheet_bytes
    for name, size in parts:
        if size > limit:
            raise over("max_sheet_mb", f"the workbook part {name[:60]!r} inflates to {size / MB:,.0f} MB",
                       f"{contract.limits.max_sheet_mb:g} MB")
    total = sum(size for _, size in parts)
    if total > 2 * limit:
        raise over("max_sheet_mb", f"the workbook inflates to {total / MB:,.0f} MB in all",
                   f"2 × {contract.limits.max_sheet_mb:g} MB")


def within_limits(contract: FeedContract, decoded: Decoded) -> Decoded:
    """Rows and the longest text value of each column, against the feed's limits."""
    limits = contract.limits
    table = decoded.table
    if table.num_rows > limits.max_rows:
        raise over("max_rows", f"the file has {table.num_rows:,} rows", f"{limits.max_rows:,}")
    for name in table.column_names:
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) or not len(column):
            continue
        lengths = pc.utf8_length(column)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > limits.max_field_chars:
            row = int(decoded.row_numbers[pc.index(lengths, longest).as_py()])
            raise over("max_field_chars", f"row {row}, column {name[:40]!r}: a value of {longest:,} characters",
                       f"{limits.max_field_chars:,}")
    return decoded
