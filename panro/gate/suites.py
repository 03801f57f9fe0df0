"""The GX suite of every feed: generated from its contract plus the feed's own rules, committed.

`expectations/<partner>/<feed>.rules.yaml` (hand-written) holds what the contract cannot say: the
plausible window of every dated column relative to the file's business date, the volume band, and
feed-specific expectations (cross-field order, conditional presence) in GX's own vocabulary.
`expectations/<partner>/<feed>.suite.json` is the GX 1.x ExpectationSuite built from both — readable
in review, loaded by the gate, regenerated deterministically with

    .venv/bin/python -m panro.gate.suites          # write every suite
    .venv/bin/python -m panro.gate.suites --check  # exit 1 when a committed suite is stale

Every expectation carries GX's `severity` and a `meta` the gate acts on:

- `scope`: `rows` (validated on the feed's pending rows) or `batches` (on one summary row per batch)
- `unit`: `row` — a critical failure rejects those rows (up to the contract's `row_tolerance`, above it
  the batch is held); `batch` — a critical failure holds the whole file
- `rule`: the family, for reports (`schema`, `schema_drift`, `required`, `type`, `brn`, `region`, `enum`,
  `non_negative`, `range`, `window`, `key`, `cross_field`, `format`, `future`, `empty`, `volume`)
- `reason`: the short human-readable reason shown in the quarantine and the report

Severity `warning` (or `info`) never rejects or holds anything: the batch publishes and the failure is reported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from panro.domain import regions
from panro.domain.contracts import Column, FeedContract, load_contracts
from panro.domain.personal import PSEUDONYM_REGEX
from panro.lake.batches import LINEAGE
from panro.settings import EXPECTATIONS_DIR

# Text shapes of the contract's logical types (RE2 syntax: GX pandas on Arrow strings uses RE2).
MONEY_TEXT = r"^-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)$"     # 12000 or 12,000 (sign checked separately)
COUNT_TEXT = r"^-?[0-9]+$"
DECIMAL_TEXT = r"^-?[0-9]+(?:\.[0-9]+)?$"
NEGATIVE_TEXT = r"^-"
NOT_BLANK = r"[^ \t\r\n\f\v]"          # not \S: pandas runs \S through Python's re, row by row

# Batch-summary columns (scope `batches`): one row per pending batch, built by the gate.
BATCH_SUMMARY_COLUMNS = ("row_count", "recent_median_rows", "row_count_vs_recent", "business_date_days_ahead")

DEFAULT_VOLUME = {"min_ratio": 0.2, "max_ratio": 5.0, "history": 14, "min_median_rows": 20}


def suite_name(contract: FeedContract) -> str:
    return f"{contract.partner}.{contract.feed}"


def rules_path(contract: FeedContract, root: Path = EXPECTATIONS_DIR) -> Path:
    return root / contract.partner / f"{contract.feed}.rules.yaml"


def suite_path(contract: FeedContract, root: Path = EXPECTATIONS_DIR) -> Path:
    return root / contract.partner / f"{contract.feed}.suite.json"


def load_rules(contract: FeedContract, root: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    path = rules_path(contract, root)
    if not path.exists():
        return {"windows": {}, "volume": dict(DEFAULT_VOLUME), "expectations": []}
    with path.open(encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    unknown = set(doc) - {"windows", "volume", "expectations"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    windows = doc.get("windows") or {}
    for name in windows:
        contract.column(name)  # KeyError for a column the contract does not have
    return {"windows": windows, "volume": {**DEFAULT_VOLUME, **(doc.get("volume") or {})},
            "expectations": list(doc.get("expectations") or [])}


def _exp(type_: str, kwargs: dict[str, Any], *, rule: str, reason: str, unit: str = "row",
         severity: str = "critical", scope: str = "rows") -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "severity": severity,
            "meta": {"scope": scope, "unit": unit, "rule": rule, "reason": reason}}


def datetime_format(column: Column) -> str | None:
    """The format the panro datetime expectations take: the contract's, or `date` for a typed date."""
    if column.datetime:
        return column.datetime
    if column.type == "date":
        return "date"
    return None


