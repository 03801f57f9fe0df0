"""What panro's library patches share (panro/gate/gx_compat.py, panro/transform/dbt_compat.py).

Each patch stands in for an upstream function whose source was read when the patch was written; the
module records a fingerprint of that source, and its test fails the day an upgrade changes it."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any


def fingerprint(function: Callable[..., Any]) -> str:
    """The first 16 hex digits of the sha256 of `function`'s source."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def changed(originals: Mapping[str, Callable[..., Any]], recorded: Mapping[str, str]) -> dict[str, str]:
    """The upstream functions whose source is no longer the one recorded: name → its fingerprint now."""
    now = {name: fingerprint(function) for name, function in originals.items()}
    return {name: value for name, value in now.items() if recorded.get(name) != value}
