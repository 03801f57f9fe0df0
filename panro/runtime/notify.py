"""Failure and quarantine notifications to a configurable webhook (PANRO_NOTIFY_WEBHOOK)."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

log = logging.getLogger(__name__)


def notify(event: str, payload: dict[str, Any], url: str | None = None, timeout: float = 10.0) -> bool:
    """POST {event, ...payload} as JSON. Returns False (and logs) when it could not be delivered:
    a notification problem never fails the run it reports on."""
    url = url or os.environ.get("PANRO_NOTIFY_WEBHOOK")
    if not url:
        return False
    body = json.dumps({"event": event, **payload}, ensure_ascii=False, default=str).encode("utf-8")
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except OSError as e:
        log.warning("could not deliver the %s notification to the webhook: %s", event, e)
        return False
