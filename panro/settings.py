"""Where things live (the repository's configuration folders, the data directory's zones) and every
tuning knob of the pipeline, each overridable by an environment variable named beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from panro.lake.storage import LAKE_VAR, check_url, zone_path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "contracts"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


def dbt_parse_cache() -> Path:
    """Where the last dbt parse of the project is kept, for every data directory to start from
    (panro.transform.parse_cache): PANRO_DBT_PARSE_CACHE, else $XDG_CACHE_HOME/panro (~/.cache/panro)."""
    folder = os.environ.get("PANRO_DBT_PARSE_CACHE", "").strip()
    if folder:
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache") / "panro"


def _int(name: str, default: int) -> int:
    """An integer setting from the environment, or its default; a value that is not one fails loudly."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r} must be at least 1")
    return value


# --- tuning (read once, when panro is imported; the defaults are what the benchmarks were run with) ---
CORES = os.cpu_count() or 2
#: task runner workers (threads or processes) for extraction and the gate; a Dask cluster has its own
WORKERS = _int("PANRO_WORKERS", CORES)
#: a backfill of fewer bytes of landing files than this runs on threads, not processes (panro.runtime.engines)
PROCESSES_MIN_BYTES = _int("PANRO_PROCESSES_MIN_MB", 16) * 1024 * 1024
#: a feed's new files of one run written as one raw file (a segment): at most this many files ...
SEGMENT_FILES = _int("PANRO_SEGMENT_FILES", 32)
#: ... and this many delivered bytes
SEGMENT_BYTES = _int("PANRO_SEGMENT_MB", 16) * 1024 * 1024
#: rows of one feed's batches the gate validates in one GX frame at most (a bigger batch stands alone)
VALIDATION_ROWS = _int("PANRO_VALIDATION_ROWS", 400_000)
#: ledger rows the extraction writes per transaction
LEDGER_FLUSH_ROWS = _int("PANRO_LEDGER_FLUSH_ROWS", 200)
#: models and tests dbt runs at once; DuckDB gets each of them a share of the cores
DBT_THREADS = _int("PANRO_DBT_THREADS", 2)
#: megabytes DuckDB may hold under dbt before it spills to disk (its own default is 80 % of the machine)
DBT_MEMORY_MB = _int("PANRO_DBT_MEMORY_MB", 2000)


@dataclass(frozen=True)
class DataDirs:
    """The zones under one data directory (operations.md), plus the pipeline's private state.

    The lake's zones (raw, published, quarantine) are under the data directory, or under `lake_url`
    (any fsspec URL: `panro.lake.storage`); the state, the warehouses and the reports are always local."""

    root: Path
    landing_url: str
    lake_url: str | None = None     # None: the data directory

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike[str] | None = None, landing: str | None = None,
                 lake: str | None = None) -> DataDirs:
        root = Path(data_dir or os.environ.get("PANRO_DATA_DIR") or "data").resolve()
        landing_url = check_url(landing or os.environ.get("PANRO_LANDING") or str(root / "landing"), "landing")
        lake_url = (lake or os.environ.get(LAKE_VAR) or "").strip() or None
        return cls(root=root, landing_url=landing_url, lake_url=check_url(lake_url, "lake") if lake_url else None)

    @cached_property
    def lake(self) -> Path:
        """The lake's root: the data directory, a local folder, or a remote one (a `upath.UPath`)."""
        if self.lake_url is None:
            return self.root
        path = zone_path(self.lake_url.rstrip("/"))
        return path.resolve() if isinstance(path, Path) and type(path).__module__.startswith("pathlib") else path

    @property
    def raw(self) -> Path:
        """Typed Parquet: the rows of every delivered file version (a feed's files of one run together)."""
        return self.lake / "raw"

    @property
    def published(self) -> Path:
        """The current audited version of every delivered file: what dbt reads."""
        return self.lake / "published"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def state(self) -> Path:
        """Run state (ledger) — apart from the warehouse so analysts' locks never touch it."""
        return self.root / "state"

    @property
    def ledger_path(self) -> Path:
        return self.state / "ledger.duckdb"

    @property
    def work(self) -> Path:
        """The pipeline's private dbt warehouse; nobody else opens it."""
        return self.root / "work"

    @property
    def work_warehouse(self) -> Path:
        return self.work / "panro_work.duckdb"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "panro.duckdb"

    @property
    def marts(self) -> Path:
        return self.root / "marts"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def data_docs(self) -> Path:
        """The gate's Great Expectations Data Docs site (`index.html`)."""
        return self.reports / "data_docs"


UMASK_VAR = "PANRO_UMASK"


def owner_only() -> int:
    """From now on, the files and folders this process (and the workers it starts) creates under the
    data directory are its owner's only — 0600 files, 0700 folders — unless `PANRO_UMASK` says
    otherwise (e.g. `027`: the group may read the marts). Returns the mask set."""
    text = os.environ.get(UMASK_VAR, "").strip() or "077"
    try:
        mask = int(text, 8)
    except ValueError:
        raise ValueError(f"{UMASK_VAR}={text!r} is not an octal umask like 077 or 027") from None
    if not 0 <= mask <= 0o777:
        raise ValueError(f"{UMASK_VAR}={text!r} is not an octal umask like 077 or 027")
    os.umask(mask)
    return mask
