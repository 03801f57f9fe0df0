"""Running a flow from the command line: the configuration checked first, Prefect's environment set, the
run's progress lines, then its outcome (held back, overdue, failed dbt tests) and exit status."""

from __future__ import annotations

import datetime as dt
import os

from panro.commands.options import EXIT_FAILED, as_command, dirs
from panro.runtime import console


def run_flow(fn_name: str, days: list[dt.date], **params: object) -> int:
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
    if as_command():
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