def _column_expectations(column: Column, window: dict[str, Any] | None) -> list[dict[str, Any]]:
    c, out = column.name, []
    text = column.type == "string"
    # A value that breaks a required column's own rule is rejected; on an optional column it is
    # only reported when it carries no merchant identity (e.g. a 배민 learner without a valid BRN).
    sev = "critical" if column.required else "warning"
    if column.required:
        out.append(_exp("expect_column_values_to_not_be_null", {"column": c},
                        rule="required", reason=f"{c} is missing (required)"))
        has_format = column.brn or column.region or column.enum or column.money or column.count \
            or column.datetime or column.decimal or column.sigungu_code
        if text and not has_format:
            out.append(_exp("expect_column_values_to_match_regex", {"column": c, "regex": NOT_BLANK},
                            rule="required", reason=f"{c} is blank (required)"))
    if column.brn:
        out.append(_exp("expect_column_values_to_be_valid_brn", {"column": c}, severity=sev, rule="brn",
                        reason=f"{c} is not a valid 사업자등록번호 (10 digits, bare or dashed, check digit)"))
    if column.phone:   # its value is a pseudonym by now: `x:` marks one that was no phone number
        out.append(_exp("expect_column_values_to_match_regex", {"column": c, "regex": PSEUDONYM_REGEX},
                        severity="warning", rule="phone",
                        reason=f"{c} is not a phone number (01X-XXXX-XXXX, an area code, 070, 1588-XXXX; "
                               "checked at extraction, the value is not kept)"))
    if column.region:
        out.append(_exp("expect_column_values_to_be_in_set",
                        {"column": c, "value_set": sorted(regions.variants())},
                        rule="region", reason=f"{c} is not a known 시도 name (region_variants seed)"))
    if column.sigungu_code:
        out.append(_exp("expect_column_values_to_match_regex", {"column": c, "regex": r"^[0-9]{5}$"},
                        rule="type", reason=f"{c} is not a 5-digit 시군구 code"))
        prefixes = sorted(set(regions.codes()) | set(regions.legacy_codes()))
        out.append(_exp("expect_column_values_to_match_regex",
                        {"column": c, "regex": "^(?:" + "|".join(prefixes) + ")"},
                        rule="region", reason=f"{c} does not start with a 시도 code (current or legacy)"))
    if column.enum:
        out.append(_exp("expect_column_values_to_be_in_set", {"column": c, "value_set": list(column.enum)},
                        rule="enum", reason=f"{c} is not one of {', '.join(column.enum)}"))
    if column.money or column.count:
        what = "a whole KRW amount" if column.money else "a whole number"
        if text:
            out.append(_exp("expect_column_values_to_match_regex",
                            {"column": c, "regex": MONEY_TEXT if column.money else COUNT_TEXT},
                            rule="type", reason=f"{c} is not {what}"
                            + (" (digits, optional thousands separators)" if column.money else "")))
            out.append(_exp("expect_column_values_to_not_match_regex", {"column": c, "regex": NEGATIVE_TEXT},
                            rule="non_negative", reason=f"{c} is negative"))
        else:
            out.append(_exp("expect_column_values_to_be_between", {"column": c, "min_value": 0},
                            rule="non_negative", reason=f"{c} is negative"))
    if column.decimal:
        lo, hi = column.decimal
        if text:
            out.append(_exp("expect_column_values_to_match_regex", {"column": c, "regex": DECIMAL_TEXT},
                            rule="type", reason=f"{c} is not a decimal number"))
            out.append(_exp("expect_column_text_values_to_be_between",
                            {"column": c, "min_value": lo, "max_value": hi},
                            rule="range", reason=f"{c} is outside {lo}–{hi}"))
        else:
            out.append(_exp("expect_column_values_to_be_between", {"column": c, "min_value": lo, "max_value": hi},
                            rule="range", reason=f"{c} is outside {lo}–{hi}"))
    fmt = datetime_format(column)
    if column.datetime:
        shown = {"iso_offset": "ISO-8601 with offset", "epoch_ms": "epoch milliseconds (2000-2100)"}
        out.append(_exp("expect_column_values_to_match_datetime_format", {"column": c, "datetime_format": fmt},
                        rule="type", reason=f"{c} does not parse as {shown.get(fmt, fmt)}"))
    if window is not None:
        lo, hi = window.get("min_days_before", 0), window.get("max_days_before")
        span = f"D−{hi} … D" if hi is not None else "… D"
        if lo:
            span = f"D−{hi} … D−{lo}" if hi is not None else f"… D−{lo}"
        out.append(_exp("expect_column_values_to_be_within_days_of_business_date",
                        {"column_A": c, "column_B": "_business_date", "datetime_format": fmt,
                         "min_days_before": lo, "max_days_before": hi},
                        rule="window",
                        reason=f"{c} (KST date) is outside {span} of the file's business date D"
                        + (" or in the future" if lo == 0 else "")))
    return out


