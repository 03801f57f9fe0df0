"""사업자등록번호 (business registration number): normalisation and the check digit (domain.md)."""

from __future__ import annotations

import re

_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_SHAPE = re.compile(r"^\d{3}-?\d{2}-?\d{5}$")


def normalise(value: str | None) -> str | None:
    """Return the 10-digit form of a bare or dashed BRN, or None when it has another shape."""
    if value is None:
        return None
    text = str(value).strip()
    if not _SHAPE.match(text):
        return None
    return text.replace("-", "")


def check_digit(first_nine: str) -> int:
    """The check digit for the first nine digits."""
    d = [int(c) for c in first_nine]
    total = sum(w * x for w, x in zip(_WEIGHTS, d, strict=True)) + (5 * d[8]) // 10
    return (10 - total % 10) % 10


def is_valid(value: str | None) -> bool:
    """True when the value is a well-formed BRN whose check digit matches."""
    digits = normalise(value)
    return digits is not None and check_digit(digits[:9]) == int(digits[9])


def dashed(digits: str) -> str:
    """`1018662870` → `101-86-62870`."""
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"
