"""Benchmark: extract a whole generated year into the raw zone, then again with nothing changed.

    .venv/bin/python bench/bench_extract.py [--year 2023] [--scale 1] [--workers N] [--keep DIR]
    .venv/bin/python bench/bench_extract.py --processes 2    # segments in 2 spawned processes, as a backfill
    .venv/bin/python bench/bench_extract.py --synthetic     # without panro.generate: a synthetic year

Prints wall time, peak RSS, files and rows per feed, bytes on disk (landing and raw) and the re-run
time. The target is under 60 s for the 2023 scale-1 year on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from panro.extract import extract  # noqa: E402
from panro.settings import DataDirs  # noqa: E402


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _generate(out: Path, year: int, scale: float) -> None:
    try:
        from panro.generate import generate  # another area's module: its signature is theirs
    except ImportError as e:
        sys.exit(f"panro.generate is missing or incomplete ({e}); run with --synthetic to measure "
                 "on a synthetic year instead")

    try:
        generate(out, start=dt.date(year, 1, 1), end=dt.date(year, 12, 31), scale=scale)
    except TypeError:  # fall back to positional (out, start, end, scale)
        generate(out, dt.date(year, 1, 1), dt.date(year, 12, 31), scale)


def _synthetic(out: Path, year: int, scale: float) -> None:
    """A synthetic year from the test samples: every feed, every day, ~4.5M rows at scale 1."""
    from tests.support.landing import SAMPLES, put

    per_day = {"kt/kdeal_stores": 3000, "baemin/delivery_stats": 2250, "yogiyo/coupons": 2000,
               "kt/kdeal_orders": 1500, "yogiyo/orders": 1000, "zigzag/sales": 1000, "zigzag/coupons": 1000,
               "skplanet/okcashback_promo": 500, "kakao/talkchannel": 300, "baemin/edu_enrollments": 100,
               "yogiyo/support": 20, "zigzag/support": 20}
    day = dt.date(year, 1, 1)
    while day.year == year:
        for feed, n in per_day.items():
            sample = SAMPLES[feed]
            rows = []
            for i in range(max(1, int(n * scale))):
                row = dict(sample.rows[i % len(sample.rows)])
                first = next(iter(row))
                if isinstance(row[first], str):
                    row[first] = f"{row[first]}-{day:%Y%m%d}-{i}"
                rows.append(row)
            partner, name = feed.split("/")
            put(out, partner, name, sample.file_name(day), sample.bytes(rows))
        day += dt.timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--processes", type=int, default=0,
                        help="decode the segments in this many spawned processes (as a backfill's process pool "
                             "does), not on threads; started and warmed up before the clock starts")
    parser.add_argument("--synthetic", action="store_true", help="use a synthetic year, not panro.generate")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--only-write-landing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="panro-bench-extract-"))
    dirs = DataDirs.from_env(work / "data")
    landing = Path(dirs.landing_url)
    if args.only_write_landing:  # the child process below: the generator's memory is not ours
        (_synthetic if args.synthetic else _generate)(landing, args.year, args.scale)
        return
    try:
        if not landing.exists() or not any(landing.iterdir()):
            t0 = time.perf_counter()
            child = subprocess.run([sys.executable, __file__, "--only-write-landing", "--keep", str(work),
                                    "--year", str(args.year), "--scale", str(args.scale),
                                    *(["--synthetic"] if args.synthetic else [])])
            if child.returncode != 0:
                sys.exit(child.returncode)
            print(f"landing written in {time.perf_counter() - t0:.1f} s "
                  f"({'synthetic' if args.synthetic else 'panro.generate'})")
        if dirs.raw.exists():
            shutil.rmtree(dirs.raw)
        dirs.ledger_path.unlink(missing_ok=True)
        rss_before = _peak_rss_mb()  # imports only
        with contextlib.ExitStack() as stack:
            runner = None
            if args.processes:
                from tests.support.elsewhere import feeds_in, processes

                pool = stack.enter_context(processes(args.processes))
                for ready in [pool.submit(__import__, "panro.extract.extract") for _ in range(args.processes * 2)]:
                    ready.result()
                runner = feeds_in(pool)
            t0 = time.perf_counter()
            report = extract(dirs, None, today=dt.date(args.year + 1, 1, 1), workers=args.workers, run_feeds=runner)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = extract(dirs, None, today=dt.date(args.year + 1, 1, 1), workers=args.workers, run_feeds=runner)
            second = time.perf_counter() - t0

        files = Counter(f.feed_name for f in report.extracted)
        print(f"\n{'feed':30} {'files':>6} {'rows':>12}")
        for feed, rows in report.rows_by_feed().items():
            print(f"{feed:30} {files[feed]:6d} {rows:12,d}")
        print(f"{'total':30} {len(report.extracted):6d} {report.rows_extracted:12,d}")
        print(f"\nextract (all files): {first:6.1f} s   {report.summary()}")
        print(f"re-run (no change):  {second:6.1f} s   {again.summary()}")
        print(f"peak RSS: {_peak_rss_mb():.0f} MB (before extracting: {rss_before:.0f} MB)")
        print(f"landing on disk: {_size(landing) / 1e6:.1f} MB   raw on disk: {_size(dirs.raw) / 1e6:.1f} MB")
        if report.failed:
            print(f"\n{len(report.failed)} failed, e.g. {report.failed[0].reason}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
