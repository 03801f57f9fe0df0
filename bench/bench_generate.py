"""Benchmark `panro generate`: wall time, peak memory, rows per feed and bytes on disk.

    .venv/bin/python bench/bench_generate.py                    # 2023, scale 1, into a temporary folder
    .venv/bin/python bench/bench_generate.py --scale 2 --out /tmp/landing --keep
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from panro.generate import generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None, help="landing folder (default: a temporary one)")
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2023, 1, 1))
    p.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2023, 12, 31))
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=2023)
    p.add_argument("--keep", action="store_true", help="keep the files written")
    args = p.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="panro-bench-")) / "landing"
    started = time.perf_counter()
    summary = generate(out, start=args.start, end=args.end, scale=args.scale, seed=args.seed)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # Linux reports KiB
    on_disk = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())

    print(summary.describe())
    print()
    print(f"wall time      {wall:8.2f} s")
    print(f"peak RSS       {peak_mb:8.0f} MB")
    print(f"rows           {summary.rows:>11,}")
    print(f"bytes on disk  {on_disk:>11,}  ({on_disk / 1e6:.1f} MB)")
    print(f"throughput     {summary.rows / wall:>11,.0f} rows/s")
    if not args.keep and args.out is None:
        shutil.rmtree(out.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
