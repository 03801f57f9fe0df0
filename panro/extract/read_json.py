"""Reading JSON Lines and JSON documents: records flattened by the contract's paths, values fitted to
the raw types (panro.extract.readers)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pjson

from panro.domain.contracts import Column, FeedContract
from panro.domain.personal import mask
from panro.extract.decoded import Decoded, is_unusable, sequential, target_schema
from panro.extract.errors import BadFile, over, show
from panro.extract.limits import check_deadline
from panro.extract.read_text import utf8_body
from panro.lake.batches import ARROW_TYPES

try:  # orjson is several times faster; the standard library is the fallback
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSONError = (ValueError,)

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
                      constants: dict[str, Any], what: str, max_columns: int = 10**9,
                      ) -> tuple[pa.Table, np.ndarray, set[str]]:
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
        if number % 1024 == 0:
            check_deadline(where)
        if not isinstance(record, dict):
            raise BadFile(f"{where}: expected a JSON object, found {type(record).__name__}")
        for leaf in _leaves(record):
            if leaf and not _covered(leaf, known):
                name = ".".join(leaf)
                if is_unusable(name) or name in values:
                    raise BadFile(f"{where}: unexpected field {mask(name[:40])!r}; expected the fields "
                                  f"{[c.path or c.name for c in columns if c.name not in constants]}")
                if name not in extra and len(values) + len(extra) >= max_columns:
                    raise over("max_columns", f"{where} brings the fields to more than {max_columns:,}",
                               max_columns)
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
            table = table.cast(target_schema(contract))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    if lines == table.num_rows:
        numbers = sequential(table.num_rows)
    else:  # blank lines: the row number is the line number
        numbers = np.asarray([n for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()],
                             dtype=np.int64)
    if len(numbers) != table.num_rows:
        return None
    return Decoded(table, numbers)


def read_jsonl(contract: FeedContract, data: bytes) -> Decoded:
    """JSON Lines: one object per line; the line number is the row number."""
    body = utf8_body(data, contract.encoding)
    fast = _jsonl_fast(contract, body)
    if fast is not None:
        return fast
    table, numbers, seen = _records_to_table(_jsonl_lines(body), contract.columns, {}, "line",
                                             contract.limits.max_columns)
    _missing_fields(contract.columns, seen, table.num_rows)
    return _decoded(table, numbers, contract.columns)


# -- JSON document ---------------------------------------------------------------------------------

def read_json(contract: FeedContract, data: bytes) -> Decoded:
    """One JSON document: `records` holds the rows, `document_fields` are copied onto every row."""
    body = utf8_body(data, contract.encoding)
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
                                             constants, "record", contract.limits.max_columns)
    _missing_fields(contract.columns, seen, table.num_rows)
    return _decoded(table, numbers, contract.columns)
