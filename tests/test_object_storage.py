"""Partner files and the lake on object storage, against a real S3 server on 127.0.0.1 (moto, server mode).

Three days of every feed (CSV, pipe text, JSON, JSON Lines, Excel, Parquet) are uploaded to a bucket;
`panro backfill --landing s3://… --lake s3://…` takes credentials and endpoint from the AWS
environment only. Its marts are the marts of the same delivery run from local folders, row for row; a
corrected re-delivery replaces the file's rows; a bad file is held with its quarantine folder on the
lake; the secret key is in no file the runs wrote and in none of their output; a store nobody answers
at fails the run (exit 1) naming the URL, and nothing is published; a Dask cluster's workers, with the
landing and the lake in the bucket, build the same marts.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from panro.generate import generate
from panro.lake.ledger import Ledger
from tests.support.marts import marts_of
from tests.support.s3 import S3Server, objects, upload

pytestmark = pytest.mark.slow(minutes=8)

PANRO = Path(sys.executable).parent / "panro"
START, END = "2023-05-01", "2023-05-03"
CORRECTED = ("baemin", "delivery_stats", "delivery_stats_20230502.csv")
BAD = ("baemin", "delivery_stats", "delivery_stats_20230503.csv")

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    s3 = S3Server.start(tmp_path_factory.mktemp("moto"))
    yield s3
    s3.stop()


@dataclass(frozen=True)
class Delivery:
    local: Path      # the partners' files in a folder
    bucket: str
    landing: str     # the same files in the bucket: s3://bucket/partners

    def lake(self, name: str) -> str:
        return f"s3://{self.bucket}/{name}"


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory, server: S3Server) -> Delivery:
    """Three days of every feed, uploaded; the local copies carry the upload's times (the delivery times
    the marts report), so the two landings are the same delivery."""
    local = generate(tmp_path_factory.mktemp("partners") / "landing", start=dt.date.fromisoformat(START),
                     end=dt.date.fromisoformat(END)).out
    bucket = server.bucket()
    landing = f"s3://{bucket}/partners"
    assert upload(server, local, landing) == 36
    for key, info in server.fs().find(f"{bucket}/partners", detail=True).items():
        stamp = info["LastModified"].timestamp()
        os.utime(local / key.removeprefix(f"{bucket}/partners/"), (stamp, stamp))
    return Delivery(local, bucket, landing)


@pytest.fixture(scope="module")
def panro(prefect_api_url: str, server: S3Server) -> Runner:
    """`panro ARGS` as a user runs it, with the AWS environment of the test server (its keys only
    there) and the test session's Prefect server."""
    def run(*args: str, env: dict[str, str] | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("PANRO_", "AWS_")) or k == "PANRO_DBT_PARSE_CACHE"}   # the run's (conftest)
        values = {**server.client_env(base), "PREFECT_API_URL": prefect_api_url, "PANRO_ENGINE": "threads",
                  "PREFECT_LOGGING_LEVEL": "INFO", **(env or {}), **extra}
        return subprocess.run([str(PANRO), *args], env=values, capture_output=True, text=True, timeout=900)
    return run


@pytest.fixture(scope="module")
def local_marts(tmp_path_factory: pytest.TempPathFactory, panro: Runner, delivery: Delivery) -> dict:
    data_dir = tmp_path_factory.mktemp("local") / "data"
    done = panro("backfill", "--start", START, "--end", END, "--data-dir", str(data_dir),
                 "--landing", str(delivery.local))
    assert done.returncode == 0, done.stderr[-3000:]
    return marts_of(data_dir / "warehouse" / "panro.duckdb")


@dataclass
class S3Run:
    data_dir: Path
    lake: str
    outputs: list[str]          # stdout and stderr of every command run on it
    landing_lists: int          # listings of the landing prefix the backfill made


@pytest.fixture(scope="module")
def on_s3(tmp_path_factory: pytest.TempPathFactory, panro: Runner, delivery: Delivery, server: S3Server) -> S3Run:
    data_dir = tmp_path_factory.mktemp("s3") / "data"
    lake = delivery.lake("lake")
    before = len(server.requests())
    done = panro("backfill", "--start", START, "--end", END, "--data-dir", str(data_dir),
                 "--landing", delivery.landing, "--lake", lake)
    assert done.returncode == 0, done.stderr[-3000:]
    lists = [p for m, p, _ in server.requests()[before:]
             if m == "GET" and p.startswith(f"/{delivery.bucket}?") and "prefix=partners" in p]
    return S3Run(data_dir, lake, [done.stdout, done.stderr], len(lists))


