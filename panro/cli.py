"""The `panro` command line (operations.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from panro.settings import DataDirs

EXIT_OK, EXIT_FAILED, EXIT_HELD_BACK = 0, 1, 2


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=None, help="data directory (default: $PANRO_DATA_DIR or ./data)")
    common.add_argument("--landing", default=None,
                        help="landing root, a folder or any fsspec URL (default: $PANRO_LANDING or DATA_DIR/landing)")
    common.add_argument("--lake", default=None,
                        help="where the raw, published and quarantine zones live, a folder or any fsspec URL "
                             "(default: $PANRO_LAKE or DATA_DIR); S3 credentials and endpoint from the AWS "
                             "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_PROFILE)")

    p = argparse.ArgumentParser(prog="panro", description="판로 — the sales-channel programme pipeline",
                                parents=[common])
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", parents=[common], help="write realistic partner feeds (feeds.md)")
    g.add_argument("--out", type=Path, default=None, help="landing folder to write (default: the landing)")
    g.add_argument("--start", type=_date, default=dt.date(2023, 1, 1))
    g.add_argument("--end", type=_date, default=dt.date(2023, 12, 31))
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=2023)

    runs = argparse.ArgumentParser(add_help=False)
    runs.add_argument("--fail-on-overdue", action="store_true",
                      help="exit 2 when a feed is overdue (default: overdue feeds are reported, exit as usual)")
    runs.add_argument("--dask-address", default=None, metavar="tcp://HOST:PORT",
                      help="extract and check on this Dask cluster's workers (default: $PANRO_DASK_ADDRESS, "
                           "else this machine: threads for a nightly, processes for a backfill)")

    r = sub.add_parser("run", parents=[common, runs], help="the nightly job for one business date")
    r.add_argument("--date", type=_date, default=None, help="business date (default: yesterday in KST)")

    b = sub.add_parser("backfill", parents=[common, runs], help="the nightly job for a range, as one run")
    b.add_argument("--start", type=_date, required=True)
    b.add_argument("--end", type=_date, required=True)

    q = sub.add_parser("quarantine", parents=[common], help="batches the gate held back")
    qs = q.add_subparsers(dest="action", required=True)
    qs.add_parser("list", parents=[common], help="what is held back, and why")
    qshow = qs.add_parser("show", parents=[common], help="one held batch in detail")
    qshow.add_argument("id")
    qrel = qs.add_parser("release", parents=[common], help="put a held batch through again")
    qrel.add_argument("id")
    qrel.add_argument("--accept", action="store_true",
                      help="publish it as it is (needs --reason), instead of re-auditing it")
    qrel.add_argument("--reason", default="", help="why it is released (recorded)")
    qrel.add_argument("--by", default=os.environ.get("USER", "unknown"), help="who releases it (recorded)")
    qhold = qs.add_parser("hold", parents=[common],
                          help="take a published batch out (e.g. one a failing dbt test names) and hold it")
    qhold.add_argument("batch", nargs="+", help="batch ids (partner/feed/file@checksum12), as a failure names them")
    qhold.add_argument("--reason", required=True, help="why it is held (recorded)")
    qhold.add_argument("--by", default=os.environ.get("USER", "unknown"), help="who holds it (recorded)")

    x = sub.add_parser("export", parents=[common],
                       help="the published marts for a spreadsheet: one .xlsx workbook, or CSV files (UTF-8 BOM)")
    x.add_argument("--format", choices=("xlsx", "csv"), default="xlsx",
                   help="xlsx: one sheet per mart; csv: one file per mart (default: xlsx)")
    x.add_argument("--out", type=Path, default=None, help="folder to write (default: DATA_DIR/reports/exports)")
    x.add_argument("tables", nargs="*", metavar="TABLE", help="marts to export (default: every one)")

    d = sub.add_parser("demo", parents=[common],
                       help="generate 2023, backfill it, print the KPIs beside the article, write the report")
    d.add_argument("--seed", type=int, default=2023)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    if start and end and end < start:
        parser.error(f"--end {end} is before --start {start}")  # exit 2, before anything runs
    if getattr(args, "scale", 1.0) <= 0:
        parser.error(f"--scale must be positive, not {args.scale}")
    try:
        dirs = DataDirs.from_env(args.data_dir, args.landing, args.lake)
    except ValueError as e:   # a URL with credentials in it
        parser.error(str(e))
    try:
        return _COMMANDS[args.command](args, dirs)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED


def entry() -> None:
    """The `panro` console script."""
    sys.exit(main())


def _generate(args: argparse.Namespace, dirs: DataDirs) -> int:
    from panro.generate import generate

    out = args.out or Path(dirs.landing_url)
    summary = generate(out, start=args.start, end=args.end, scale=args.scale, seed=args.seed)
    print(summary.describe())
    return EXIT_OK


def _run_flow(fn_name: str, dirs: DataDirs, **params: object) -> int:
    """Run flow `fn_name` of flows.pipeline on `dirs` with `params`; the summary, then the exit code.

    On the Prefect server `PREFECT_API_URL` names, else on Prefect's own temporary server, which
    starts with the flow and stops with this process."""
    from panro.runlock import RunInProgress

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")  # the CLI prints its own summary and held-back lines
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
    from flows import pipeline

    flow = getattr(pipeline, fn_name)
    try:
        result = flow(**params, data_dir=str(dirs.root), landing=dirs.landing_url, lake=dirs.lake_url)
    except RunInProgress as e:
        print(f"panro: {e}", file=sys.stderr)
        return EXIT_FAILED
    except pipeline.FeedsOverdue as e:   # --fail-on-overdue: the run published; its flow run failed on purpose
        result = e.summary
    except Exception as e:
        print(f"panro: the run failed and published nothing new: {type(e).__name__}: {e}", file=sys.stderr)
        _print_dbt_failures(getattr(e, "failed", []))
        return EXIT_FAILED
    from panro.outcome import describe

    for b in result["held_back"]:
        line = describe(b["partner"], b["feed"], b["file_name"], b["status"], b["reason"])
        print(f"held back: {line}", file=sys.stderr)
    for b in result.get("trimmed", []):
        line = describe(b["partner"], b["feed"], b["file_name"], "published", b["reason"])
        print(f"rows rejected: {line}", file=sys.stderr)
    _print_feeds(result)
    totals = result["totals"]
    print(f"{result['kind']} {result['dates'][0]} … {result['dates'][1]}: {totals['batches']} batches, "
          f"{totals['rows_delivered']:,} rows delivered, {totals['rows_published']:,} published, "
          f"{totals['rows_rejected']:,} rejected, {totals['rows_quarantined']:,} quarantined "
          f"→ exit {result['exit_code']}")
    return int(result["exit_code"])


def _print_feeds(result: dict) -> None:
    """Told, not discovered: overdue feeds, figures not complete through the run's date, new columns."""
    from panro import feed_report

    for f in result.get("overdue", []):
        print(f"overdue: {feed_report.overdue_line(f)}", file=sys.stderr)
    for line in result.get("incomplete", []):
        print(f"incomplete: {line}", file=sys.stderr)
    for d in result.get("schema_drift", []):
        print(f"new column: {feed_report.drift_line(d)}", file=sys.stderr)


