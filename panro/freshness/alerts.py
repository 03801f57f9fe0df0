"""Told, not discovered: a feed that becomes overdue is announced once, and once again when it recovers.

At a run's end (`announce`), each feed's status (panro.freshness.status) is compared with what was last
announced of it, remembered in the ledger's `feed_alerts` table — the pipeline's own state, not the
warehouse: a feed overdue for a week is announced on the first night, not seven times. Each change is
a Prefect event, for Prefect Automations (`panro.feed.overdue`, `panro.feed.recovered`, one per feed,
its resource `panro.feed.<partner>.<feed>`), and a POST to PANRO_NOTIFY_WEBHOOK (`feeds_overdue`,
`feeds_recovered`, one per run listing the feeds). A feed that never delivered is reported, not
announced; neither changes the run's exit status (the CLI's `--fail-on-overdue` does).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from panro.lake.ledger import Ledger
from panro.runtime import notify
from panro.settings import DataDirs

log = logging.getLogger("panro.freshness.status")

OVERDUE_EVENT, RECOVERED_EVENT = "panro.feed.overdue", "panro.feed.recovered"


@dataclass
class Announcement:
    overdue: list[dict[str, Any]] = field(default_factory=list)     # became overdue since last told
    recovered: list[dict[str, Any]] = field(default_factory=list)   # overdue when last told, fresh now

    def __bool__(self) -> bool:
        return bool(self.overdue or self.recovered)


def changes(feeds: list[dict[str, Any]], announced: dict[tuple[str, str], str]) -> Announcement:
    """What is news: feeds overdue now and not announced as overdue, and feeds announced as overdue
    that are fresh now."""
    out = Announcement()
    for f in feeds:
        last = announced.get((f["partner"], f["feed"]))
        if f["status"] == "overdue" and last != "overdue":
            out.overdue.append(f)
        elif f["status"] == "fresh" and last == "overdue":
            out.recovered.append(f)
    return out


def _brief(f: dict[str, Any]) -> dict[str, Any]:
    return {"partner": f["partner"], "feed": f["feed"], "last_business_date": f["last_business_date"],
            "days_since_last": f["days_since_last"], "overdue_after_days": f["overdue_after_days"],
            "run_date": f["run_date"], "held_back_batches": f["held_back_batches"]}


def _emit(name: str, f: dict[str, Any], run: dict[str, Any]) -> None:
    """One Prefect event about one feed (inside a flow run, Prefect relates it to the run)."""
    from prefect.events import emit_event

    emit_event(event=name, resource={"prefect.resource.id": f"panro.feed.{f['partner']}.{f['feed']}",
                                     "prefect.resource.name": f"{f['partner']}/{f['feed']}",
                                     "panro.partner": str(f["partner"]), "panro.feed": str(f["feed"])},
               payload={**{k: str(v) if v is not None else None for k, v in _brief(f).items()}, **run})


def announce(dirs: DataDirs, feeds: list[dict[str, Any]], run: dict[str, Any]) -> Announcement:
    """Announce what changed since the last announcement (events, webhook), then remember it.

    `run`: the run's id and kind, carried in every announcement. Sent before it is recorded: a run
    killed in between announces again next time rather than never."""
    if not feeds:
        return Announcement()
    try:
        return _announce(dirs, feeds, run)
    except Exception as e:   # telling is best effort: never fails the run it reports on
        log.error("could not announce the feeds' freshness: %s: %s", type(e).__name__, e)
        return Announcement()


def _announce(dirs: DataDirs, feeds: list[dict[str, Any]], run: dict[str, Any]) -> Announcement:
    with Ledger(dirs.ledger_path) as ledger:
        news = changes(feeds, ledger.announced())
        if not news:
            return news
        for name, group in ((OVERDUE_EVENT, news.overdue), (RECOVERED_EVENT, news.recovered)):
            for f in group:
                try:
                    _emit(name, f, run)
                except Exception as e:
                    log.warning("could not emit the %s event for %s/%s: %s", name, f["partner"], f["feed"], e)
        still = [_brief(f) for f in feeds if f["status"] == "overdue"]
        if news.overdue:
            notify.notify("feeds_overdue", {**run, "overdue": [_brief(f) for f in news.overdue],
                                            "still_overdue": still})
        if news.recovered:
            notify.notify("feeds_recovered", {**run, "recovered": [_brief(f) for f in news.recovered],
                                              "still_overdue": still})
        ledger.record_announced([(f["partner"], f["feed"], "overdue", f["last_business_date"]) for f in news.overdue]
                                + [(f["partner"], f["feed"], "fresh", f["last_business_date"])
                                   for f in news.recovered], str(run.get("run_id", "")))
    return news