def build_suite(contract: FeedContract, root: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    """The feed's GX suite as a JSON-ready dict: deterministic for a given contract and rules file."""
    rules = load_rules(contract, root)
    windows = rules["windows"]
    dated = [c.name for c in contract.columns if datetime_format(c)]
    missing = [n for n in dated if n not in windows]
    if missing:
        raise ValueError(f"{rules_path(contract, root)}: no window for dated column(s) {missing}")
    columns = contract.column_names + list(LINEAGE.names)
    exps: list[dict[str, Any]] = [
        # every column of the contract is there (a missing or renamed one holds the file) ...
        _exp("expect_table_columns_to_match_set", {"column_set": columns, "exact_match": False},
             unit="batch", rule="schema",
             reason="the columns differ from the contract (renamed or missing columns)"),
        # ... and a column it does not know is schema drift: reported, kept in the raw zone, not published
        _exp("expect_table_columns_to_match_set", {"column_set": columns, "exact_match": True},
             unit="batch", severity="warning", rule="schema_drift",
             reason="a column the contract does not know (kept in the raw zone, not published)"),
    ]
    for column in contract.columns:
        exps.extend(_column_expectations(column, windows.get(column.name)))
    if contract.key:
        key = ", ".join(contract.key)
        exps.append(_exp("expect_compound_columns_to_be_unique",
                         {"column_list": ["_batch_id", *contract.key], "ignore_row_if": "never"},
                         rule="key", reason=f"the key ({key}) is not unique within the file"))
    for item in rules["expectations"]:
        meta = {"scope": "rows", "unit": "row", **(item.get("meta") or {})}
        exps.append({"type": item["type"], "kwargs": dict(item["kwargs"]),
                     "severity": item.get("severity", "critical"), "meta": meta})
    # scope `batches`: one summary row per delivered file version
    vol = rules["volume"]
    empty_sev = "critical" if contract.kind == "snapshot" else "warning"
    exps += [
        _exp("expect_column_values_to_be_between", {"column": "business_date_days_ahead", "max_value": 0},
             scope="batches", unit="batch", rule="future",
             reason="the file's business date lies in the future"),
        _exp("expect_column_values_to_be_between", {"column": "row_count", "min_value": 1},
             scope="batches", unit="batch", severity=empty_sev, rule="empty",
             reason="the file has no rows" + (" (an empty full snapshot)" if empty_sev == "critical" else "")),
        _exp("expect_column_values_to_be_between",
             {"column": "row_count_vs_recent", "min_value": vol["min_ratio"], "max_value": vol["max_ratio"]},
             scope="batches", unit="batch", severity="warning", rule="volume",
             reason=f"row count is outside {vol['min_ratio']}–{vol['max_ratio']} × the median of the feed's "
                    f"last {vol['history']} deliveries"),
    ]
    return {
        "name": suite_name(contract),
        "meta": {
            "generated_by": "panro.gate.suites — do not edit; edit the contract or the .rules.yaml",
            "contract": f"contracts/{contract.partner}/{contract.feed}.yaml",
            "rules": f"expectations/{contract.partner}/{contract.feed}.rules.yaml",
            "kind": contract.kind,
            "row_tolerance": contract.row_tolerance,
            "pii_columns": contract.pii_columns,
            "volume": vol,
        },
        "expectations": exps,
    }


def render(suite: dict[str, Any]) -> str:
    return json.dumps(suite, ensure_ascii=False, indent=2) + "\n"


def load_suite(contract: FeedContract, root: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    """The committed suite of a feed (what the gate validates with)."""
    path = suite_path(contract, root)
    if not path.exists():
        raise FileNotFoundError(f"no suite for {contract.name} at {path}; run python -m panro.gate.suites")
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def stale_suites(contracts: tuple[FeedContract, ...] | None = None, root: Path = EXPECTATIONS_DIR) -> list[str]:
    """Feeds whose committed suite differs from what the contract and rules generate."""
    stale = []
    for contract in contracts or load_contracts():
        path = suite_path(contract, root)
        if not path.exists() or path.read_text(encoding="utf-8") != render(build_suite(contract, root)):
            stale.append(contract.name)
    return stale


def write_suites(contracts: tuple[FeedContract, ...] | None = None, root: Path = EXPECTATIONS_DIR) -> list[Path]:
    written = []
    for contract in contracts or load_contracts():
        path = suite_path(contract, root)
        text = render(build_suite(contract, root))
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m panro.gate.suites", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale suites (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_suites()
        for name in stale:
            print(f"stale suite: {name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_suites():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
