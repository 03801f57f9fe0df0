"""Feed contracts: the machine-readable form of feeds.md, one YAML file per feed under contracts/."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from panro.settings import CONTRACTS_DIR

RAW_TYPES = {"string", "int", "double", "date", "json"}
FORMATS = {"csv", "jsonl", "json", "xlsx", "parquet"}
# How often a feed delivers (feeds.md: partners drop files nightly): `daily`, a file for every business
# date; `business_days`, weekdays that are not public holidays; `sparse`, only on days with something
# to report (a campaign, a support given).
CADENCES = {"daily", "business_days", "sparse"}
# The figures a feed is the source of, for the marts' completeness (`data_complete_through`): `sales`
# (festival sales, sales outcomes), `support` (support events, reach, the support KPIs), `coupons`.
FIGURES = {"sales", "support", "coupons"}


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
    phone: bool = False     # a Korean phone number (checked at extraction, before its pseudonym)

    @property
    def source_path(self) -> tuple[str, ...]:
        """Where a JSON record keeps this column."""
        return tuple((self.path or self.name).split("."))


@dataclass(frozen=True)
class Freshness:
    """When a feed's silence is news: `overdue_after_days` business dates without a published file
    (counted back from the run's business date) are normal; one more and the feed is overdue."""

    cadence: str = "daily"
    overdue_after_days: int = 2   # feeds.md: a daily feed that sent nothing for 3 or more days is overdue


MB = 1024 * 1024


# Limits on what one delivered file may cost the night (issue 28; panro.extract.limits)


@dataclass(frozen=True)
class Limits:
    max_file_mb: float = 100           # delivered bytes
    max_rows: int = 5_000_000
    max_columns: int = 500             # header fields, JSON fields
    max_field_chars: int = 10_000      # one text value
    max_sheet_mb: float = 100          # an .xlsx part (sheet, shared strings) once inflated
    deadline_seconds: float = 600      # decoding one file

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_sheet_bytes(self) -> int:
        return int(self.max_sheet_mb * MB)


def parse_limits(spec: Any, where: str) -> Limits:
    """A contract's `limits:` mapping (any subset of the fields), checked."""
    if spec is None:
        return Limits()
    if not isinstance(spec, dict):
        raise ContractError(f"{where}: limits must be a mapping like {{max_rows: 1000000}}")
    known = {f.name: f for f in fields(Limits)}
    unknown = set(spec) - set(known)
    if unknown:
        raise ContractError(f"{where}: limits has unknown settings {sorted(unknown)} (known: {sorted(known)})")
    for name, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ContractError(f"{where}: limits.{name} must be a positive number, not {value!r}")
    return Limits(**spec)


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
    freshness: Freshness = Freshness()
    figures: tuple[str, ...] = ()     # FIGURES this feed is the source of
    limits: Limits = Limits()
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
    if spec.get("phone") and not spec.get("pii"):
        raise ContractError(f"{where}: column {name!r} is a phone number: mark it `pii: true` as well")
    if spec.get("pii") and spec.get("type", "string") != "string":
        raise ContractError(f"{where}: personal-data column {name!r} must be of type string (it is replaced "
                            "by a pseudonym at extraction)")
    return Column(name=str(name), **spec)


def _freshness(spec: Any, where: str) -> Freshness:
    if spec is None:
        return Freshness()
    if not isinstance(spec, dict):
        raise ContractError(f"{where}: freshness must be a mapping like {{cadence: daily, overdue_after_days: 2}}")
    unknown = set(spec) - set(Freshness.__dataclass_fields__)
    if unknown:
        raise ContractError(f"{where}: freshness has unknown settings {sorted(unknown)}")
    cadence = spec.get("cadence", "daily")
    if cadence not in CADENCES:
        raise ContractError(f"{where}: freshness.cadence {cadence!r} is not one of {sorted(CADENCES)}")
    days = spec.get("overdue_after_days", Freshness.overdue_after_days)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ContractError(f"{where}: freshness.overdue_after_days must be a whole number of days ≥ 1, "
                            f"not {days!r}")
    return Freshness(cadence=cadence, overdue_after_days=days)


def _figures(spec: Any, where: str) -> tuple[str, ...]:
    figures = (spec,) if isinstance(spec, str) else tuple(spec or ())
    unknown = [f for f in figures if f not in FIGURES]
    if unknown:
        raise ContractError(f"{where}: figures {unknown} are not among {sorted(FIGURES)}")
    return figures


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
            freshness=_freshness(doc.get("freshness"), where),
            figures=_figures(doc.get("figures"), where),
            limits=parse_limits(doc.get("limits"), where),
            extra={k: v for k, v in doc.items() if k not in {
                "partner", "feed", "description", "file", "format", "kind", "key", "columns", "row_tolerance",
                "freshness", "figures", "limits"}},
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
