"""The marts for a spreadsheet: `panro export [--format xlsx|csv] [--out DIR] [TABLE…]`.

Read from the published warehouse (read-only, so a run may publish meanwhile):

- **xlsx**: one workbook, `panro_marts.xlsx`, one sheet per mart (and a last sheet, 정보, saying what
  each sheet holds and which run published it). Headers are the columns' Korean names — the start of
  their descriptions, `<name> — <meaning>` — each with a note giving the column's own name and whole
  description. Numbers are numbers, dates are dates, NULL is an empty cell. Text is written as text:
  a value beginning with `=`, `+`, `-` or `@` (a partner's campaign name, say) is a text cell that
  Excel shows as typed, never a formula, and keeps as text when edited (its quote prefix).
- **csv**: one file per mart, `<table>.csv`, UTF-8 with a byte-order mark (without one, Korean Excel
  reads the file as CP949 and garbles the Hangul), the same Korean headers, ISO dates, plain numbers.
  CSV has no text type: a text value beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is
  written with a leading apostrophe (`'=1+2`), as OWASP advises, so Excel shows it and does not run it.

Every file is written beside its target and renamed over it: a reader never sees half a file. The
nightly run writes both into `reports/exports/` when `PANRO_EXPORT` names the formats (`xlsx,csv`).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from panro.domain.kst import KST, ZONE
from panro.settings import DataDirs

FORMATS = ("xlsx", "csv")
WORKBOOK = "panro_marts.xlsx"
INFO_SHEET = "정보"
EXCEL_MAX_ROWS = 1_048_576
FORMULA_STARTS = ("=", "+", "-", "@")
CSV_UNSAFE_STARTS = (*FORMULA_STARTS, "\t", "\r")
NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "UBIGINT", "FLOAT", "DOUBLE")


class ExportError(RuntimeError):
    """The marts cannot be exported as asked (no warehouse, an unknown table, too many rows, a bad format)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str            # DuckDB's type name (BIGINT, DOUBLE, DATE, VARCHAR …)
    description: str

    @property
    def label(self) -> str:
        """The Korean name a description starts with (`지원 소상공인 수 — …`), or the column's own name."""
        head, sep, _ = self.description.partition(" — ")
        return head.strip() if sep and head.strip() else self.name


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    rows: int

    def headers(self) -> list[str]:
        """The columns' labels, each made unique (a repeated one gets its column's name)."""
        labels = [c.label for c in self.columns]
        return [f"{c.label} ({c.name})" if labels.count(c.label) > 1 else c.label for c in self.columns]


def default_out(dirs: DataDirs) -> Path:
    return dirs.reports / "exports"


@contextmanager
def _warehouse(dirs: DataDirs) -> Iterator[duckdb.DuckDBPyConnection]:
    if not dirs.warehouse.exists():
        raise ExportError(f"no published warehouse at {dirs.warehouse}: run the pipeline first (`panro run`)")
    con = duckdb.connect(str(dirs.warehouse), read_only=True)
    try:
        con.execute(f"set TimeZone = '{ZONE}'")
        yield con
    finally:
        con.close()


def _tables(con: duckdb.DuckDBPyConnection, wanted: Sequence[str]) -> list[Table]:
    found = {name: comment or "" for name, comment in con.execute(
        "select table_name, comment from duckdb_tables() where schema_name = 'marts' "
        "and not starts_with(table_name, '_') order by table_name").fetchall()}
    unknown = [t for t in wanted if t not in found]
    if unknown:
        raise ExportError(f"no mart named {', '.join(unknown)}; the marts are: {', '.join(found)}")
    tables = []
    for name in wanted or list(found):
        columns = tuple(Column(c, t, d or "") for c, t, d in con.execute(
            "select column_name, data_type, comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = ? order by column_index", [name]).fetchall())
        rows = con.execute(f'select count(*) from marts."{name}"').fetchone()[0]
        tables.append(Table(name, found[name], columns, rows))
    return tables


def _rows(con: duckdb.DuckDBPyConnection, table: Table, batch: int = 10_000) -> Iterator[tuple[Any, ...]]:
    listed = ", ".join(f'"{c.name}"' for c in table.columns)
    cur = con.execute(f'select {listed} from marts."{table.name}" order by all')
    while chunk := cur.fetchmany(batch):
        yield from chunk


def _publication(con: duckdb.DuckDBPyConnection) -> tuple[str, dt.datetime] | None:
    try:
        row = con.execute("select run_id, published_at from marts._publication").fetchone()
    except duckdb.Error:
        return None
    return (row[0], row[1]) if row else None


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed over it once written (removed if writing fails)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# -- Excel ---------------------------------------------------------------------------------------

