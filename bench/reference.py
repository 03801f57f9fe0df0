"""A bare reference for the pipeline benchmark: the same reading, checks and transforms, as plain
DuckDB SQL in one process — no Prefect, no ledger, no Great Expectations, no dbt at run time.

    .venv/bin/python bench/reference.py --landing DIR --work DIR

- reading: every landing file through the same decoders as the extractor (CP949 and Excel have to
  be read in Python), one Parquet file per feed with the same lineage columns;
- checks: the gate's suites as one SQL query per feed (bench/bench_gate.py's translation);
- transforms: dbt's own compiled SQL of every model, executed directly in dependency order
  (compiled beforehand, untimed, with seeds loaded — static reference data);
- tests: dbt's own compiled SQL of every data test, counted — the checks the pipeline runs on its
  tables before it publishes them (`--no-tests` leaves them out, as this reference did before).
Prints one line per phase and their total, and the whole process's time to the end of its work
(interpreter, imports, phases) less the preparation, as the pipeline's command is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from graphlib import TopologicalSorter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench_gate import BRN_MACRO, feed_sql  # noqa: E402

from panro.domain.contracts import FeedContract, load_contracts  # noqa: E402
from panro.extract.checksum import sha256_hex  # noqa: E402
from panro.extract.errors import BadFile  # noqa: E402
from panro.extract.readers import decode  # noqa: E402
from panro.extract.segments import with_lineage  # noqa: E402
from panro.lake.batches import raw_schema  # noqa: E402
from panro.settings import DataDirs  # noqa: E402
from panro.transform.build import run_dbt  # noqa: E402


def read_feed(contract: FeedContract, landing: Path, out: Path, loaded_at: dt.datetime) -> int:
    tables = []
    for path in sorted((landing / contract.partner / contract.feed).glob("*")):
        day = contract.business_date(path.name)
        if day is None:
            continue
        data = path.read_bytes()
        checksum = sha256_hex(data)
        try:
            decoded = decode(contract, data)
        except BadFile:
            continue
        tables.append(with_lineage(contract, decoded, batch=f"{contract.name}/{path.name}@{checksum[:12]}",
                                   business_date=day, file_name=path.name, checksum=checksum, loaded_at=loaded_at))
    table = pa.concat_tables(tables) if tables else raw_schema(contract).empty_table()
    target = out / contract.partner / contract.feed / "all.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target)
    return table.num_rows


def since_process_start() -> float:
    """Seconds since this process started (Linux: /proc), its interpreter's start and imports included."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")     # field 22, starttime, in ticks since boot
    return float(Path("/proc/uptime").read_text().split()[0]) - started


def compiled_models(dirs: DataDirs) -> list[tuple[str, str, str]]:
    """(schema, name, compiled SQL) of every model, in dependency order, from dbt's manifest."""
    manifest = json.loads((dirs.work / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    graph = {uid: [d for d in n["depends_on"]["nodes"] if d in models] for uid, n in models.items()}
    order = TopologicalSorter(graph).static_order()
    return [(models[u]["schema"], models[u]["name"], models[u]["compiled_code"]) for u in order]


def compiled_tests(dirs: DataDirs) -> list[tuple[str, str]]:
    """(name, compiled SQL) of every data test, from dbt's manifest (unit tests are not data tests)."""
    manifest = json.loads((dirs.work / "dbt_target" / "manifest.json").read_text(encoding="utf-8"))
    return [(n["name"], n["compiled_code"]) for n in manifest["nodes"].values() if n["resource_type"] == "test"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--landing", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--no-tests", action="store_true", help="leave out dbt's data tests")
    args = p.parse_args(argv)
    dirs = DataDirs.from_env(args.work, str(args.landing))
    contracts = load_contracts()

    # untimed preparation: seeds (static reference data) and dbt's compiled SQL, which a bare script
    # would have as text; printed, so that a whole-process figure can leave it out
    prepared = time.perf_counter()
    prep = run_dbt(dirs, "seed")
    compiled = run_dbt(dirs, "compile")
    if not (prep.success and compiled.success):
        raise SystemExit(prep.summary() + "\n" + compiled.summary())
    models = compiled_models(dirs)
    tests = [] if args.no_tests else compiled_tests(dirs)
    preparation = time.perf_counter() - prepared

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded_at = dt.datetime.now(dt.UTC)
    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = sum(pool.map(lambda c: read_feed(c, args.landing, dirs.published, loaded_at), contracts))
    timings["read"] = time.perf_counter() - t0

    con = duckdb.connect(str(dirs.work_warehouse))
    con.execute("set TimeZone = 'Asia/Seoul'")
    t1 = time.perf_counter()
    con.execute(BRN_MACRO)
    failing = defaultdict(int)
    for contract in contracts:
        sql, _ = feed_sql(contract, [str(dirs.published / contract.partner / contract.feed / "all.parquet")])
        for row in con.execute(sql).fetchall():
            failing[contract.name] += sum(row[2:])
    timings["checks"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    for schema, name, sql in models:
        sql = re.sub(r"/\*.*?\*/", "", sql, flags=re.S)
        con.execute(f"create schema if not exists {schema}")
        con.execute(f'create or replace table {schema}."{name}" as {sql}')
    timings["transform"] = time.perf_counter() - t2

    failing_tests = 0
    if tests:
        t3 = time.perf_counter()
        for _, sql in tests:
            failing_tests += bool(con.execute(f"select count(*) from (\n{sql}\n) as t").fetchone()[0])
        timings["tests"] = time.perf_counter() - t3
    kpi = con.execute("select value from marts.mart_program_kpis where year = 2023 and partner_code = 'ALL' "
                      "and kpi_code = 'merchants_reached'").fetchone()
    con.close()

    total = time.perf_counter() - t0
    reached = kpi[0] if kpi else None
    print(f"rows read {rows:,}; failing-row checks {sum(failing.values())}; "
          f"data tests {len(tests)} ({failing_tests} failing); merchants_reached {reached}")
    # the whole process as `panro backfill` is measured, but for its exit (Python's last collection over
    # dbt's objects, which only the untimed preparation loaded) and the preparation itself
    print(f"whole process to the end of its work, less the preparation {since_process_start() - preparation:.2f} s; "
          f"preparation (untimed: dbt seed and compile) {preparation:.2f} s")
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) + f"; total {total:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