def test_a_backfill_from_a_bucket_into_a_bucket_gives_the_local_marts_row_for_row(
        on_s3: S3Run, local_marts: dict, server: S3Server) -> None:
    marts = marts_of(on_s3.data_dir / "warehouse" / "panro.duckdb")
    assert marts == local_marts
    assert sum(map(len, marts.values())) > 1000
    # the zones are in the bucket, and only there; the ledger names its objects
    keys = objects(server, on_s3.lake)
    assert "published/_index.parquet" in keys and any(k.startswith("raw/zigzag/support/") for k in keys)
    assert not any((on_s3.data_dir / zone).exists() for zone in ("raw", "published", "quarantine"))
    with Ledger(on_s3.data_dir / "state" / "ledger.duckdb") as ledger:
        batches = ledger.batches()
    assert len(batches) == 36 and all(b.status == "published" for b in batches)
    assert {b.raw_path.split("/raw/")[0] for b in batches} == {on_s3.lake}
    # 36 files of 12 feeds over 3 days, listed once for the run as a whole, not feed by feed or day by day:
    # the command line's check before the run starts, the flow's own and extraction share one listing
    assert on_s3.landing_lists == 1


def test_a_backfill_on_a_dask_cluster_with_landing_and_lake_in_the_bucket_gives_the_same_marts(
        tmp_path: Path, panro: Runner, delivery: Delivery, local_marts: dict, server: S3Server,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout of several machines: the workers reach the landing and the lake through the store,
    each with the AWS environment of its own machine (here: inherited when the cluster starts)."""
    import distributed

    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    data_dir = tmp_path / "data"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        done = panro("backfill", "--start", START, "--end", END, "--data-dir", str(data_dir),
                     "--landing", delivery.landing, "--lake", delivery.lake("dask-lake"),
                     "--dask-address", cluster.scheduler_address)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"extraction and checks on the Dask cluster at {cluster.scheduler_address}" in done.stderr
    assert marts_of(data_dir / "warehouse" / "panro.duckdb") == local_marts
    assert not (data_dir / "raw").exists()
    assert server.secret not in done.stdout + done.stderr


def test_a_run_killed_after_writing_to_the_lake_leaves_only_objects_nobody_names_and_the_next_completes(
        tmp_path: Path, panro: Runner, delivery: Delivery, local_marts: dict, server: S3Server) -> None:
    """Killed (SIGKILL) as the gate has copied a feed's raw objects into the published zone, before its
    ledger names them: those objects are visible to nobody (no index lists them); the next run writes
    them again under the same names and publishes, and every published object is one the index names."""
    data_dir, lake = tmp_path / "data", delivery.lake("killed-lake")
    killed = panro("backfill", "--start", START, "--end", END, "--data-dir", str(data_dir),
                   "--landing", delivery.landing, "--lake", lake, PANRO_KILL_AT="gate.apply")
    assert killed.returncode == -9
    left = objects(server, f"{lake}/published")
    written = {k for k in left if not k.endswith(("_schema.parquet", "_feeds.parquet"))}
    assert written and "_index.parquet" not in left      # published objects, and no index naming them
    again = panro("backfill", "--start", START, "--end", END, "--data-dir", str(data_dir),
                  "--landing", delivery.landing, "--lake", lake)
    assert again.returncode == 0, again.stderr[-3000:]
    assert marts_of(data_dir / "warehouse" / "panro.duckdb") == local_marts
    published = objects(server, f"{lake}/published")
    named = set(pq.read_table(io.BytesIO(published["_index.parquet"])).column("path").to_pylist())
    assert {k for k in published if not k.startswith("_") and not k.endswith("/_schema.parquet")} == named
    assert written <= named


def _staged(data_dir: Path, table: str, file_name: str) -> set[tuple[str, int]]:
    con = duckdb.connect(str(data_dir / "work" / "panro_work.duckdb"), read_only=True)
    try:
        return set(con.execute(f"select _batch_id, count(*) from {table} where _source_file = ? group by 1",
                               [file_name]).fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def redelivered(on_s3: S3Run, panro: Runner, delivery: Delivery, server: S3Server) -> subprocess.CompletedProcess:
    """A partner corrects one file (its last row dropped) and re-delivers another broken (every row's
    시군구 code replaced by letters: the gate holds it); the next nightly runs on the bucket."""
    fs = server.fs()
    partner, feed, name = CORRECTED
    key = f"{delivery.bucket}/partners/{partner}/{feed}/{name}"
    lines = fs.cat_file(key).rstrip(b"\r\n").split(b"\n")
    fs.pipe_file(key, b"\n".join(lines[:-1]) + b"\n")
    partner, feed, name = BAD
    key = f"{delivery.bucket}/partners/{partner}/{feed}/{name}"
    header, *rows = fs.cat_file(key).rstrip(b"\n").split(b"\n")
    rows = [b",".join([r.split(b",")[0], b"ABCDE", *r.split(b",")[2:]]) for r in rows]   # no 시군구 code
    fs.pipe_file(key, b"\n".join([header, *rows]) + b"\n")
    done = panro("run", "--date", END, "--data-dir", str(on_s3.data_dir), "--landing", delivery.landing,
                 "--lake", on_s3.lake)
    on_s3.outputs += [done.stdout, done.stderr]
    return done


def test_a_corrected_redelivery_on_the_bucket_replaces_the_files_rows(
        on_s3: S3Run, redelivered: subprocess.CompletedProcess, delivery: Delivery, server: S3Server) -> None:
    partner, feed, name = CORRECTED
    assert redelivered.returncode == 2, redelivered.stderr[-3000:]   # 2: the bad file is held back
    with Ledger(on_s3.data_dir / "state" / "ledger.duckdb") as ledger:
        versions = ledger.versions(partner, feed, name)
    assert [v.status for v in versions] == ["superseded", "published"]
    old, new = versions
    rows = len(delivery.local.joinpath(partner, feed, name).read_bytes().rstrip(b"\r\n").split(b"\n")) - 2
    assert new.rows_published == rows == old.rows_published - 1
    assert _staged(on_s3.data_dir, f"staging.stg_{partner}__{feed}", name) == {(new.batch_id, rows)}
    index = objects(server, on_s3.lake)["published/_index.parquet"]
    listed = set(pq.read_table(io.BytesIO(index)).column("batch_id").to_pylist())
    assert new.batch_id in listed and old.batch_id not in listed


def test_a_bad_file_on_the_bucket_is_held_with_its_quarantine_folder_on_the_lake(
        on_s3: S3Run, redelivered: subprocess.CompletedProcess, panro: Runner, server: S3Server) -> None:
    partner, feed, name = BAD
    assert f"held back: {partner}/{feed} {name}" in redelivered.stderr
    with Ledger(on_s3.data_dir / "state" / "ledger.duckdb") as ledger:
        held = [v for v in ledger.versions(partner, feed, name) if v.status == "quarantined"]
        live = ledger.published_version(partner, feed, name)
    assert len(held) == 1 and live is not None     # the earlier version stays published
    qid = f"{name}@{held[0].checksum[:12]}"
    keys = objects(server, on_s3.lake)
    assert {f"quarantine/{qid}/batch.json", f"quarantine/{qid}/reasons.txt", f"quarantine/{qid}/batch.parquet"} \
        <= set(keys)
    assert b"sigungu_code is not a 5-digit" in keys[f"quarantine/{qid}/reasons.txt"]
    assert not (on_s3.data_dir / "quarantine").exists()
    listed = panro("quarantine", "list", "--data-dir", str(on_s3.data_dir), "--lake", on_s3.lake)
    shown = panro("quarantine", "show", qid, "--data-dir", str(on_s3.data_dir), "--lake", on_s3.lake)
    on_s3.outputs += [listed.stdout, listed.stderr, shown.stdout, shown.stderr]
    assert listed.returncode == 0 and qid in listed.stdout
    assert shown.returncode == 0 and f"{on_s3.lake}/quarantine/{qid}" in shown.stdout
    # a person accepts it as delivered: published from the lake's raw zone into a file of its own there
    released = panro("quarantine", "release", qid, "--accept", "--reason", "test region codes", "--by", "kim",
                     "--data-dir", str(on_s3.data_dir), "--lake", on_s3.lake)
    on_s3.outputs += [released.stdout, released.stderr]
    assert released.returncode == 0, released.stderr
    own = f"published/{partner}/{feed}/{name}@{held[0].checksum[:12]}.own.parquet"
    assert own in objects(server, on_s3.lake)


def test_the_secret_key_is_in_no_file_of_the_data_dir_or_the_lake_and_in_no_output(
        on_s3: S3Run, redelivered: subprocess.CompletedProcess, server: S3Server) -> None:
    secret = server.secret.encode()
    files = [p for p in on_s3.data_dir.rglob("*") if p.is_file()]
    assert len(files) > 20
    assert [p for p in files if secret in p.read_bytes()] == []
    lake = objects(server, on_s3.lake)
    assert len(lake) > 20
    assert [k for k, data in lake.items() if secret in data] == []
    assert len(on_s3.outputs) >= 4 and not any(server.secret in out for out in on_s3.outputs)


def test_a_store_nobody_answers_at_fails_the_run_naming_the_url_and_publishes_nothing(
        tmp_path: Path, panro: Runner, delivery: Delivery, server: S3Server) -> None:
    import socket

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}"
    data_dir = tmp_path / "data"
    done = panro("backfill", "--start", START, "--end", END, "--data-dir", str(data_dir), "--landing",
                 delivery.landing, "--lake", delivery.lake("elsewhere"), AWS_ENDPOINT_URL=nowhere,
                 AWS_MAX_ATTEMPTS="2")
    assert done.returncode == 1
    assert f"cannot reach the landing {delivery.landing} (endpoint {nowhere})" in done.stderr
    assert server.secret not in done.stdout + done.stderr
    assert not (data_dir / "warehouse").exists() and not (data_dir / "marts").exists()
    assert not (data_dir / "state" / "ledger.duckdb").exists()    # stopped before the run began


def test_credentials_in_a_url_are_refused_before_anything_runs(tmp_path: Path, panro: Runner) -> None:
    done = panro("backfill", "--start", START, "--end", END, "--data-dir", str(tmp_path / "data"),
                 "--lake", "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/lake")
    assert done.returncode == 1
    assert "must not carry credentials" in done.stderr and "wJalrXUtnFEMI" not in done.stdout + done.stderr
    assert not (tmp_path / "data").exists()
