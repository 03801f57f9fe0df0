"""Failure and quarantine notifications to a configurable webhook (PANRO_NOTIFY_WEBHOOK).

A notification never decides a run's outcome (issue 28): whatever the webhook does — refuse the
connection, answer garbage, drip a byte every few seconds, never answer — `notify` returns within
its overall deadline (`PANRO_NOTIFY_DEADLINE` seconds, default 15) and never raises; the failure is
logged. The POST runs on a daemon thread: a webhook still dripping when the deadline passes is left
to it, and the run (and its lock) goes on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

DEADLINE_VAR = "PANRO_NOTIFY_DEADLINE"
DEFAULT_DEADLINE = 15.0


def deadline_seconds() -> float:
    try:
        value = float(os.environ.get(DEADLINE_VAR, "") or DEFAULT_DEADLINE)
    except ValueError:
        log.warning("%s is not a number of seconds; using %s", DEADLINE_VAR, DEFAULT_DEADLINE)
        return DEFAULT_DEADLINE
    return value if value > 0 else DEFAULT_DEADLINE


def _post(url: str, body: bytes, timeout: float, outcome: list[object]) -> None:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read(64 * 1024)
            outcome.append(200 <= resp.status < 300 or f"HTTP {resp.status}")
    except BaseException as e:
        outcome.append(f"{type(e).__name__}: {e}")


def notify(event: str, payload: dict[str, Any], url: str | None = None, timeout: float | None = None) -> bool:
    """POST {event, ...payload} as JSON within the overall deadline (`timeout`, else
    PANRO_NOTIFY_DEADLINE). True when the webhook answered 2xx in time; otherwise False, logged."""
    url = url or os.environ.get("PANRO_NOTIFY_WEBHOOK")
    if not url:
        return False
    deadline = timeout if timeout is not None else deadline_seconds()
    try:
        body = json.dumps({"event": event, **payload}, ensure_ascii=False, default=str).encode("utf-8")
    except (TypeError, ValueError) as e:
        log.warning("could not encode the %s notification: %s", event, e)
        return False
    outcome: list[object] = []
    sender = threading.Thread(target=_post, args=(url, body, deadline, outcome), name=f"notify-{event}",
                              daemon=True)
    sender.start()
    sender.join(deadline)
    if not outcome:
        log.warning("the webhook did not take the %s notification within %.0f s (%s); the run goes on",
                    event, deadline, DEADLINE_VAR)
        return False
    if outcome[0] is True:
        return True
    log.warning("could not deliver the %s notification to the webhook: %s", event, outcome[0])
    return False
