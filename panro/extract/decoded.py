"""What every reader returns (`Decoded`) and the checks of a file's columns against its contract that
the readers share (panro.extract.readers)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from panro.domain.contracts import FeedContract
from panro.domain.personal import mask
from panro.extract.errors import over
from panro.lake.batches import ARROW_TYPES

try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSONError = (ValueError,)

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Decoded:
    table: pa.Table              # the contract's columns, contract order, raw types; then any new ones
    row_numbers: np.ndarray      # int64, 1-based, one per row
    new_columns: tuple[str, ...] = ()   # columns the contract does not know, kept after its own


def sequential(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def target_schema(contract: FeedContract) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in contract.columns])


def new_columns(found: Sequence[str], contract: FeedContract) -> list[str]:
    """Columns of a delivered file the contract does not know, in the file's order."""
    expected = set(contract.column_names)
    return [c for c in found if c not in expected]


def is_unusable(name: str) -> bool:
    """A new column the raw zone cannot keep under its name: blank, or in the lineage's `_` namespace."""
    return not name.strip() or name.startswith("_")


def _names(names: Sequence[str], limit: int = 10) -> str:
    """Delivered column names as a reason may quote them: cut, at most `limit`, phone numbers masked."""
    shown = [mask(n if len(n) <= 40 else n[:39] + "…") for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{shown}{more}"


def column_problem(found: Sequence[str], contract: FeedContract, where: str) -> str | None:
    """Missing, renamed or repeated columns (and new ones that cannot be kept), named, with the expected
    set. A new column alone is no problem: it is kept beside the contract's (schema drift).

    Linear in the header's width. A header holding none of the contract's columns is not quoted: it
    is most likely the first data row of a file delivered without its header (names, phones)."""
    expected = contract.column_names
    known = set(expected)
    counts = Counter(found)
    repeated = sorted(c for c, n in counts.items() if n > 1)
    missing = [c for c in expected if c not in counts]
    unexpected = [c for c in found if c not in known]
    unusable = [c for c in unexpected if is_unusable(c)]
    if not (repeated or missing or unusable):
        return None
    if missing and len(missing) == len(expected):
        return (f"{where}: none of the contract's columns is in it ({len(found)} field(s), not quoted: the "
                f"header row is missing, and the first line is data?); expected the columns {expected}")
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if unexpected and (missing or unusable):
        parts.append(f"unexpected column(s) {_names(unexpected)}")
    if repeated:
        parts.append(f"repeated column(s) {_names(repeated)}")
    hint = " (renamed?)" if missing and unexpected else ""
    if unusable and not missing:
        hint = " (a column without a name, or named like the pipeline's own `_` columns)"
    return f"{where}: {' and '.join(parts)}{hint}; expected the columns {expected}"


def check_width(count: int, contract: FeedContract, where: str) -> None:
    if count > contract.limits.max_columns:
        raise over("max_columns", f"{where} has {count:,} columns", contract.limits.max_columns)
