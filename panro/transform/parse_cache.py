"""One parse of the dbt project for every data directory on this machine.

dbt keeps its parse in the target folder (`partial_parse.msgpack`) and, when the project's files have
not changed, starts from it instead of parsing every file again (4–5 CPU-seconds of a run). Each data
directory has a target folder of its own, so a new, copied or moved data directory used to parse in
full. `seed` gives a target folder without a parse the last one kept here; `keep` keeps the one a dbt
command wrote. dbt itself decides whether a parse it is given still holds (same dbt version, same
profile but for the warehouse's folder — panro.transform.dbt_compat —, and it re-parses each project
file that changed since), so a stale or foreign one costs a whole parse, never a wrong build.

Where: `panro.settings.dbt_parse_cache()` (PANRO_DBT_PARSE_CACHE, else ~/.cache/panro); a folder that
cannot be written only costs the parse.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from dbt.version import __version__ as DBT_VERSION

from panro import settings

PARTIAL_PARSE = "partial_parse.msgpack"   # dbt's file in its target folder


def cache_file() -> Path:
    """The kept parse of this checkout's dbt project, with this dbt. A parse names its project's folder
    (a seed's CSV is read from there), so two checkouts on one machine keep one each."""
    project = hashlib.sha256(str(settings.DBT_PROJECT_DIR.resolve()).encode()).hexdigest()[:12]
    return settings.dbt_parse_cache() / f"dbt-{DBT_VERSION}-{project}-{PARTIAL_PARSE}"


def seed(target: Path) -> bool:
    """Give `target` the kept parse if it has none of its own; True if it got one."""
    mine, kept = target / PARTIAL_PARSE, cache_file()
    if mine.exists() or not kept.exists():
        return False
    try:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(kept, mine)      # its time too: `keep` then sees that dbt did not write it again
    except OSError:
        return False
    return True


def keep(target: Path) -> bool:
    """Keep `target`'s parse for the next data directory, if dbt wrote one newer than the kept one."""
    mine, kept = target / PARTIAL_PARSE, cache_file()
    try:
        if kept.exists() and kept.stat().st_mtime_ns >= mine.stat().st_mtime_ns:
            return False
        kept.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=kept.parent, prefix=".parse-", delete=False) as handle:
            temporary = Path(handle.name)
    except OSError:
        return False
    try:
        shutil.copy2(mine, temporary)
        os.replace(temporary, kept)   # whole, for any process reading it at the same time
    except OSError:
        temporary.unlink(missing_ok=True)
        return False
    return True
