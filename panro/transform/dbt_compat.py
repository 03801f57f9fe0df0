"""Every patch panro makes to dbt, in one place (docs/decisions/0033-one-parse-for-every-data-directory.md).

dbt keeps its parse of a project (`target/partial_parse.msgpack`) and takes it up again only if the
profile's connection settings are those it was made with: dbt hashes every value of
`credentials.connection_info()`, because a model may read them while it is parsed (`target.path`).
panro's work warehouse is a file in each data directory, so the hash differed between any two data
directories, and every new, copied or moved one paid a whole parse (4–5 CPU-seconds). panro's
models read no connection setting while parsed, and the published zone is not in the profile
(panro.transform.dbt_plugin). One patch: dbt's state check hashes the warehouse's file name instead
of its full path. A model that read `target.path` while parsed would now be parsed once for every
folder; none does (tests/test_dbt_compat.py checks the project for it).

The patched function's source is fingerprinted below: `tests/test_dbt_compat.py` fails the day an
upgrade changes it (re-read it, re-check the patch, then record the new fingerprint). Any other dbt
version runs unpatched: every new data directory then parses in full, as before.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from dbt.parser.manifest import ManifestLoader
from dbt.version import __version__ as DBT_VERSION

from panro.runtime import patches

PATCHED_VERSION = "1.11."

# upstream function → sha256 (first 16 hex digits) of its source, as read when the patch was written
FINGERPRINTS: dict[str, str] = {
    "ManifestLoader.build_manifest_state_check": "8ba0b6454efd75c6",
}

_ORIGINALS: dict[str, Callable[..., Any]] = {
    # hashes `self.root_project.credentials.connection_info()` into the state check's profile_hash
    "ManifestLoader.build_manifest_state_check": ManifestLoader.build_manifest_state_check,
}


def changed_upstream() -> dict[str, str]:
    """The patched upstream function, if its source is not the one the patch was written against."""
    return patches.changed(_ORIGINALS, FINGERPRINTS)


def enabled() -> bool:
    return DBT_VERSION.startswith(PATCHED_VERSION)


def _state_check_by_warehouse_name(self: Any) -> Any:
    """dbt's state check, with the profile's `path` (the work warehouse) cut to its file name."""
    config = self.root_project
    credentials = config.credentials
    path = getattr(credentials, "path", None)
    if not path:
        return _ORIGINALS["ManifestLoader.build_manifest_state_check"](self)
    config.credentials = dataclasses.replace(credentials, path=os.path.basename(str(path)))
    try:
        return _ORIGINALS["ManifestLoader.build_manifest_state_check"](self)
    finally:
        config.credentials = credentials


def apply() -> bool:
    """Patch dbt in this process (idempotent); False when the installed dbt is left as it is."""
    if not enabled():
        return False
    ManifestLoader.build_manifest_state_check = _state_check_by_warehouse_name
    return True