def _width(text: str) -> int:
    """Display width: Hangul and other wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def write_xlsx(dirs: DataDirs, out: Path, tables: Sequence[str] = ()) -> Path:
    """The marts (all, or `tables`) as one workbook in `out`; its path."""
    import xlsxwriter

    target = out / WORKBOOK
    with _warehouse(dirs) as con:
        chosen = _tables(con, tables)
        too_big = [t.name for t in chosen if t.rows + 1 > EXCEL_MAX_ROWS]
        if too_big:
            raise ExportError(f"{', '.join(too_big)} has more rows than an Excel sheet holds "
                              f"({EXCEL_MAX_ROWS:,}): export it as CSV (--format csv)")
        published = _publication(con)
        with _replacing(target) as tmp:
            book = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_formulas": False,
                                                  "strings_to_numbers": False, "strings_to_urls": False,
                                                  "default_date_format": "yyyy-mm-dd"})
            formats = {
                "header": book.add_format({"bold": True, "bg_color": "#F2F2F2", "bottom": 1, "text_wrap": True,
                                           "valign": "top"}),
                "date": book.add_format({"num_format": "yyyy-mm-dd"}),
                "int": book.add_format({"num_format": "#,##0"}),
                "text_as_typed": book.add_format({"quote_prefix": True}),
            }
            for table in chosen:
                _sheet(book, formats, table, _rows(con, table))
            _info_sheet(book, formats, chosen, published)
            book.close()
    return target


def _sheet(book: Any, formats: dict[str, Any], table: Table, rows: Iterable[tuple[Any, ...]]) -> None:
    sheet = book.add_worksheet(table.name[:31])
    headers = table.headers()
    writers = [_cell_writer(c, formats) for c in table.columns]
    for i, (column, header) in enumerate(zip(table.columns, headers, strict=True)):
        sheet.set_column(i, i, min(40, max(10, _width(header) + 2, 12 if column.type == "DATE" else 0)))
    sheet.set_row(0, 32)
    for i, (column, header) in enumerate(zip(table.columns, headers, strict=True)):
        sheet.write_string(0, i, header, formats["header"])
        sheet.write_comment(0, i, f"{column.name}\n{column.description}".strip(), {"x_scale": 2, "y_scale": 2})
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(table.rows, 1), len(table.columns) - 1)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is not None:
                writers[c](sheet, r, c, value)


def _cell_writer(column: Column, formats: dict[str, Any]) -> Any:
    kind = column.type.split("(")[0]
    if kind in NUMBER_TYPES:
        number = formats["int"] if kind in NUMBER_TYPES[:-2] else None

        def write_number(sheet: Any, r: int, c: int, v: Any) -> None:
            v = float(v)
            if math.isfinite(v):
                sheet.write_number(r, c, v, number)
        return write_number
    if kind == "DATE":
        return lambda sheet, r, c, v: sheet.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), formats["date"])
    if kind == "BOOLEAN":
        return lambda sheet, r, c, v: sheet.write_boolean(r, c, bool(v))

    def write_text(sheet: Any, r: int, c: int, v: Any) -> None:
        text = str(v)
        sheet.write_string(r, c, text, formats["text_as_typed"] if text.startswith(FORMULA_STARTS) else None)
    return write_text


def _info_sheet(book: Any, formats: dict[str, Any], tables: Sequence[Table],
                published: tuple[str, dt.datetime] | None) -> None:
    sheet = book.add_worksheet(INFO_SHEET)
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 10)
    sheet.set_column(2, 2, 120)
    when = published[1].astimezone(KST).strftime("%Y-%m-%d %H:%M KST") if published else "—"
    sheet.write_string(0, 0, "panro 마트 (판로)", formats["header"])
    sheet.write_string(1, 0, "발행")
    sheet.write_string(1, 2, f"{when} · run {published[0] if published else '—'}")
    sheet.write_string(3, 0, "시트", formats["header"])
    sheet.write_string(3, 1, "행 수", formats["header"])
    sheet.write_string(3, 2, "설명", formats["header"])
    for i, table in enumerate(tables, start=4):
        sheet.write_string(i, 0, table.name)
        sheet.write_number(i, 1, table.rows, formats["int"])
        sheet.write_string(i, 2, table.description)


# -- CSV -----------------------------------------------------------------------------------------

def csv_text(value: str) -> str:
    """A text value as a spreadsheet shows it and never runs it (see the module's doc)."""
    return f"'{value}" if value.startswith(CSV_UNSAFE_STARTS) else value


def write_csv(dirs: DataDirs, out: Path, tables: Sequence[str] = ()) -> list[Path]:
    """The marts (all, or `tables`) as `<table>.csv` files in `out`; their paths."""
    written = []
    with _warehouse(dirs) as con:
        for table in _tables(con, tables):
            text = [c.type.split("(")[0] not in (*NUMBER_TYPES, "DATE", "BOOLEAN") for c in table.columns]
            target = out / f"{table.name}.csv"
            with _replacing(target) as tmp, tmp.open("w", encoding="utf-8-sig", newline="") as f:
                writer = csv.writer(f)          # RFC 4180: CRLF line ends, quoted where needed
                writer.writerow(table.headers())
                for row in _rows(con, table):
                    writer.writerow(["" if v is None else csv_text(str(v)) if is_text else
                                     v.isoformat() if isinstance(v, dt.date) else v
                                     for v, is_text in zip(row, text, strict=True)])
            written.append(target)
    return written


# -- the command and the nightly run ---------------------------------------------------------------

def export(dirs: DataDirs, fmt: str, out: Path | None = None, tables: Sequence[str] = ()) -> list[Path]:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    """The marts (all, or `tables`) in format `fmt` into `out` (default reports/exports/); the files."""
    out = out or default_out(dirs)
    return [write_xlsx(dirs, out, tables)] if fmt == "xlsx" else write_csv(dirs, out, tables)


def formats_of(spec: str) -> list[str]:
    """`PANRO_EXPORT`'s formats (`xlsx`, `csv`, or both, comma-separated); a misspelt one is an error."""
    wanted = [f.strip().lower() for f in spec.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ExportError(f"PANRO_EXPORT={spec!r}: unknown format {', '.join(unknown)} (use xlsx, csv or both)")
    return wanted


def nightly(dirs: DataDirs, spec: str) -> list[Path]:
    """After a run's publication: the formats `spec` names, into reports/exports/."""
    return [path for fmt in formats_of(spec) for path in export(dirs, fmt)]