def _print_dbt_failures(failed: list[dict[str, object]]) -> None:
    """Each failing dbt test with the batches whose rows it found, and how to take them out."""
    held: list[str] = []
    for f in failed:
        where = f" on {f['model']}" if f.get("model") else ""
        print(f"dbt {f['resource_type']} failed: {f['node']}{where}: {f['message']}", file=sys.stderr)
        for b in f.get("batches") or []:
            print(f"  rows from {b['partner']}/{b['feed']} {b['file_name']}: {b['rows']:,} (batch {b['batch_id']})",
                  file=sys.stderr)
            held.append(str(b["batch_id"]))
        if f.get("traced"):
            print(f"  {f['traced']}", file=sys.stderr)
    if held:
        print("to publish everything else tonight, hold them back: panro quarantine hold "
              + " ".join(dict.fromkeys(held)) + " --reason '…'", file=sys.stderr)


def _run(args: argparse.Namespace, dirs: DataDirs) -> int:
    return _run_flow("nightly", dirs, run_date=args.date.isoformat() if args.date else None,
                     fail_on_overdue=args.fail_on_overdue, dask_address=args.dask_address)


def _backfill(args: argparse.Namespace, dirs: DataDirs) -> int:
    return _run_flow("backfill", dirs, start=args.start.isoformat(), end=args.end.isoformat(),
                     fail_on_overdue=args.fail_on_overdue, dask_address=args.dask_address)


def _quarantine(args: argparse.Namespace, dirs: DataDirs) -> int:
    from panro import quarantine

    if args.action == "list":
        return quarantine.cli_list(dirs)
    if args.action == "show":
        return quarantine.cli_show(dirs, args.id)
    if args.action == "hold":
        return quarantine.cli_hold(dirs, args.batch, reason=args.reason, who=args.by)
    if args.accept and not args.reason.strip():
        print("panro: --accept needs --reason (it is recorded with who released it)", file=sys.stderr)
        return EXIT_FAILED
    code = quarantine.cli_release(dirs, args.id, accept=args.accept, reason=args.reason, who=args.by)
    if code == EXIT_OK:
        print("it reaches the marts with the next run (`panro run`)")
    return code


def _export(args: argparse.Namespace, dirs: DataDirs) -> int:
    from panro.export import ExportError, export

    try:
        written = export(dirs, args.format, args.out, args.tables)
    except ExportError as e:
        print(f"panro export: {e}", file=sys.stderr)
        return EXIT_FAILED
    for path in written:
        print(path)
    return EXIT_OK


def _demo(args: argparse.Namespace, dirs: DataDirs) -> int:
    from panro import article, report
    from panro.generate import generate

    landing = Path(dirs.landing_url)
    if not any(landing.glob("*/*/*")):
        print(f"generating the 2023 demo feeds into {landing} …")
        generate(landing, seed=args.seed)
    print("backfilling 2023-01-01 … 2023-12-31 …")
    code = _run_flow("backfill", dirs, start="2023-01-01", end="2023-12-31")
    if code == EXIT_FAILED:
        return code
    print()
    kpis = report.read_kpis(dirs, article.ARTICLE_YEAR)
    print(article.format_table(article.compare(report.kpi_lookup(kpis, article.ARTICLE_YEAR)),
                               report.kpi_names(kpis)))
    print(f"\nwarehouse: {dirs.warehouse}\nreport:    {dirs.reports / 'latest.html'}")
    return code


_COMMANDS = {
    "generate": _generate,
    "run": _run,
    "backfill": _backfill,
    "quarantine": _quarantine,
    "export": _export,
    "demo": _demo,
}

if __name__ == "__main__":
    entry()
