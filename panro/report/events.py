"""A run's outcome as Prefect events, for Prefect Automations (issue 25).

- `panro.batch.held_back`: one per batch the run held back (quarantined, or a file that could not be
  read), its resource `panro.batch.<partner>.<feed>.<file>` with the partner, feed and file as labels,
  the reason in its payload;
- `panro.run.failed`: a run that published nothing (dbt failed, the run could not start …), its
  resource `panro.run.<run id>`, the error in its payload.

Emitted inside the flow run, Prefect relates each event to it (and to its deployment and flow). An
automation on these events notifies; the webhook (PANRO_NOTIFY_WEBHOOK) stays for sites without
Automations. Telling is best effort: a failure to emit never fails the run it reports on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from panro.report.outcome import RunOutcome

log = logging.getLogger("panro.events")

HELD_BACK_EVENT, RUN_FAILED_EVENT = "panro.batch.held_back", "panro.run.failed"


def _emit(event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
    from prefect.events import emit_event

    try:
        emit_event(event=event, resource=resource, payload=payload)
    except Exception as e:
        log.warning("could not emit the %s event for %s: %s", event, resource.get("prefect.resource.name"), e)


def _run(run_id: str, kind: str, dates: Sequence[dt.date]) -> dict[str, Any]:
    return {"run_id": run_id, "kind": kind, "dates": [str(d) for d in dates]}


def held_back(outcome: RunOutcome) -> int:
    """One event per batch held back; returns how many."""
    for b in outcome.held_back:
        name = f"{b.partner}/{b.feed} {b.file_name}"
        _emit(HELD_BACK_EVENT,
              {"prefect.resource.id": f"panro.batch.{b.partner}.{b.feed}.{b.file_name}",
               "prefect.resource.name": name, "panro.partner": b.partner, "panro.feed": b.feed,
               "panro.file": b.file_name},
              {"partner": b.partner, "feed": b.feed, "file": b.file_name, "status": b.status,
               "business_date": str(b.business_date) if b.business_date else None,
               "rows": b.rows_delivered, "reason": b.reason[:2000],
               **_run(outcome.run_id, outcome.kind, outcome.dates)})
    return len(outcome.held_back)


def run_failed(run_id: str, kind: str, dates: Sequence[dt.date], error: str,
               dbt_failures: list[dict[str, object]] | None = None) -> None:
    """The run published nothing new: why."""
    _emit(RUN_FAILED_EVENT,
          {"prefect.resource.id": f"panro.run.{run_id}", "prefect.resource.name": f"panro {kind} {run_id}",
           "panro.kind": kind},
          {"error": error[:2000], **_run(run_id, kind, dates),
           "dbt_failures": [{k: str(v) for k, v in f.items() if k != "batches"} for f in dbt_failures or []]})


def announce(outcome: RunOutcome) -> None:
    """The events a finished run earns: its held-back batches, or its failure."""
    try:
        if outcome.exit_code == 1:
            run_failed(outcome.run_id, outcome.kind, outcome.dates, outcome.error or "nothing was published",
                       outcome.dbt_failures)
        held_back(outcome)
    except Exception as e:   # never fails the run it reports on
        log.error("could not emit the run's events: %s: %s", type(e).__name__, e)
