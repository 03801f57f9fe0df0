"""Reading typed formats: Excel workbooks (within their inflated-size limit) and Parquet files, values
cast to the raw types (panro.extract.readers)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from panro.domain.contracts import Column, FeedContract
from panro.extract.decoded import Decoded, check_width, column_problem, new_columns, sequential, target_schema
from panro.extract.errors import BadFile, over, show
from panro.extract.limits import check_deadline, inflated_parts
from panro.lake.batches import ARROW_TYPES

try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSONError = (ValueError,)

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

    inflated_parts(contract, data)
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
        check_width(len(header_cells), contract, f"sheet {sheet_name!r} header (row 1)")
        while header_cells and header_cells[-1] is None:
            header_cells = header_cells[:-1]
        header = ["" if v is None else str(v) for v in header_cells]
        problem = column_problem(header, contract, f"sheet {sheet_name!r} header (row 1)")
        if problem:
            raise BadFile(problem)
        index = {name: i for i, name in enumerate(header)}
        picks = [(index[c.name], c) for c in contract.columns]
        extra = [(index[name], name) for name in new_columns(header, contract)]
        values: dict[str, list[Any]] = {c.name: [] for c in contract.columns} | {n: [] for _, n in extra}
        numbers: list[int] = []
        try:
            for data_row, cells in enumerate(rows, start=1):
                if data_row % 1024 == 0:
                    check_deadline(f"sheet {sheet_name!r} data row {data_row}")
                if data_row > contract.limits.max_rows:
                    raise over("max_rows", f"sheet {sheet_name!r} has more than {contract.limits.max_rows:,} rows",
                               f"{contract.limits.max_rows:,}")
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
    schema = pa.schema([*target_schema(contract), *(pa.field(n, pa.string()) for _, n in extra)])
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
    problem = column_problem(table.column_names, contract, "Parquet schema")
    if problem:
        raise BadFile(problem)
    extra = new_columns(table.column_names, contract)
    kept = [_decoded_dictionary(table.column(n)) for n in extra]
    schema = pa.schema([*target_schema(contract), *(pa.field(n, a.type) for n, a in zip(extra, kept, strict=True))])
    arrays = [_cast(table.column(c.name), c) for c in contract.columns] + kept
    return Decoded(pa.Table.from_arrays(arrays, schema=schema), sequential(table.num_rows), tuple(extra))


def _decoded_dictionary(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """A new Parquet column in its own type (a dictionary as its values: one type for every file)."""
    return array.cast(array.type.value_type) if pa.types.is_dictionary(array.type) else array
