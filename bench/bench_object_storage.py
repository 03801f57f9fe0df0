"""Benchmark the landing and the lake on object storage (issue 24): a 2023 backfill with both on a local
S3-compatible server (moto, server mode, on 127.0.0.1) against the same backfill on local disk.

    .venv/bin/python bench/bench_object_storage.py                  # generate 2023 (scale 1), measure
    .venv/bin/python bench/bench_object_storage.py --landing DIR    # an existing landing folder
    .venv/bin/python bench/bench_object_storage.py --end 2023-01-31 # a shorter range

The generated files are uploaded to a bucket once (not timed), and the local copies are given the
upload's times, so both runs see the same delivery and must build the same marts (compared row for
row). Then, `--rounds` times (default 2), alternately: `panro backfill` from the local landing into a
fresh data directory, and `panro backfill --landing s3://… --lake s3://…` into a fresh data directory
and a fresh lake prefix; both as a user runs them (extraction and checks on Prefect's process pool),
talking to one Prefect server started for the benchmark. Prints each run's wall time and stage
timings, the ratio of the medians (target ≤ 1.5×) with each round's own, and the requests the S3
server answered during each S3 run (its request log: every process's, the flow's, the workers' and
dbt's), by method and by what they asked for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_pipeline import start_prefect_server, warm_prefect_home  # noqa: E402
from procmem import run  # noqa: E402

from tests.support.marts import marts_of  # noqa: E402
from tests.support.s3 import S3Server, upload  # noqa: E402

BIN = Path(sys.executable).parent
median = statistics.median_high


def stage_timings(data_dir: Path) -> dict[str, float]:
    latest = max((data_dir / "reports").glob("run-*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(latest.read_text(encoding="utf-8"))["timings"]


def backfill(start: str, end: str, data_dir: Path, env: dict[str, str], *extra: str) -> float:
    m = run([str(BIN / "panro"), "backfill", "--start", start, "--end", end, "--data-dir", str(data_dir), *extra],
            env=env)
    if m.returncode not in (0, 2):
        raise SystemExit(f"panro backfill {' '.join(extra)} exited {m.returncode}:\n{m.stderr[-3000:]}")
    return m.wall_s


def what(method: str, path: str, bucket: str) -> str:
    """A request in a word: what it asked of which zone."""
    if path.startswith(f"/{bucket}?"):
        return f"{method} list"
    zone = re.match(rf"/{bucket}/(landing|lake-\d+/(raw|published|quarantine))", path)
    if zone is None:
        return f"{method} other"
    return f"{method} {zone.group(2) or zone.group(1)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landing", type=Path, default=None, help="an existing landing folder (default: generate)")
    ap.add_argument("--start", default="2023-01-01")
    ap.add_argument("--end", default="2023-12-31")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="panro-bench-s3-"))
    server = S3Server.start(work)
    prefect = None
    try:
        landing = args.landing
        if landing is None:
            from panro.generate import generate

            landing = work / "landing"
            t = time.perf_counter()
            generate(landing, start=dt.date.fromisoformat(args.start), end=dt.date.fromisoformat(args.end))
            print(f"generated {args.start} … {args.end} in {time.perf_counter() - t:.1f} s")
        bucket = server.bucket("panro-bench")
        t = time.perf_counter()
        files = upload(server, landing, f"s3://{bucket}/landing")
        for key, info in server.fs().find(f"{bucket}/landing", detail=True).items():   # the same delivery
            stamp = info["LastModified"].timestamp()
            os.utime(landing / key.removeprefix(f"{bucket}/landing/"), (stamp, stamp))
        size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
        print(f"uploaded {files:,} files ({size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s "
              f"to {server.endpoint}")

        home = work / "prefect"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PANRO_", "AWS_", "PREFECT_API"))}
        base |= {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        warm_prefect_home(base)
        prefect, api = start_prefect_server(home)
        env = {**server.client_env(base), "PREFECT_API_URL": api}

        local_s, s3_s, requests, marts = [], [], [], {}
        for n in range(1, args.rounds + 1):
            data = work / f"local-{n}"
            local_s.append(backfill(args.start, args.end, data, env, "--landing", str(landing)))
            local_t = stage_timings(data)
            marts["local"] = marts_of(data / "warehouse" / "panro.duckdb")
            shutil.rmtree(data)

            data = work / f"s3-{n}"
            before = len(server.requests())
            s3_s.append(backfill(args.start, args.end, data, env, "--landing", f"s3://{bucket}/landing",
                                 "--lake", f"s3://{bucket}/lake-{n}"))
            asked = server.requests()[before:]
            requests.append(asked)
            s3_t = stage_timings(data)
            marts["s3"] = marts_of(data / "warehouse" / "panro.duckdb")
            shutil.rmtree(data)
            print(f"round {n}: local {local_s[-1]:.1f} s, S3 {s3_s[-1]:.1f} s → {s3_s[-1] / local_s[-1]:.2f}×; "
                  f"{len(asked):,} requests")
            for stage in ("storage", "extract", "audit", "freshness", "transform", "publish", "report"):
                if stage in local_t or stage in s3_t:
                    print(f"    {stage:10} local {local_t.get(stage, 0):6.1f} s   S3 {s3_t.get(stage, 0):6.1f} s")
            print(f"    marts identical row for row: {marts['local'] == marts['s3']}")

        ratio = median(s3_s) / median(local_s)
        print(f"\nbackfill {args.start} … {args.end} ({files:,} files), median of {args.rounds} round(s):")
        print(f"  local disk      {median(local_s):7.1f} s   (runs {', '.join(f'{s:.1f}' for s in local_s)})")
        print(f"  S3 (moto)       {median(s3_s):7.1f} s   (runs {', '.join(f'{s:.1f}' for s in s3_s)})")
        print(f"  ratio           {ratio:7.2f}×  (target ≤ 1.5×; rounds "
              f"{', '.join(f'{b / a:.2f}' for a, b in zip(local_s, s3_s, strict=True))})")
        counts = [len(r) for r in requests]
        print(f"  object-store requests per run: {', '.join(f'{c:,}' for c in counts)}")
        kinds = Counter(what(m, p, bucket) for m, p, _ in requests[-1])
        for kind, count in kinds.most_common():
            print(f"    {kind:28} {count:7,}")
        return 0 if marts["local"] == marts["s3"] else 1
    finally:
        if prefect is not None:
            prefect.terminate()
            prefect.wait(timeout=30)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
