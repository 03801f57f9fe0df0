"""Runs that say what they are doing, and outcomes Prefect can act on (issue 25), through the real command
line on a real Prefect server: a night with one bad partner file, its stage lines and progress bar in a
terminal, its "Completed with holds" state and `panro.batch.held_back` event, dbt's work node by node in
its report; the same night again `--quiet` and without a terminal; a flow that cannot start emitting
`panro.run.failed`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PANRO = Path(sys.executable).parent / "panro"
NIGHT = "2023-05-03"
BAD = "orders_daily_20230503.csv"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def events(api: str, name: str, since: dt.datetime, found: Any) -> list[Any]:
    """The server's events named `name` since `since`, waiting (up to a minute) until `found(events)`: the
    server stores the events it receives in batches, a few seconds after they arrive."""
    import time

    from prefect.client.orchestration import SyncPrefectClient
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    deadline = time.monotonic() + 60
    with SyncPrefectClient(api) as client:
        while True:
            page = client.read_events(EventFilter(occurred=EventOccurredFilter(since=since),
                                                  event=EventNameFilter(name=[name])), limit=50)
            if found(page.events) or time.monotonic() > deadline:
                return page.events
            time.sleep(2)


def _env(api: str, data_dir: Path, landing: Path) -> dict[str, str]:
    return {**os.environ, "PREFECT_API_URL": api, "PANRO_DATA_DIR": str(data_dir), "PANRO_LANDING": str(landing),
            "COLUMNS": "100"}


def run_in_terminal(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """`panro ARGS` with stderr on a pseudo-terminal (as in an operator's shell): exit code, stdout, the
    terminal's bytes as text."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(PANRO), *args], env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=900)
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def night(prefect_api_url: str, small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The first night of a new data directory (`run --init`), 요기요's file of the night broken: every
    amount negative."""
    root = tmp_path_factory.mktemp("operators")
    landing, data_dir = root / "landing", root / "data"
    shutil.copytree(small_landing, landing)
    bad = landing / "yogiyo" / "orders" / BAD
    rows = list(csv.DictReader(io.StringIO(bad.read_text(encoding="utf-8"))))
    for r in rows:
        r["gross_sales_krw"] = str(-int(r["gross_sales_krw"]))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    bad.write_text(out.getvalue(), encoding="utf-8")
    env = _env(prefect_api_url, data_dir, landing)
    started = dt.datetime.now(dt.UTC)
    code, stdout, terminal = run_in_terminal(env, "run", "--init", "--date", NIGHT)
    return {"env": env, "data_dir": data_dir, "code": code, "stdout": stdout, "terminal": terminal,
            "started": started, "rows": len(rows)}


def test_the_night_exits_2_and_names_the_held_file(night: dict[str, Any]) -> None:
    assert night["code"] == 2, night["terminal"][-4000:]
    assert f"held back: yogiyo/orders {BAD} (quarantined)" in night["terminal"]
    assert "→ exit 2" in night["stdout"]


def test_each_stage_says_as_it_starts_and_ends_what_it_found_and_how_long_it_took(night: dict[str, Any]) -> None:
    text = ANSI.sub("", night["terminal"]).replace("\r", "\n")
    lines = [ln.strip() for ln in text.splitlines()]
    assert f"created the data directory {night['data_dir']}" in lines

    def line(pattern: str) -> str:
        found = [ln for ln in lines if re.fullmatch(pattern, ln)]
        assert found, f"no line like {pattern!r} in:\n" + "\n".join(ln for ln in lines if "━" not in ln)
        return found[0]

    line(r"extract: 79 new or changed files of 12 feeds to decode …")
    line(r"extract: 79 files extracted, [\d,]+ rows; 0 unchanged, 0 failed, 0 unmatched \(\d+\.\d s\)")
    line(r"audit: 79 batches \([\d,]+ rows\) of 12 feeds to check …")
    line(r"audit: 79 batches: 78 published, 0 with rows rejected, 1 quarantined; [\d,]+ rows published \(.* s\)")
    line(r"transform: dbt build of the marts from the published batches …")
    line(r"transform: dbt build passed: [\d,]+ nodes \(.*\d+ success.*\); in full: the first build of this work "
         r"folder \(.* s\)")
    line(r"publish: \d+ tables published to .*panro\.duckdb \(.* s\)")
    line(r"report: .*latest\.html \(.* s\)")


def test_a_terminal_gets_a_progress_bar_for_extraction_and_the_gate(night: dict[str, Any]) -> None:
    text = ANSI.sub("", night["terminal"])
    assert re.search(r"extract\s+━+.*79/79", text) and re.search(r"audit\s+━+.*79/79", text)


def test_prefect_sees_a_completed_run_that_held_something_back(night: dict[str, Any], prefect_api_url: str) -> None:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime
    from prefect.client.schemas.sorting import FlowRunSort

    with SyncPrefectClient(prefect_api_url) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=night["started"])),
            sort=FlowRunSort.START_TIME_ASC)
    run = next(r for r in runs if r.parameters.get("run_date") in (NIGHT, dt.date(2023, 5, 3)))
    assert run.state.is_completed()
    assert run.state.name == "Completed with holds"
    assert run.state.message.startswith("1 batch held back (yogiyo/orders)")


def test_each_held_batch_is_a_prefect_event_with_partner_feed_file_and_reason(
        night: dict[str, Any], prefect_api_url: str) -> None:
    held = events(prefect_api_url, "panro.batch.held_back", night["started"],
                  lambda es: any(e.payload.get("file") == BAD for e in es))
    (event,) = [e for e in held if e.payload.get("file") == BAD]
    assert event.resource.id == f"panro.batch.yogiyo.orders.{BAD}"
    assert (event.resource["panro.partner"], event.resource["panro.feed"]) == ("yogiyo", "orders")
    assert event.payload["status"] == "quarantined" and "gross_sales_krw is negative" in event.payload["reason"]
    assert "flow-run" in {r.role for r in event.related}   # Prefect relates it to the flow run


def test_the_report_shows_dbts_work_model_by_model(night: dict[str, Any]) -> None:
    reports = night["data_dir"] / "reports"
    (run_json,) = reports.glob("run-*.json")
    models = json.loads(run_json.read_text(encoding="utf-8"))["dbt_models"]
    by_name = {m["name"]: m for m in models}
    kpis = by_name["mart_program_kpis"]
    assert (kpis["resource_type"], kpis["status"]) == ("model", "success") and kpis["seconds"] >= 0
    assert any(m["resource_type"] == "test" and m["status"] == "pass" for m in models)
    page = (reports / "latest.html").read_text(encoding="utf-8")
    assert "dbt&#39;s work tonight" in page or "dbt's work tonight" in page
    assert "mart_program_kpis" in page


def test_quiet_says_nothing_but_what_needs_a_look(night: dict[str, Any]) -> None:
    result = subprocess.run([str(PANRO), "--quiet", "run", "--date", NIGHT], env=night["env"], capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]   # nothing new tonight: nothing held back
    assert result.stdout == ""
    for stage in ("extract:", "audit:", "transform:", "publish:", "report:"):
        assert stage not in result.stderr


def test_without_a_terminal_the_stage_lines_come_without_a_bar(night: dict[str, Any]) -> None:
    result = subprocess.run([str(PANRO), "run", "--date", NIGHT], env=night["env"], capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "extract: no new or changed file to decode …" in result.stderr
    assert "audit: no batch to check …" in result.stderr
    assert "━" not in result.stderr and "\x1b[" not in result.stderr


def test_verbose_adds_prefects_own_log_lines(night: dict[str, Any]) -> None:
    env = {k: v for k, v in night["env"].items() if k != "PREFECT_LOGGING_LEVEL"}
    quiet = subprocess.run([str(PANRO), "run", "--date", NIGHT], env=env, capture_output=True, text=True, timeout=900)
    verbose = subprocess.run([str(PANRO), "-v", "run", "--date", NIGHT], env=env, capture_output=True, text=True,
                             timeout=900)
    assert quiet.returncode == verbose.returncode == 0, verbose.stderr[-3000:]
    assert "| INFO    | Flow run" not in quiet.stderr
    assert "| INFO    | Flow run" in verbose.stderr and "Finished in state Completed" in verbose.stderr


def test_a_run_that_cannot_start_fails_in_prefect_and_emits_run_failed(
        prefect_api_url: str, small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import pipeline
    from panro.extract.preflight import Misconfigured

    monkeypatch.setenv("PREFECT_API_URL", prefect_api_url)
    started = dt.datetime.now(dt.UTC)
    missing = tmp_path / "no-such-data"
    state = pipeline.nightly(run_date=dt.date(2023, 5, 3), data_dir=str(missing), landing=str(small_landing),
                             return_state=True)
    assert state.is_failed() and "does not exist" in state.message
    with pytest.raises(Misconfigured):
        state.result()
    assert not missing.exists()
    def mine(es: list[Any]) -> bool:
        return any(str(missing) in e.payload["error"] and e.payload["kind"] == "nightly" for e in es)

    assert mine(events(prefect_api_url, "panro.run.failed", started, mine))
