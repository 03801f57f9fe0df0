"""시도 names and codes, read from the dbt seeds so Python and SQL share one table."""

from __future__ import annotations

import csv
from functools import cache

from panro.settings import SEEDS_DIR


@cache
def variants() -> dict[str, str]:
    """Every accepted spelling of a 시도 → its current 2-digit code."""
    with (SEEDS_DIR / "region_variants.csv").open(encoding="utf-8") as f:
        return {row["region_name"]: row["sido_code"] for row in csv.DictReader(f)}


@cache
def codes() -> dict[str, str]:
    """Current 2-digit code → official Korean name."""
    with (SEEDS_DIR / "regions.csv").open(encoding="utf-8") as f:
        return {row["sido_code"]: row["sido_name_ko"] for row in csv.DictReader(f)}


@cache
def legacy_codes() -> dict[str, str]:
    """Old 시도 code (42 강원, 45 전북) → current code."""
    with (SEEDS_DIR / "regions.csv").open(encoding="utf-8") as f:
        return {row["legacy_code"]: row["sido_code"] for row in csv.DictReader(f) if row["legacy_code"]}


def sido_code(name: str | None) -> str | None:
    """The current code of a region name, or None when the name is unknown."""
    if name is None:
        return None
    return variants().get(str(name).strip())


def current_sido_code(code: str | None) -> str | None:
    """A 2-digit code, legacy or current, as the current code; None when unknown."""
    if code is None:
        return None
    code = legacy_codes().get(code, code)
    return code if code in codes() else None
