"""Reading CSV and pipe-delimited files (any encoding the contract names): every value the partner's text,
verbatim (panro.extract.readers)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from panro.domain.contracts import FeedContract
from panro.extract.decoded import BOM, Decoded, check_width, column_problem, new_columns, sequential, target_schema
from panro.extract.errors import BadFile

try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSONError = (ValueError,)

def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode_error(data: bytes, e: UnicodeDecodeError, encoding: str, shift: int = 0) -> BadFile:
    offset = e.start + shift
    bad = data[offset:offset + 1].hex().upper()
    return BadFile(f"line {_line_of(data, offset)} (byte offset {offset}) is not valid {encoding}: "
                   f"byte 0x{bad} cannot be decoded; expected a {encoding} text file")


def utf8_body(data: bytes, encoding: str) -> bytes:
    """The file's text as UTF-8 bytes (checked), without a byte-order mark."""
    if encoding == "cp949":
        try:
            return data.decode("cp949").encode("utf-8")
        except UnicodeDecodeError as e:
            raise _decode_error(data, e, "cp949") from None
    if encoding == "utf-8-sig" and not data.startswith(BOM):
        raise BadFile("no UTF-8 byte-order mark (BOM) at the start of the file; the contract expects "
                      "UTF-8 with BOM (utf-8-sig)")
    if encoding not in ("utf-8", "utf-8-sig"):
        raise BadFile(f"the contract's encoding {encoding!r} is not supported (cp949, utf-8, utf-8-sig)")
    shift = len(BOM) if data.startswith(BOM) else 0
    body = data[shift:]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _decode_error(data, e, "UTF-8", shift) from None
    return body


# -- CSV and other delimited text ------------------------------------------------------------------

_ROW_IN_ERROR = re.compile(r"Row #(\d+)")


def read_csv(contract: FeedContract, data: bytes) -> Decoded:
    """Delimited text (CSV, pipe files): every column a string, verbatim; an empty field is NULL."""
    body = utf8_body(data, contract.encoding)
    end = body.find(b"\n")
    header_line = (body if end < 0 else body[:end]).rstrip(b"\r").decode("utf-8")
    if not header_line.strip():
        raise BadFile(f"no header row; expected the columns {contract.column_names} "
                      f"separated by {contract.delimiter!r}")
    check_width(header_line.count(contract.delimiter) + 1, contract, "the header (line 1)")  # before parsing it
    header = next(csv.reader([header_line], delimiter=contract.delimiter))
    problem = column_problem(header, contract, "header (line 1)")
    if problem:
        raise BadFile(problem)
    rest = b"" if end < 0 else body[end + 1:]
    extra = new_columns(header, contract)
    schema = pa.schema([*target_schema(contract), *(pa.field(c, pa.string()) for c in extra)])
    if not rest.strip():
        return Decoded(schema.empty_table(), sequential(0), tuple(extra))
    invalid: list[tuple[int | None, int, int]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pcsv.read_csv(
            io.BytesIO(rest),
            read_options=pcsv.ReadOptions(column_names=header, use_threads=False, block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=contract.delimiter, newlines_in_values=True,
                                            invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid as e:  # the message may quote the row: keep only its number
        m = _ROW_IN_ERROR.search(str(e))
        where = f"data row {m.group(1)}" if m else "a data row"
        raise BadFile(f"{where} cannot be parsed as {contract.delimiter!r}-delimited text "
                      f"(unbalanced quotes?); expected {len(header)} fields per row") from None
    if invalid:
        number, expected, actual = invalid[0]
        where = f"data row {number}" if number is not None else "a data row"
        more = f" ({len(invalid)} such rows)" if len(invalid) > 1 else ""
        raise BadFile(f"{where} has {actual} field(s), expected {expected} like the header{more}")
    return Decoded(table.select(contract.column_names + extra), sequential(table.num_rows), tuple(extra))
