"""Every published row reaches dbt's staging exactly once, whatever mix of files one run or one raw
segment holds (issue 22).

A seeded random delivery, one feed per file format (CSV in CP949, CSV with a BOM, pipe-delimited,
JSON, JSON Lines, Excel, Parquet), is run through `panro` as an operator runs it: a backfill of up to
40 files per feed (more than one raw segment), then two nightlies that each bring new files, late
files and corrected re-deliveries of earlier ones. Any file may be clean, lose a row to a row rule
(published without it), or be held (too many bad rows); a correction may be any of these too.

After every run, staging must hold, for each delivered file, exactly the rows of its current
published version minus its rejected rows, under that version's batch id, and nothing of a version
replaced or held: counted from the delivery as written here, not from the pipeline's own books.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from panro.domain.contracts import contract_for
from panro.lake.ledger import Ledger
from tests.support.landing import SAMPLES, put
from tests.support.raw import clean_rows

pytestmark = pytest.mark.slow(minutes=3)

PANRO = Path(sys.executable).parent / "panro"
SEED = 22

# one feed per delivered format, and a required column of it that a bad row leaves empty
FEEDS = {
    "kt/kdeal_orders": "주문금액",                  # CSV, CP949
    "baemin/edu_enrollments": "course_title",       # CSV, UTF-8 with BOM, CRLF
    "skplanet/okcashback_promo": "impressions",     # pipe-delimited
    "yogiyo/support": "merchant_name",              # one JSON document
    "kakao/talkchannel": "store_name",              # JSON Lines
    "zigzag/support": "스토어명",                    # Excel workbook
    "zigzag/sales": "orders",                       # Parquet
}
FIRST = dt.date(2023, 3, 1)


@dataclass
class Version:
    rows: int
    bad: int                 # rows failing a row rule

    @property
    def held(self) -> bool:  # more bad rows than the feeds' 1 % tolerance
        return self.bad > self.rows * 0.01

    @property
    def published_rows(self) -> int:
        return self.rows - self.bad


@dataclass
class Delivery:
    """What was delivered, file by file, as the partners' side of the story."""

    landing: Path
    rng: random.Random
    versions: dict[tuple[str, str], list[Version]] = field(default_factory=dict)
    serial: int = 0

    def send(self, feed: str, day: dt.date) -> bool:
        """Write a new version of feed's file for `day`; whether it is held."""
        n = self.rng.randint(100, 160)
        bad = self.rng.choices([0, 1, 5], weights=[6, 3, 2])[0]
        rows = clean_rows(feed, n, day, start=self.serial)   # new content: a new version
        self.serial += n
        for i in self.rng.sample(range(n), bad):
            rows[i][FEEDS[feed]] = None
        name = contract_for(feed).file_name(day)
        partner, feed_name = feed.split("/")
        put(self.landing, partner, feed_name, name, SAMPLES[feed].bytes(rows))
        version = Version(n, bad)
        self.versions.setdefault((feed, name), []).append(version)
        return version.held

    def expected(self, feed: str) -> dict[str, int]:
        """Rows per delivered file that staging must hold: those of its latest version not held (a held
        version leaves the one before it published), minus its bad rows; no file if every version was held."""
        out = {}
        for (f, name), versions in self.versions.items():
            live = [v for v in versions if not v.held]
            if f == feed and live:
                out[name] = live[-1].published_rows
        return out


def _run(data_dir: Path, landing: Path, api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PREFECT_API_URL": api_url, "PANRO_DATA_DIR": str(data_dir), "PANRO_LANDING": str(landing)}
    return subprocess.run([str(PANRO), *args], env=env, capture_output=True, text=True, timeout=900)


def _staged(data_dir: Path, feed: str) -> dict[str, list[tuple[str, int]]]:
    """Staging's rows per delivered file: [(batch id, rows)] — one batch per file, or a defect."""
    partner, feed_name = feed.split("/")
    con = duckdb.connect(str(data_dir / "work" / "panro_work.duckdb"), read_only=True)
    try:
        rows = con.execute(f"select _source_file, _batch_id, count(*) from staging.stg_{partner}__{feed_name} "
                           "group by all order by all").fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, int]]] = {}
    for name, bid, n in rows:
        out.setdefault(name, []).append((bid, n))
    return out


def _check(data_dir: Path, delivery: Delivery) -> None:
    with Ledger(data_dir / "state" / "ledger.duckdb") as ledger:
        published = {(b.feed_name, b.file_name): b for b in ledger.batches(status="published")}
    for feed in FEEDS:
        staged = _staged(data_dir, feed)
        expected = delivery.expected(feed)
        assert {name: sum(n for _, n in found) for name, found in staged.items()} == expected, feed
        for name, found in staged.items():
            ((bid, n),) = found                      # one version of a file, never two
            batch = published[(feed, name)]
            assert bid == batch.batch_id
            assert n == batch.rows_delivered - batch.rows_rejected == batch.rows_published


def test_staging_holds_each_published_batch_once_whatever_the_mix(
        tmp_path: Path, prefect_api_url: str) -> None:
    landing, data_dir = tmp_path / "landing", tmp_path / "data"
    delivery = Delivery(landing, random.Random(SEED))
    rng = delivery.rng

    # a backfill of 1-40 files per feed (one feed past a raw segment's 32)
    window = [FIRST + dt.timedelta(days=i) for i in range(40)]
    held = False
    for k, feed in enumerate(FEEDS):
        count = 40 if k == 0 else rng.randint(1, 40)
        for day in sorted(rng.sample(window, count)):
            held |= delivery.send(feed, day)
    result = _run(data_dir, landing, prefect_api_url, "backfill", "--start", str(window[0]), "--end", str(window[-1]))
    assert result.returncode == (2 if held else 0), result.stderr[-3000:]
    _check(data_dir, delivery)

    # two nightlies: the night's file, late files, and corrections of files already delivered
    night = window[-1]
    for _ in range(2):
        night += dt.timedelta(days=3)
        held = False
        for feed in FEEDS:
            late = [night - dt.timedelta(days=d) for d in (0, 1, 2) if rng.random() < 0.7]
            earlier = sorted(name for (f, name) in delivery.versions if f == feed)
            corrected = rng.sample(earlier, min(len(earlier), rng.randint(0, 4)))
            for day in late:
                held |= delivery.send(feed, day)
            for name in corrected:
                held |= delivery.send(feed, contract_for(feed).business_date(name))
        result = _run(data_dir, landing, prefect_api_url, "run", "--date", str(night))
        assert result.returncode == (2 if held else 0), result.stderr[-3000:]
        _check(data_dir, delivery)

    # the mix really was mixed: versions replaced, held, trimmed, in segments of several files
    all_versions = [v for vs in delivery.versions.values() for v in vs]
    assert any(len(vs) > 1 for vs in delivery.versions.values())
    assert any(v.held for v in all_versions) and any(v.bad == 1 for v in all_versions)
