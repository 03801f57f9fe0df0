"""The `panro` command line (operations.md), built on cyclopts; its output goes through panro.runtime.console.

Exit status: 0 done; 1 failed or misconfigured (one sentence on stderr says what to fix); 2 a run
published but held something back — and a command line it cannot take (its usage error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import App, Parameter
from cyclopts.exceptions import CycloptsError

from panro.commands import options
from panro.commands.options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    DaskAddress,
    DataDir,
    FailOnOverdue,
    Lake,
    Landing,
    Quiet,
    UsageError,
    Verbose,
    check_span,
    dirs,
)
from panro.commands.quarantine import quarantine_app
from panro.commands.running import run_flow
from panro.domain.kst import yesterday_kst
from panro.runtime import console
from panro.runtime.terminal import escape_logs
from panro.settings import DataDirs, owner_only


def _version() -> str:
    try:
        return f"panro {version('panro')}"
    except PackageNotFoundError:   # pragma: no cover - run from a checkout that is not installed
        return "panro (not installed)"


app = App(name="panro", help="판로 — the sales-channel programme pipeline (operations.md)", version=_version,
          default_parameter=Parameter(negative=()), help_on_error=False)
app.command(quarantine_app)


@app.meta.default
def _options(*tokens: Annotated[str, Parameter(show=False, allow_leading_hyphen=True)],
             data_dir: DataDir = None, landing: Landing = None, lake: Lake = None, quiet: Quiet = False,
             verbose: Verbose = False) -> int:
    try:
        options.use_dirs(DataDirs.from_env(data_dir, landing, lake))
    except ValueError as e:   # a URL with credentials in it: said without the URL
        console.fail(str(e))
        return EXIT_FAILED
    console.set_level(console.QUIET if quiet else console.VERBOSE if verbose else console.NORMAL)
    result = app(tokens, exit_on_error=False, print_error=False, result_action="return_value")
    return EXIT_OK if result is None else int(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: the process's); returns the exit status."""
    import sys

    owner_only()   # files under the data directory: owner-only unless PANRO_UMASK says otherwise
    escape_logs()  # a delivered name in a logged line is shown escaped, as in every printed line
    try:
        return int(app.meta(list(sys.argv[1:] if argv is None else argv), exit_on_error=False, print_error=False,
                            result_action="return_value") or 0)
    except CycloptsError as e:
        console.fail(f"{e} (see `panro --help`)")
        return EXIT_USAGE
    except UsageError as e:
        console.fail(f"{e} (see `panro --help`)")
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.fail("interrupted")
        return EXIT_FAILED


def entry() -> None:
    """The `panro` console script."""
    options.run_as_command()
    raise SystemExit(main())


# -- the commands --------------------------------------------------------------------------------

@app.command
def generate(*, out: Path | None = None, start: dt.date = dt.date(2023, 1, 1), end: dt.date = dt.date(2023, 12, 31),
             scale: float = 1.0, seed: int = 2023) -> int:
    """Write realistic partner feeds (feeds.md), calibrated to the article at the defaults.

    Parameters
    ----------
    out
        landing folder to write (default: the landing)
    start
        first business date
    end
        last business date
    scale
        volume, relative to the article's
    seed
        random seed
    """
    check_span(start, end)
    if scale <= 0:
        raise UsageError(f"--scale must be positive, not {scale}")
    from panro.generate import generate as write_feeds

    summary = write_feeds(out or Path(dirs().landing_url), start=start, end=end, scale=scale, seed=seed)
    console.out(summary.describe())
    return EXIT_OK


@app.command
def run(*, date: dt.date | None = None, init: bool = False, fail_on_overdue: FailOnOverdue = False,
        dask_address: DaskAddress = None) -> int:
    """The nightly job for one business date, plus every late or corrected file.

    Parameters
    ----------
    date
        business date (default: yesterday in KST)
    init
        create the data directory if it does not exist (a first run); without it, a data directory that
        does not exist is an error
    """
    day = date or yesterday_kst()
    return run_flow("nightly", [day], run_date=day, init=init, fail_on_overdue=fail_on_overdue,
                    dask_address=dask_address)


@app.command
def backfill(*, start: dt.date, end: dt.date, fail_on_overdue: FailOnOverdue = False,
             dask_address: DaskAddress = None) -> int:
    """The nightly job for a range of business dates, as one run (it creates the data directory if needed).

    Parameters
    ----------
    start
        first business date
    end
        last business date
    """
    check_span(start, end)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return run_flow("backfill", days, start=start, end=end, fail_on_overdue=fail_on_overdue,
                    dask_address=dask_address)


@app.command
def export(*tables: str, format: Literal["xlsx", "csv"] = "xlsx", out: Path | None = None) -> int:
    """The published marts for a spreadsheet: one .xlsx workbook, or CSV files (UTF-8 BOM).

    Parameters
    ----------
    tables
        marts to export (default: every one)
    format
        xlsx: one sheet per mart; csv: one file per mart
    out
        folder to write (default: DATA_DIR/reports/exports)
    """
    from panro.publish.export import ExportError
    from panro.publish.export import export as write_export

    try:
        written = write_export(dirs(), format, out, list(tables))
    except ExportError as e:
        console.fail(f"export: {e}")
        return EXIT_FAILED
    for path in written:
        console.out(str(path))
    return EXIT_OK


@app.command
def demo(*, seed: int = 2023) -> int:
    """Generate 2023, backfill it, print the KPIs beside the article, write the report.

    Parameters
    ----------
    seed
        random seed of the generated feeds
    """
    from panro.domain import article
    from panro.generate import generate as write_feeds
    from panro.report import figures

    d = dirs()
    landing = Path(d.landing_url)
    if not any(landing.glob("*/*/*")):
        console.note(f"generating the 2023 demo feeds into {landing} …")
        write_feeds(landing, seed=seed)
    console.note("backfilling 2023-01-01 … 2023-12-31 …")
    first = dt.date(2023, 1, 1)
    code = run_flow("backfill", [first + dt.timedelta(days=i) for i in range(365)],
                    start=first, end=dt.date(2023, 12, 31))
    if code == EXIT_FAILED:
        return code
    console.out()
    kpis = figures.read_kpis(d.warehouse, article.ARTICLE_YEAR)
    console.out(article.format_table(article.compare(figures.kpi_lookup(kpis, article.ARTICLE_YEAR)),
                                     figures.kpi_names(kpis)))
    console.out(f"\nwarehouse: {d.warehouse}\nreport:    {d.reports / 'latest.html'}")
    return code


if __name__ == "__main__":
    entry()
