"""The `panro` command line (operations.md), built on cyclopts; its output goes through panro.runtime.console.

Exit status: 0 done; 1 failed or misconfigured (one sentence on stderr says what to fix); 2 a run
published but held something back — and a command line it cannot take (its usage error).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import App, Parameter
from cyclopts.exceptions import CycloptsError

from panro.runtime import console
from panro.runtime.terminal import escape_logs
from panro.settings import DataDirs, owner_only

EXIT_OK, EXIT_FAILED, EXIT_HELD_BACK = 0, 1, 2
EXIT_USAGE = 2
KST = dt.timezone(dt.timedelta(hours=9), "KST")


def _version() -> str:
    try:
        return f"panro {version('panro')}"
    except PackageNotFoundError:   # pragma: no cover - run from a checkout that is not installed
        return "panro (not installed)"


app = App(name="panro", help="판로 — the sales-channel programme pipeline (operations.md)", version=_version,
          default_parameter=Parameter(negative=()), help_on_error=False)
quarantine_app = App(name="quarantine", help="Batches the gate held back: list, show, release, hold.",
                     default_parameter=Parameter(negative=()), help_on_error=False)
app.command(quarantine_app)

# the options every command takes (app.meta): where the data is, and how much is said
DataDir = Annotated[str | None, Parameter(name="--data-dir",
                                          help="data directory (default: $PANRO_DATA_DIR or ./data)")]
Landing = Annotated[str | None, Parameter(
    name="--landing", help="landing root, a folder or any fsspec URL (default: $PANRO_LANDING or DATA_DIR/landing)")]
Lake = Annotated[str | None, Parameter(
    name="--lake", help="where the raw, published and quarantine zones are, a folder or any fsspec URL (default: "
    "$PANRO_LAKE or DATA_DIR); S3 credentials and endpoint from the AWS environment, never in the URL "
    "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_PROFILE)")]
Quiet = Annotated[bool, Parameter(name=["--quiet", "-q"],
                                  help="say nothing but what needs a look (held back, overdue, failures): for cron")]
Verbose = Annotated[bool, Parameter(name=["--verbose", "-v"], help="also Prefect's own log lines")]
FailOnOverdue = Annotated[bool, Parameter(
    help="exit 2 when a feed is overdue (default: overdue feeds are reported, exit as usual)")]
DaskAddress = Annotated[str | None, Parameter(
    help="extract and check on this Dask cluster's workers, tcp://HOST:PORT (default: $PANRO_DASK_ADDRESS, "
         "else this machine: threads for a nightly, processes for a backfill)")]

_dirs: DataDirs | None = None


def dirs() -> DataDirs:
    return _dirs if _dirs is not None else DataDirs.from_env()


@app.meta.default
def _options(*tokens: Annotated[str, Parameter(show=False, allow_leading_hyphen=True)],
             data_dir: DataDir = None, landing: Landing = None, lake: Lake = None, quiet: Quiet = False,
             verbose: Verbose = False) -> int:
    global _dirs
    try:
        _dirs = DataDirs.from_env(data_dir, landing, lake)
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


_AS_COMMAND = False   # the `panro` console script: this process is the run's, and ends with it


def entry() -> None:
    """The `panro` console script."""
    global _AS_COMMAND
    _AS_COMMAND = True
    raise SystemExit(main())


class UsageError(ValueError):
    """A request that cannot be: refused before anything runs."""


def _span(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")


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
    _span(start, end)
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
    day = date or (dt.datetime.now(KST).date() - dt.timedelta(days=1))
    return _run_flow("nightly", [day], run_date=day, init=init, fail_on_overdue=fail_on_overdue,
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
    _span(start, end)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return _run_flow("backfill", days, start=start, end=end, fail_on_overdue=fail_on_overdue,
                     dask_address=dask_address)


@quarantine_app.command(name="list")
def quarantine_list() -> int:
    """What is held back, and why."""
    from panro import quarantine

    return quarantine.cli_list(dirs())


@quarantine_app.command(name="show")
def quarantine_show(id: str, /) -> int:
    """One held batch in detail."""
    from panro import quarantine

    return quarantine.cli_show(dirs(), id)


@quarantine_app.command(name="release")
def quarantine_release(id: str, /, *, accept: bool = False, reason: str = "",
                       by: str = os.environ.get("USER", "unknown")) -> int:
    """Put a held batch through again.

    Parameters
    ----------
    accept
        publish it as it is (needs --reason), instead of re-auditing it
    reason
        why it is released (recorded)
    by
        who releases it (recorded)
    """
    from panro import quarantine

    if accept and not reason.strip():
        console.fail("--accept needs --reason (it is recorded with who released it)")
        return EXIT_FAILED
    code = quarantine.cli_release(dirs(), id, accept=accept, reason=reason, who=by)
    if code == EXIT_OK:
        console.out("it reaches the marts with the next run (`panro run`)")
    return code


@quarantine_app.command(name="hold")
def quarantine_hold(*batch: str, reason: str, by: str = os.environ.get("USER", "unknown")) -> int:
    """Take published batches out (e.g. the ones a failing dbt test names) and hold them.

    Parameters
    ----------
    batch
        batch ids (partner/feed/file@checksum12), as a failure names them
    reason
        why they are held (recorded)
    by
        who holds them (recorded)
    """
    from panro import quarantine

    if not batch:
        raise UsageError("name at least one batch to hold")
    return quarantine.cli_hold(dirs(), list(batch), reason=reason, who=by)


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
    code = _run_flow("backfill", [first + dt.timedelta(days=i) for i in range(365)],
                     start=first, end=dt.date(2023, 12, 31))
    if code == EXIT_FAILED:
        return code
    console.out()
    kpis = figures.read_kpis(d.warehouse, article.ARTICLE_YEAR)
    console.out(article.format_table(article.compare(figures.kpi_lookup(kpis, article.ARTICLE_YEAR)),
                                     figures.kpi_names(kpis)))
    console.out(f"\nwarehouse: {d.warehouse}\nreport:    {d.reports / 'latest.html'}")
    return code


# -- running a flow ------------------------------------------------------------------------------

def _run_flow(fn_name: str, days: list[dt.date], **params: object) -> int:
    """Check the configuration, then run flow `fn_name` of flows.pipeline with `params`: its progress
    and summary, then the exit code.

    On the Prefect server `PREFECT_API_URL` names, else on Prefect's own temporary server, which
    starts with the flow and stops with this process."""
    from panro.extract import preflight

    d = dirs()
    try:   # before Prefect starts: a misconfigured run does nothing, and says what to fix
        new = not d.root.exists()
        preflight.check(d, days, "backfill" if fn_name == "backfill" else "nightly",
                        create=fn_name == "backfill" or bool(params.get("init")))
        if new:
            console.note(f"created the data directory {d.root}")
    except preflight.Misconfigured as e:
        console.fail(str(e))
        return EXIT_FAILED
    _prefect_environment()
    if _AS_COMMAND:
        from panro.runtime import guard

        guard.start()   # whatever this run starts ends with it, even when it is killed (SIGKILL)
    from flows import pipeline
    from panro.report.outcome import failed_run_message
    from panro.runtime import progress
    from panro.runtime.runlock import RunInProgress
    from panro.runtime.signals import EXIT_STOPPED, stop_on_sigterm, stopped_message

    flow = getattr(pipeline, fn_name)
    lines = console.StageLines()
    try:
        with stop_on_sigterm(), progress.reporting(lines):
            result = flow(**params, data_dir=str(d.root), landing=d.landing_url, lake=d.lake_url)
    except RunInProgress as e:
        console.fail(str(e))
        return EXIT_FAILED
    except pipeline.FeedsOverdue as e:   # --fail-on-overdue: the run published; its flow run failed on purpose
        result = e.summary
    except preflight.Misconfigured as e:
        console.fail(str(e))
        return EXIT_FAILED
    except Exception as e:
        console.fail(failed_run_message(e))
        _print_dbt_failures(getattr(e, "failed", []))
        return EXIT_FAILED
    except BaseException as e:  # SIGTERM, Ctrl-C: stopped within seconds, saying what was published
        lines.close()
        console.fail(stopped_message(e))
        return EXIT_STOPPED
    finally:
        lines.close()
    _print_outcome(result)
    return int(result["exit_code"])


def _prefect_environment() -> None:
    """Prefect as the command line runs it: quiet unless -v, and no usage statistics."""
    if console.level() >= console.VERBOSE:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    else:   # the CLI prints its own progress, summary and held-back lines
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    # the agency's pipeline does not phone home: no Prefect, dbt or GX usage statistics
    for var, value in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
                       ("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"), ("GX_ANALYTICS_ENABLED", "false"),
                       # a fresh Prefect home creates its database at the first start: on a busy
                       # machine that outlasts Prefect's default wait of 20 s
                       ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")):
        os.environ.setdefault(var, value)
    if "PREFECT_API_URL" in os.environ and not os.environ["PREFECT_API_URL"].strip():
        # `PREFECT_API_URL=` is no address: Prefect would start its temporary server for the run but
        # send its events to the blank one, logging an error at every state change
        del os.environ["PREFECT_API_URL"]


def _print_outcome(result: dict) -> None:
    from panro.freshness import report as feed_report
    from panro.report.outcome import describe

    for b in result["held_back"]:
        console.warn(f"held back: {describe(b['partner'], b['feed'], b['file_name'], b['status'], b['reason'])}")
    for n in result.get("not_extracted", []):
        console.warn(f"not extracted: {n['reason']}")
    for b in result.get("trimmed", []):
        console.warn(f"rows rejected: {describe(b['partner'], b['feed'], b['file_name'], 'published', b['reason'])}")
    # told, not discovered: overdue feeds, figures not complete through the run's date, new columns
    for f in result.get("overdue", []):
        console.warn(f"overdue: {feed_report.overdue_line(f)}")
    for line in result.get("incomplete", []):
        console.warn(f"incomplete: {line}")
    for drift in result.get("schema_drift", []):
        console.warn(f"new column: {feed_report.drift_line(drift)}")
    totals = result["totals"]
    if console.level() >= console.NORMAL:
        console.out(f"{result['kind']} {result['dates'][0]} … {result['dates'][1]}: {totals['batches']} batches, "
                    f"{totals['rows_delivered']:,} rows delivered, {totals['rows_published']:,} published, "
                    f"{totals['rows_rejected']:,} rejected, {totals['rows_quarantined']:,} quarantined "
                    f"→ exit {result['exit_code']}")


def _print_dbt_failures(failed: list[dict[str, object]]) -> None:
    """Each failing dbt test with the batches whose rows it found, and how to take them out."""
    held: list[str] = []
    for f in failed:
        where = f" on {f['model']}" if f.get("model") else ""
        console.warn(f"dbt {f['resource_type']} failed: {f['node']}{where}: {f['message']}")
        for b in f.get("batches") or []:  # type: ignore[attr-defined]
            console.warn(f"  rows from {b['partner']}/{b['feed']} {b['file_name']}: {b['rows']:,} "
                         f"(batch {b['batch_id']})")
            held.append(str(b["batch_id"]))
        if f.get("traced"):
            console.warn(f"  {f['traced']}")
    if held:
        console.warn("to publish everything else tonight, hold them back: panro quarantine hold "
                     + " ".join(dict.fromkeys(held)) + " --reason '…'")


if __name__ == "__main__":
    entry()
