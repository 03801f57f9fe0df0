"""Run every benchmark in turn and print their figures (`make bench`). Each can also run on its own:

    bench/bench_generate.py   `panro generate` for 2023 at scale 1: time, peak memory, rows, bytes
    bench/bench_extract.py    extracting the generated year into raw batches
    bench/bench_gate.py       the quality gate's throughput, and its ratio to the same checks in DuckDB SQL
    bench/bench_pipeline.py   the 2023 backfill (time, memory, ratio to bench/reference.py) and the nightly cost
    bench/bench_hostile.py    hostile files (an xlsx bomb, a 10⁶-column header): time and peak memory
    bench/bench_object_storage.py  the 2023 backfill with landing and lake on a local S3 server vs on local disk
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ("bench_generate.py", "bench_extract.py", "bench_gate.py", "bench_pipeline.py", "bench_hostile.py",
         "bench_object_storage.py")


def main() -> int:
    failed = []
    for name in ORDER:
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
