"""Feed contracts: the machine-readable form of feeds.md, one YAML file per feed under contracts/."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from panro.settings import CONTRACTS_DIR

RAW_TYPES = {"string", "int", "double", "date", "json"}
FORMATS = {"csv", "jsonl", "json", "xlsx", "parquet"}


class ContractError(ValueError):
    """A contract file that does not describe a feed properly."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    path: str | None = None
    required: bool = False
    brn: bool = False
    region: bool = False
    enum: tuple[str, ...] | None = None
    money: bool = False
    count: bool = False
    datetime: str | None = None
    decimal: tuple[float, float] | None = None
    sigungu_code: bool = False
    pii: bool = False

    @property
    def source_path(self) -> tuple[str, ...]:
        """Where a JSON record keeps this column."""
        return tuple((self.path or self.name).split("."))


@dataclass(frozen=True)
class FeedContract:
    partner: str
    feed: str
    description: str
    file_pattern: str
    date_format: str
    format: str
    encoding: str
    delimiter: str
    sheet: str | None
    records: str | None
    document_fields: tuple[str, ...]
    kind: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    row_tolerance: float = 0.01
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        """`partner/feed`, as in feeds.md and the landing folder."""
        return f"{self.partner}/{self.feed}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def business_date(self, file_name: str) -> dt.date | None:
        """The business date written into a file name, or None when the name is not this feed's."""
        m = re.fullmatch(self.file_pattern, file_name)
        if not m:
            return None
        try:
            return dt.datetime.strptime(m.group("date"), self.date_format).date()
        except ValueError:
            return None

    def file_name(self, day: dt.date) -> str:
        """The file name a partner uses for a business date (the inverse of business_date)."""
        stamp = day.strftime(self.date_format)
        return re.sub(r"\(\?P<date>[^)]*\)", stamp, self.file_pattern).replace("\\.", ".")


def _column(name: str, spec: dict[str, Any], where: str) -> Column:
    spec = dict(spec or {})
    unknown = set(spec) - set(Column.__dataclass_fields__)
    if unknown:
        raise ContractError(f"{where}: column {name!r} has unknown settings {sorted(unknown)}")
    if spec.get("type", "string") not in RAW_TYPES:
        raise ContractError(f"{where}: column {name!r} has type {spec['type']!r}, not one of {sorted(RAW_TYPES)}")
    if "enum" in spec:
        spec["enum"] = tuple(str(v) for v in spec["enum"])
    if "decimal" in spec:
        spec["decimal"] = tuple(float(v) for v in spec["decimal"])
    return Column(name=str(name), **spec)


def parse_contract(doc: dict[str, Any], where: str = "<contract>") -> FeedContract:
    try:
        fmt = doc["format"]
        columns = tuple(_column(n, s, where) for n, s in doc["columns"].items())
        contract = FeedContract(
            partner=doc["partner"],
            feed=doc["feed"],
            description=doc.get("description", ""),
            file_pattern=doc["file"]["pattern"],
            date_format=doc["file"]["date_format"],
            format=fmt["type"],
            encoding=fmt.get("encoding", "utf-8"),
            delimiter=fmt.get("delimiter", ","),
            sheet=fmt.get("sheet"),
            records=fmt.get("records"),
            document_fields=tuple(fmt.get("document_fields", ())),
            kind=doc["kind"],
            key=tuple(doc.get("key", ())),
            columns=columns,
            row_tolerance=float(doc.get("row_tolerance", 0.01)),
            extra={k: v for k, v in doc.items() if k not in {
                "partner", "feed", "description", "file", "format", "kind", "key", "columns", "row_tolerance"}},
        )
    except KeyError as e:
        raise ContractError(f"{where}: missing field {e.args[0]!r}") from None
    if contract.format not in FORMATS:
        raise ContractError(f"{where}: format {contract.format!r} is not one of {sorted(FORMATS)}")
    if "(?P<date>" not in contract.file_pattern:
        raise ContractError(f"{where}: file.pattern needs a named group 'date'")
    missing_keys = set(contract.key) - set(contract.column_names)
    if missing_keys:
        raise ContractError(f"{where}: key columns {sorted(missing_keys)} are not columns")
    return contract


def load_contract(path: Path) -> FeedContract:
    with path.open(encoding="utf-8") as f:
        return parse_contract(yaml.safe_load(f), where=str(path))


@cache
def load_contracts(root: Path = CONTRACTS_DIR) -> tuple[FeedContract, ...]:
    """Every feed contract under root, ordered by partner and feed."""
    found = [load_contract(p) for p in sorted(root.glob("*/*.yaml"))]
    if not found:
        raise ContractError(f"no feed contracts under {root}")
    return tuple(found)


def contract_for(name: str, root: Path = CONTRACTS_DIR) -> FeedContract:
    """The contract of `partner/feed`."""
    for c in load_contracts(root):
        if c.name == name:
            return c
    raise KeyError(f"no contract for feed {name!r}")
