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

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from panro.domain.contracts import Column, FeedContract
from panro.extract.errors import BadFile, show
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


def _sequential(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def _target_schema(contract: FeedContract) -> pa.Schema:
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in contract.columns])


def new_columns(found: Sequence[str], contract: FeedContract) -> list[str]:
    """Columns of a delivered file the contract does not know, in the file's order."""
    expected = set(contract.column_names)
    return [c for c in found if c not in expected]


def _unusable(name: str) -> bool:
    """A new column the raw zone cannot keep under its name: blank, or in the lineage's `_` namespace."""
    return not name.strip() or name.startswith("_")


def _column_problem(found: Sequence[str], contract: FeedContract, where: str) -> str | None:
    """Missing, renamed or repeated columns (and new ones that cannot be kept), named, with the expected
    set. A new column alone is no problem: it is kept beside the contract's (schema drift)."""
    expected = contract.column_names
    repeated = sorted({c for c in found if list(found).count(c) > 1})
    missing = [c for c in expected if c not in found]
    unexpected = new_columns(found, contract)
    unusable = [c for c in unexpected if _unusable(c)]
    if not (repeated or missing or unusable):
        return None
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if unexpected and (missing or unusable):
        parts.append(f"unexpected column(s) {unexpected}")
    if repeated:
        parts.append(f"repeated column(s) {repeated}")
    hint = " (renamed?)" if missing and unexpected else ""
    if unusable and not missing:
        hint = " (a column without a name, or named like the pipeline's own `_` columns)"
    return f"{where}: {' and '.join(parts)}{hint}; expected the columns {expected}"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode_error(data: bytes, e: UnicodeDecodeError, encoding: str, shift: int = 0) -> BadFile:
    offset = e.start + shift
    bad = data[offset:offset + 1].hex().upper()
    return BadFile(f"line {_line_of(data, offset)} (byte offset {offset}) is not valid {encoding}: "
                   f"byte 0x{bad} cannot be decoded; expected a {encoding} text file")


def _utf8_body(data: bytes, encoding: str) -> bytes:
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
    body = _utf8_body(data, contract.encoding)
    end = body.find(b"\n")
    header_line = (body if end < 0 else body[:end]).rstrip(b"\r").decode("utf-8")
    if not header_line.strip():
        raise BadFile(f"no header row; expected the columns {contract.column_names} "
                      f"separated by {contract.delimiter!r}")
    header = next(csv.reader([header_line], delimiter=contract.delimiter))
    problem = _column_problem(header, contract, "header (line 1)")
    if problem:
        raise BadFile(problem)
    rest = b"" if end < 0 else body[end + 1:]
    extra = new_columns(header, contract)
    schema = pa.schema([*_target_schema(contract), *(pa.field(c, pa.string()) for c in extra)])
    if not rest.strip():
        return Decoded(schema.empty_table(), _sequential(0), tuple(extra))
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
    return Decoded(table.select(contract.column_names + extra), _sequential(table.num_rows), tuple(extra))


# -- JSON values (shared by JSON Lines and JSON documents) -----------------------------------------

def _fit(value: Any, column: Column, where: str) -> Any:
    """A JSON value as the column's raw type, or BadFile when it does not fit."""
    if value is None:
        return None
    kind = column.type
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    if kind == "double" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    expected = {"string": "a string", "int": "an integer (64-bit)", "double": "a number",
                "date": "an ISO date string (YYYY-MM-DD)"}[kind]
    raise BadFile(f"{where}, field {column.name!r}: the value {show(value, column.pii)} "
                  f"({type(value).__name__}) does not fit the raw type {kind!r}: expected {expected} or null")


