"""Readers: a delivered file's bytes → the partner's columns as an Arrow table, one reader per format.

Every reader returns a `Decoded`: the contract's columns, in contract order, with the contract's raw
types (`panro.lake.batches.ARROW_TYPES`), plus the 1-based row number of each row (data row of a CSV or
Excel sheet, line of JSON Lines, record index of a JSON document). Text formats keep every value as
the partner's text, verbatim; an empty field is NULL. Typed formats (JSON, Excel, Parquet) must
carry values that fit the raw type. A file that breaks its contract raises `BadFile` with a detail
naming the line/row, the column and what was expected — never the contents of a personal-data column.

Schema drift (issue 27): columns are matched to the contract by name, so a file with its columns in
another order reads as any other. A column the contract does not know (a partner's new export field)
is kept, after the contract's columns, under its own name (a JSON field under its dotted path), as
text (Parquet: in its own type): `Decoded.new_columns` names them, the raw zone keeps them, and the
gate publishes the contract's columns only. A missing or renamed column is still a bad file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from panro.domain.contracts import FeedContract
from panro.extract.decoded import Decoded
from panro.extract.errors import BadFile, over
from panro.extract.limits import MB, check_deadline, deadline, within_limits
from panro.extract.read_json import read_json, read_jsonl
from panro.extract.read_text import read_csv
from panro.extract.read_typed import read_parquet, read_xlsx

try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSONError = (ValueError,)

READERS: dict[str, Callable[[FeedContract, bytes], Decoded]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "json": read_json,
    "xlsx": read_xlsx,
    "parquet": read_parquet,
}


def decode(contract: FeedContract, data: bytes) -> Decoded:
    """The file's rows per its contract, or BadFile.

    A zero-byte file is bad: a day without rows is a header-only CSV, an Excel sheet with its header,
    a Parquet file with its schema, a JSON document with an empty list. JSON Lines has no header, so
    there an empty file is how a partner says "no events that day": a batch of zero rows.
    """
    if not data and contract.format != "jsonl":
        expected = {"csv": "at least a header row", "xlsx": "a workbook with a header row",
                    "parquet": "a Parquet file (with zero rows if there is nothing to send)",
                    "json": f"a JSON document (with an empty {contract.records!r} list if there is nothing)"}
        raise BadFile(f"the file is empty (0 bytes); expected {expected[contract.format]}")
    if len(data) > contract.limits.max_file_bytes:
        raise over("max_file_mb", f"the file has {len(data) / MB:,.1f} MB", f"{contract.limits.max_file_mb:g} MB")
    with deadline(contract.limits.deadline_seconds):
        decoded = READERS[contract.format](contract, data)
        check_deadline()
    return within_limits(contract, decoded)