def _get(record: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = record
    for step in path:
        if not isinstance(node, dict) or step not in node:
            return False, None
        node = node[step]
    return True, node


def _leaves(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, (*prefix, k))
    else:
        yield prefix


def _covered(path: tuple[str, ...], paths: set[tuple[str, ...]]) -> bool:
    """A record's leaf is expected when a column's path leads to it or through it."""
    return (any(path[:i] in paths for i in range(1, len(path) + 1))
            or any(p[:len(path)] == path for p in paths))


def _as_text(value: Any) -> str | None:
    """A new field's value as the raw zone keeps it: text as it is, anything else as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _records_to_table(records: Iterator[tuple[int, dict[str, Any]]], columns: Sequence[Column],
                      constants: dict[str, Any], what: str) -> tuple[pa.Table, np.ndarray, set[str]]:
    """Flatten (row number, record) pairs by the columns' paths; check fields and types. A field no
    column's path leads to is a new column (its dotted path), kept as text after the contract's."""
    paths = {c.name: c.source_path for c in columns if c.name not in constants}
    known = set(paths.values())
    values: dict[str, list[Any]] = {c.name: [] for c in columns}
    extra: dict[str, list[Any]] = {}
    numbers: list[int] = []
    seen: set[str] = set()
    for number, record in records:
        where = f"{what} {number}"
        if not isinstance(record, dict):
            raise BadFile(f"{where}: expected a JSON object, found {type(record).__name__}")
        for leaf in _leaves(record):
            if leaf and not _covered(leaf, known):
                name = ".".join(leaf)
                if _unusable(name) or name in values:
                    raise BadFile(f"{where}: unexpected field {name!r}; expected the fields "
                                  f"{[c.path or c.name for c in columns if c.name not in constants]}")
                kept = extra.setdefault(name, [None] * len(numbers))
                kept.append(_as_text(_get(record, leaf)[1]))
        for kept in extra.values():
            if len(kept) == len(numbers):   # a new field this record does not have
                kept.append(None)
        for column in columns:
            if column.name in constants:
                values[column.name].append(constants[column.name])
                continue
            present, value = _get(record, paths[column.name])
            if present:
                seen.add(column.name)
            values[column.name].append(_fit(value, column, where))
        numbers.append(number)
    arrays = [pa.array(values[c.name], type=ARROW_TYPES[c.type]) for c in columns]
    arrays += [pa.array(v, type=pa.string()) for v in extra.values()]
    table = pa.Table.from_arrays(arrays, schema=pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in columns]
                                                          + [pa.field(n, pa.string()) for n in extra]))
    return table, np.asarray(numbers, dtype=np.int64), seen | set(constants)


def _decoded(table: pa.Table, numbers: np.ndarray, columns: Sequence[Column]) -> Decoded:
    return Decoded(table, numbers, tuple(table.column_names[len(columns):]))


def _missing_fields(columns: Sequence[Column], seen: set[str], rows: int) -> None:
    missing = [c.path or c.name for c in columns if c.name not in seen]
    if rows and missing:
        raise BadFile(f"field(s) {missing} appear in no record (missing or renamed?); expected the fields "
                      f"{[c.path or c.name for c in columns]}")


# -- JSON Lines ------------------------------------------------------------------------------------

def _jsonl_lines(body: bytes) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, _loads(line)
        except _JSONError as e:
            raise BadFile(f"line {number} is not valid JSON ({str(e).split(':')[0]}); "
                          "expected one JSON object per line") from None


def _jsonl_fast(contract: FeedContract, body: bytes) -> Decoded | None:
    """pyarrow's JSON reader for the common case; None when the slow path must decide."""
    if any(c.type == "json" or c.path for c in contract.columns):
        return None
    for c in contract.columns:  # a key that occurs nowhere: let the slow path name it
        if json.dumps(c.name).encode() not in body and json.dumps(c.name, ensure_ascii=False).encode() not in body:
            return None
    read_schema = pa.schema([pa.field(c.name, pa.string() if c.type == "date" else ARROW_TYPES[c.type])
                             for c in contract.columns])
    try:
        table = pjson.read_json(
            io.BytesIO(body), read_options=pjson.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pjson.ParseOptions(explicit_schema=read_schema, unexpected_field_behavior="error",
                                             newlines_in_values=False))
        table = table.select(contract.column_names)
        if any(c.type == "date" for c in contract.columns):
            table = table.cast(_target_schema(contract))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if lines == table.num_rows:
        numbers = _sequential(table.num_rows)
    else:  # blank lines: the row number is the line number
        numbers = np.asarray([n for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()],
                             dtype=np.int64)
    if len(numbers) != table.num_rows:
        return None
    return Decoded(table, numbers)


def read_jsonl(contract: FeedContract, data: bytes) -> Decoded:
    """JSON Lines: one object per line; the line number is the row number."""
    body = _utf8_body(data, contract.encoding)
    fast = _jsonl_fast(contract, body)
    if fast is not None:
        return fast
    table, numbers, seen = _records_to_table(_jsonl_lines(body), contract.columns, {}, "line")
    _missing_fields(contract.columns, seen, table.num_rows)
    return _decoded(table, numbers, contract.columns)


# -- JSON document ---------------------------------------------------------------------------------

def read_json(contract: FeedContract, data: bytes) -> Decoded:
    """One JSON document: `records` holds the rows, `document_fields` are copied onto every row."""
    body = _utf8_body(data, contract.encoding)
    try:
        doc = _loads(body)
    except _JSONError as e:
        line = getattr(e, "lineno", None)
        where = f" at line {line}" if line else ""
        raise BadFile(f"not a valid JSON document{where}; expected one JSON object with "
                      f"a {contract.records!r} list") from None
    records_key = contract.records or "records"
    if not isinstance(doc, dict) or not isinstance(doc.get(records_key), list):
        raise BadFile(f"expected a JSON object with a {records_key!r} list of records")
    allowed = {records_key, *contract.document_fields}
    unexpected = sorted(set(doc) - allowed)
    if unexpected:
        raise BadFile(f"unexpected top-level field(s) {unexpected}; expected {sorted(allowed)}")
    constants: dict[str, Any] = {}
    for name in contract.document_fields:
        column = next((c for c in contract.columns if c.name == name), None)
        if name not in doc:
            raise BadFile(f"the document has no top-level field {name!r}; expected {sorted(allowed)}")
        if column is not None:
            constants[name] = _fit(doc[name], column, "document")
    records = doc[records_key]
    table, numbers, seen = _records_to_table(iter(enumerate(records, start=1)), contract.columns,
                                             constants, "record")
    _missing_fields(contract.columns, seen, table.num_rows)
    return _decoded(table, numbers, contract.columns)


# -- Excel -----------------------------------------------------------------------------------------

def _cell(value: Any, column: Column, where: str) -> Any:
    """An Excel cell as the column's raw type; numbers stored for text columns become their digits."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    kind = column.type
    if isinstance(value, bool):
        pass
    elif kind in ("string", "json"):
        if isinstance(value, str):
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and math.isfinite(value):
            return str(int(value)) if value.is_integer() else repr(value)
    elif kind == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "double":
        if isinstance(value, int | float):
            return float(value)
    elif kind == "date":
        if isinstance(value, dt.datetime):
            if value.time() == dt.time(0):
                return value.date()
        elif isinstance(value, dt.date):
            return value
    expected = {"string": "text", "json": "text", "int": "a whole number", "double": "a number",
                "date": "an Excel date (no time of day)"}[kind]
    raise BadFile(f"{where}, column {column.name!r}: the cell {show(value, column.pii)} "
                  f"({type(value).__name__}) does not fit the raw type {kind!r}: expected {expected} or empty")


def _cell_text(value: Any) -> str | None:
    """A cell of a new column as text: a number as its digits, a date as ISO (no contract to fit)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def read_xlsx(contract: FeedContract, data: bytes) -> Decoded:
    """An Excel workbook: the contract's sheet, header in row 1; Excel dates become dates."""
    import openpyxl  # imported here: only Excel feeds pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, EOFError, ValueError) as e:
        raise BadFile(f"not a readable .xlsx workbook (truncated or corrupt: {type(e).__name__}); "
                      f"expected an Excel workbook with the sheet {contract.sheet!r}") from None
    try:
        sheet_name = contract.sheet or book.sheetnames[0]
        if sheet_name not in book.sheetnames:
            raise BadFile(f"no sheet {sheet_name!r}; the workbook has {book.sheetnames}")
        rows = book[sheet_name].iter_rows(values_only=True)
        try:
            header_cells = next(rows)
        except StopIteration:
            raise BadFile(f"sheet {sheet_name!r} is empty; expected a header row with the columns "
                          f"{contract.column_names}") from None
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as e:
            raise BadFile(f"sheet {sheet_name!r} cannot be read (truncated or corrupt: {type(e).__name__})"
                          ) from None
        while header_cells and header_cells[-1] is None:
            header_cells = header_cells[:-1]
        header = ["" if v is None else str(v) for v in header_cells]
        problem = _column_problem(header, contract, f"sheet {sheet_name!r} header (row 1)")
        if problem:
            raise BadFile(problem)
        index = {name: i for i, name in enumerate(header)}
        picks = [(index[c.name], c) for c in contract.columns]
        extra = [(index[name], name) for name in new_columns(header, contract)]
        values: dict[str, list[Any]] = {c.name: [] for c in contract.columns} | {n: [] for _, n in extra}
        numbers: list[int] = []
        try:
            for data_row, cells in enumerate(rows, start=1):
                if cells is None or all(v is None or v == "" for v in cells):
                    continue
                if any(v is not None and v != "" for v in cells[len(header):]):
                    raise BadFile(f"sheet {sheet_name!r} data row {data_row} (sheet row {data_row + 1}) "
                                  f"has values beyond the {len(header)} header columns")
                where = f"sheet {sheet_name!r} data row {data_row} (sheet row {data_row + 1})"
                for i, column in picks:
                    values[column.name].append(_cell(cells[i] if i < len(cells) else None, column, where))
                for i, name in extra:
                    values[name].append(_cell_text(cells[i] if i < len(cells) else None))
                numbers.append(data_row)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as e:
            raise BadFile(f"sheet {sheet_name!r} cannot be read to the end (truncated or corrupt: "
                          f"{type(e).__name__})") from None
    finally:
        book.close()
    schema = pa.schema([*_target_schema(contract), *(pa.field(n, pa.string()) for _, n in extra)])
    table = pa.Table.from_arrays([pa.array(values[f.name], type=f.type) for f in schema], schema=schema)
    return Decoded(table, np.asarray(numbers, dtype=np.int64), tuple(n for _, n in extra))


# -- Parquet ---------------------------------------------------------------------------------------

def _first_misfit(array: pa.ChunkedArray, target: pa.DataType, column: Column) -> str:
    """Which row's value does not cast (only on the failure path: one value at a time)."""
    for row, value in enumerate(array.combine_chunks(), start=1):
        try:
            value.cast(target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return (f"row {row}, column {column.name!r}: the value {show(value.as_py(), column.pii)} is out of "
                    f"range or has a fraction for the raw type {column.type!r} ({target})")
    return f"column {column.name!r}: a value is out of range for the raw type {column.type!r} ({target})"


def _cast(array: pa.ChunkedArray, column: Column) -> pa.ChunkedArray:
    """A Parquet column as its raw type, when its values fit (a safe cast: no overflow, no truncation)."""
    target = ARROW_TYPES[column.type]
    source = array.type
    if pa.types.is_dictionary(source):
        array, source = array.cast(source.value_type), source.value_type
    fits = (
        pa.types.is_null(source)
        or source == target
        or (column.type in ("string", "json") and (pa.types.is_string(source) or pa.types.is_large_string(source)))
        or (column.type in ("int", "double") and (pa.types.is_integer(source) or pa.types.is_floating(source)
                                                  or pa.types.is_decimal(source)))
        or (column.type == "date" and (pa.types.is_date(source) or pa.types.is_timestamp(source)))
    )
    if not fits:
        raise BadFile(f"column {column.name!r} is of Parquet type {source}, which does not fit the raw type "
                      f"{column.type!r} ({target})")
    if pa.types.is_timestamp(source) and column.type == "date":
        naive = array.cast(pa.timestamp(source.unit)) if source.tz is not None else array
        midnight = pc.equal(naive.cast(pa.date32()).cast(pa.timestamp(source.unit)), naive)
        if not pc.all(pc.fill_null(midnight, True)).as_py():
            raise BadFile(f"column {column.name!r} holds timestamps with a time of day, which do not fit the "
                          "raw type 'date'")
    try:
        return pc.cast(array, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise BadFile(_first_misfit(array, target, column)) from None


def read_parquet(contract: FeedContract, data: bytes) -> Decoded:
    """A Parquet file: the contract's columns, cast (safely) to their raw types."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as e:
        cause = str(e).split("': ")[-1].split(". ")[0][:100]  # e.g. "Parquet magic bytes not found in footer"
        raise BadFile(f"not a readable Parquet file (truncated or corrupt: {cause}); expected "
                      f"Parquet with the columns {contract.column_names}") from None
    problem = _column_problem(table.column_names, contract, "Parquet schema")
    if problem:
        raise BadFile(problem)
    extra = new_columns(table.column_names, contract)
    kept = [_decoded_dictionary(table.column(n)) for n in extra]
    schema = pa.schema([*_target_schema(contract), *(pa.field(n, a.type) for n, a in zip(extra, kept, strict=True))])
    arrays = [_cast(table.column(c.name), c) for c in contract.columns] + kept
    return Decoded(pa.Table.from_arrays(arrays, schema=schema), _sequential(table.num_rows), tuple(extra))


def _decoded_dictionary(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """A new Parquet column in its own type (a dictionary as its values: one type for every file)."""
    return array.cast(array.type.value_type) if pa.types.is_dictionary(array.type) else array


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
    return READERS[contract.format](contract, data)
