"""Benchmark: the quality gate over a whole backfill year, against the same checks as plain DuckDB SQL.

    .venv/bin/python bench/bench_gate.py                    # generate + extract 2023 (scale 1), then measure
    .venv/bin/python bench/bench_gate.py --data DIR         # an extracted data dir (all batches `extracted`);
                                                            # it is copied, never modified
    .venv/bin/python bench/bench_gate.py --keep DIR         # keep the extracted year there for later --data runs
    .venv/bin/python bench/bench_gate.py --data DIR --defects   # break a few rows of every 40th file first,
                                                            # so GX and SQL must agree on non-zero counts
    .venv/bin/python bench/bench_gate.py --data DIR --no-gx-patches   # GX as installed (gx_compat.py's worth)
    .venv/bin/python bench/bench_gate.py --data DIR --processes 2 # feeds checked in two spawned processes,
                                                              # as a backfill's process pool does

What is compared (per feed, then in total):
- gate checks: the wall-clock time `panro.gate.audit` spends before publishing (`report.timings["checks"]`):
  reading the pending raw batches (DuckDB), one GX validation of each feed's suite over the union of its
  batches, the batch-summary validations, and attributing every failure to its batch and rows — feeds
  run two at a time (per-feed figures overlap, so the ratio is taken on the totals);
- DuckDB: one SQL query per feed over the same raw files computing, per batch, the row count and the
  failing-row count of every row expectation of the same suite (translated from the suite JSON: regexes,
  sets, BRN check digit, datetime parsing, windows against the business date in KST, key uniqueness,
  cross-field order, row conditions, the JSON schema of 요기요 extras).

Prints rows/s for both, the ratio (target ≤ 3×), the end-to-end audit (publishing, ledger, Data Docs),
and whether GX and SQL found the same failing-row counts per feed and rule.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from panro.domain.contracts import FeedContract, load_contracts  # noqa: E402
from panro.gate.suites import load_suite  # noqa: E402
from panro.lake.ledger import Ledger  # noqa: E402
from panro.settings import DataDirs  # noqa: E402
from tests.support.elsewhere import checks_in, processes  # noqa: E402

TODAY = dt.date(2099, 1, 1)     # nothing of the benchmark year is "in the future"


# -- the suite as SQL ----------------------------------------------------------------------------

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _instant(col: str, fmt: str) -> str:
    """The value as a KST wall-clock TIMESTAMP."""
    c = _q(col)
    if fmt == "epoch_ms":
        return (f"(CASE WHEN {c} BETWEEN 946684800000 AND 4102444799999 "
                f"THEN timezone('Asia/Seoul', make_timestamp({c} * 1000)::TIMESTAMPTZ) END)")
    if fmt == "iso_offset":
        shape = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})"
        return (f"(CASE WHEN regexp_full_match({c}, '{shape}') "
                f"THEN timezone('Asia/Seoul', try_cast({c} AS TIMESTAMPTZ)) END)")
    if fmt == "date":
        return f"CAST({c} AS TIMESTAMP)"
    return f"try_strptime({c}, {_lit(fmt)})"


def _condition(cond: dict[str, Any] | None) -> str:
    if not cond:
        return "true"
    col = _q(cond["column"]["name"])
    if cond["type"] == "nullity":
        return f"{col} IS {'' if cond['is_null'] else 'NOT '}NULL"
    op = {"==": "=", "!=": "<>"}.get(cond["operator"], cond["operator"])
    return f"{col} {op} {_lit(cond['parameter'])}"


def _json_schema(col: str, schema: dict[str, Any]) -> str:
    """Failing rows for the array-of-objects schemas the suites use (요기요 extras)."""
    c, item = _q(col), schema["items"]
    bad = [f"json_extract(x, '$.{k}') IS NULL" for k in item.get("required", [])]
    for k, spec in item.get("properties", {}).items():
        path = f"'$.{k}'"
        if "enum" in spec:
            bad.append(f"json_extract_string(x, {path}) NOT IN ({', '.join(_lit(v) for v in spec['enum'])})")
        if spec.get("type") == "integer":
            bad.append(f"json_type(x, {path}) NOT IN ('BIGINT', 'UBIGINT')")
            if "minimum" in spec:
                bad.append(f"TRY_CAST(json_extract(x, {path}) AS BIGINT) < {spec['minimum']}")
        if "pattern" in spec:
            bad.append(f"NOT regexp_matches(json_extract_string(x, {path}), {_lit(spec['pattern'])})")
    any_bad = " OR ".join(f"coalesce({b}, false)" for b in bad)
    return (f"{c} IS NOT NULL AND (NOT json_valid({c}) OR json_type({c}::JSON) <> 'ARRAY' OR "
            f"len(list_filter(CAST(json_extract({c}::JSON, '$[*]') AS JSON[]), lambda x: {any_bad})) > 0)")


BRN_MACRO = """
CREATE OR REPLACE MACRO brn_ok(v) AS (
  regexp_full_match(trim(v), '[0-9]{3}-?[0-9]{2}-?[0-9]{5}') AND (
    WITH d AS (SELECT replace(trim(v), '-', '') AS s)
    SELECT (10 - (1 * s[1]::INT + 3 * s[2]::INT + 7 * s[3]::INT + 1 * s[4]::INT + 3 * s[5]::INT + 7 * s[6]::INT
                  + 1 * s[7]::INT + 3 * s[8]::INT + 5 * s[9]::INT + (5 * s[9]::INT) // 10) % 10) % 10 = s[10]::INT
    FROM d))
"""


def _outside(expr: str, low: Any, high: Any) -> str:
    """SQL true where `expr` is below `low` or above `high` (None: an open bound)."""
    parts = ([f"{expr} < {low}"] if low is not None else []) + ([f"{expr} > {high}"] if high is not None else [])
    return " OR ".join(parts) or "false"


def predicate(item: dict[str, Any]) -> str | None:
    """SQL that is true for a row the expectation flags (None: not a row check)."""
    t, k = item["type"], item["kwargs"]
    c = _q(k["column"]) if "column" in k else None
    cond = _condition(k.get("row_condition"))
    if t == "expect_column_values_to_not_be_null":
        p = f"{c} IS NULL"
    elif t == "expect_column_values_to_be_null":
        p = f"{c} IS NOT NULL"
    elif t == "expect_column_values_to_match_regex":
        p = f"{c} IS NOT NULL AND NOT regexp_matches({c}, {_lit(k['regex'])})"
    elif t == "expect_column_values_to_not_match_regex":
        p = f"regexp_matches({c}, {_lit(k['regex'])})"
    elif t == "expect_column_values_to_be_in_set":
        p = f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(_lit(v) for v in k['value_set'])})"
    elif t == "expect_column_values_to_be_between":
        p = _outside(c, k.get("min_value"), k.get("max_value"))
    elif t == "expect_column_values_to_be_valid_brn":
        p = f"{c} IS NOT NULL AND NOT coalesce(brn_ok({c}), false)"
    elif t == "expect_column_values_to_match_datetime_format":
        p = f"{c} IS NOT NULL AND {_instant(k['column'], k['datetime_format'])} IS NULL"
    elif t == "expect_column_text_values_to_be_between":
        p = _outside(f"TRY_CAST(replace({c}, ',', '') AS DOUBLE)", k.get("min_value"), k.get("max_value"))
    elif t == "expect_column_values_to_be_within_days_of_business_date":
        lag = f"date_diff('day', CAST({_instant(k['column_A'], k['datetime_format'])} AS DATE), _business_date)"
        p = _outside(lag, k.get("min_days_before"), k.get("max_days_before"))
    elif t == "expect_column_pair_datetimes_a_to_be_on_or_after_b":
        fmt = k["datetime_format"]
        p = f"{_instant(k['column_A'], fmt)} < {_instant(k['column_B'], fmt)}"
    elif t == "expect_column_pair_values_a_to_be_greater_than_b":
        p = f"{_q(k['column_A'])} {'<' if k.get('or_equal') else '<='} {_q(k['column_B'])}"
    elif t == "expect_compound_columns_to_be_unique":
        p = "_dup > 1"
    elif t == "expect_column_values_to_be_json_matching_schema":
        p = _json_schema(k["column"], k["json_schema"])
    else:
        return None            # table-level (column set): read from the files' metadata, not rows
    return f"({cond}) AND coalesce(({p}), false)"


def feed_sql(contract: FeedContract, files: list[str]) -> tuple[str, list[dict[str, Any]]]:
    items = [i for i in load_suite(contract)["expectations"] if i["meta"]["scope"] == "rows"]
    checks = [(i, predicate(i)) for i in items]
    checks = [(i, p) for i, p in checks if p is not None]
    source = f"read_parquet([{', '.join(_lit(f) for f in files)}])"
    keys = next((i["kwargs"]["column_list"] for i, _ in checks
                 if i["type"] == "expect_compound_columns_to_be_unique"), None)
    inner = (f"SELECT *, count(*) OVER (PARTITION BY {', '.join(_q(k) for k in keys)}) AS _dup FROM {source}"
             if keys else f"SELECT * FROM {source}")
    counts = ",\n  ".join(f"count(*) FILTER (WHERE {p}) AS e{n}" for n, (_, p) in enumerate(checks))
    sql = f"SELECT _batch_id, count(*) AS n_rows,\n  {counts}\nFROM ({inner})\nGROUP BY _batch_id"
    return sql, [i for i, _ in checks]


# -- running both --------------------------------------------------------------------------------

def _prepare(args: argparse.Namespace, work: Path) -> Path:
    if args.data:
        return Path(args.data)
    from panro.extract import extract
    from panro.generate import generate

    dirs = DataDirs.from_env(work / "pristine")
    t = time.perf_counter()
    generate(dirs.root / "landing", start=dt.date(args.year, 1, 1), end=dt.date(args.year, 12, 31),
             scale=args.scale)
    extract(dirs, today=TODAY)
    print(f"prepared {args.year} at scale {args.scale} in {time.perf_counter() - t:.1f} s (generate + extract)")
    if args.keep:
        return copy_data(dirs.root, Path(args.keep))
    return dirs.root


def copy_data(src: Path, dst: Path) -> Path:
    """A copy of an extracted data dir whose ledger points at the copy's own raw files."""
    shutil.copytree(src, dst)
    old, new = str(DataDirs.from_env(src).raw), str(DataDirs.from_env(dst).raw)
    con = duckdb.connect(str(DataDirs.from_env(dst).ledger_path))
    con.execute("UPDATE batches SET raw_path = replace(raw_path, ?, ?) WHERE starts_with(raw_path, ?)",
                [old, new, old])
    con.close()
    return dst


def inject_defects(root: Path, every: int = 40, rows: int = 3) -> int:
    """Break the first `rows` rows of every `every`-th non-empty batch of each feed (schema unchanged):
    a BRN check digit, a region, an enumeration, a money sign, a count and a timestamp — whatever the
    feed has. Returns the number of batches changed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from panro.domain.contracts import contract_for

    dirs = DataDirs.from_env(root)
    with Ledger(dirs.ledger_path) as ledger:
        pending = [b for b in ledger.batches(status="extracted") if b.raw_path and (b.rows_delivered or 0) > rows]
    by_feed: dict[str, list[Any]] = defaultdict(list)
    for b in pending:
        by_feed[b.feed_name].append(b)
    changed = 0
    for feed, batches in by_feed.items():
        contract = contract_for(feed)
        chosen: dict[str, list[str]] = defaultdict(list)      # raw file → the batches broken in it
        for b in batches[::every]:
            chosen[b.raw_path].append(b.batch_id)
        for path, ids in chosen.items():
            table = pq.read_table(path)
            owner = table.column("_batch_id").to_pylist()
            at = [n for bid in ids for n in [i for i, o in enumerate(owner) if o == bid][:rows]]
            for c in contract.columns:
                if c.type != "string":
                    continue
                broken = ("9999999999" if c.brn else "Mars" if c.region else "??" if c.enum
                          else "-1,000" if c.money else "x" if c.count else "not a date" if c.datetime else None)
                if broken is None:
                    continue
                values = table.column(c.name).to_pylist()
                for i in at:
                    values[i] = broken
                table = table.set_column(table.column_names.index(c.name), c.name, pa.array(values, pa.string()))
            pq.write_table(table, path, compression="snappy")
            changed += len(ids)
    return changed


def run_sql(pristine: Path) -> tuple[dict[str, float], dict[str, dict[str, int]], int]:
    dirs = DataDirs.from_env(pristine)
    with Ledger(dirs.ledger_path) as ledger:
        pending = [b for b in ledger.batches(status="extracted") if b.raw_path]
    by_feed: dict[str, list[str]] = defaultdict(list)
    for b in pending:
        if b.raw_path not in by_feed[b.feed_name]:   # a raw file holds several batches of its feed
            by_feed[b.feed_name].append(b.raw_path)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(BRN_MACRO)
    seconds, failing, rows = {}, {}, 0
    for contract in load_contracts():
        files = by_feed.get(contract.name)
        if not files:
            continue
        sql, items = feed_sql(contract, files)
        t = time.perf_counter()
        result = con.execute(sql).fetchall()
        seconds[contract.name] = time.perf_counter() - t
        rows += sum(r[1] for r in result)
        totals: dict[str, int] = defaultdict(int)
        for n, item in enumerate(items):
            totals[f"{item['meta']['rule']}:{item['meta']['reason']}"] += sum(r[2 + n] for r in result)
        failing[contract.name] = {k: v for k, v in totals.items() if v}
    con.close()
    return seconds, failing, rows


def run_gate(data: Path, threads: int | None = None, *, dry_run: bool = False, pool: Any = None) -> Any:
    from panro.gate import audit, checking

    if threads:
        checking.AUDIT_THREADS = threads
    dirs = DataDirs.from_env(data)
    with Ledger(dirs.ledger_path) as ledger:
        return audit(dirs, ledger, run_id="bench", today=TODAY, dry_run=dry_run,
                     check_feeds=checks_in(pool) if pool is not None else None)


def gx_failing(report: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for b in report.batches:
        for f in b.failures:
            if f.get("unit") == "row":
                out[f"{b.partner}/{b.feed}"][f"{f['rule']}:{f['reason']}"] += f["count"]
    return {k: dict(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="an extracted data dir to read (copied, never modified)")
    parser.add_argument("--keep", help="keep the generated, extracted year in this folder")
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--defects", action="store_true", help="break a few rows of every 40th file first")
    parser.add_argument("--threads", type=int, default=None, help="feeds audited at once (default: the gate's)")
    parser.add_argument("--processes", type=int, default=0,
                        help="check feeds in this many spawned processes, as a backfill's process pool does")
    parser.add_argument("--rounds", type=int, default=3, help="paired SQL / gate-checks rounds (median reported)")
    parser.add_argument("--no-gx-patches", action="store_true",
                        help="run GX as installed, without panro/gate/gx_compat.py's patches (what they save)")
    args = parser.parse_args(argv)
    if args.no_gx_patches:
        os.environ["PANRO_GX_PATCHES"] = "0"     # read when the gate first imports GX (here or in a worker)
        assert "panro.gate.gx" not in sys.modules, "GX was imported before the switch"
    with processes(args.processes) if args.processes else contextlib.nullcontext() as pool:
        return _measure(args, pool)


def _measure(args: argparse.Namespace, pool: Any) -> int:
    with tempfile.TemporaryDirectory(prefix="bench_gate_") as tmp:
        work = Path(tmp)
        pristine = _prepare(args, work)
        if args.defects:
            pristine = copy_data(pristine, work / "defects")
            print(f"defects injected into {inject_defects(pristine)} batches")
        for p in (pristine / "raw").rglob("*.parquet"):   # warm the page cache for both contenders alike
            p.read_bytes()
        run_gate(pristine, args.threads, dry_run=True, pool=pool)     # warm-up: imports, first-use costs
        # paired rounds — SQL, gate checks, SQL — so that load from elsewhere hits both alike
        pairs = []
        for _ in range(args.rounds):
            before, sql_fail, rows = run_sql(pristine)
            checks = run_gate(pristine, args.threads, dry_run=True, pool=pool)
            after, _, _ = run_sql(pristine)
            sql_s = (sum(before.values()) + sum(after.values())) / 2
            pairs.append((checks.timings["checks"] / sql_s, checks.timings["checks"], sql_s, checks, before))
        pairs.sort(key=lambda p: p[0])
        ratio, g, s, checks, sql_feed = pairs[len(pairs) // 2]
        # one real audit: publishing, quarantine, ledger, Data Docs
        data = copy_data(pristine, work / "gate")
        t = time.perf_counter()
        report = run_gate(data, args.threads, pool=pool)
        total = time.perf_counter() - t
    print(f"\n{len(report.batches):,} batches, {report.rows_delivered:,} rows ({rows:,} read by SQL) — "
          f"{report.counts()}")
    per_feed_rows: dict[str, int] = defaultdict(int)
    for b in report.batches:
        per_feed_rows[f"{b.partner}/{b.feed}"] += b.rows_delivered
    print(f"{'feed':28} {'rows':>10} {'gate s*':>8} {'SQL s':>8}")
    for name in sorted(sql_feed):
        print(f"{name:28} {per_feed_rows[name]:>10,} {checks.timings.get(name, 0):>8.2f} {sql_feed[name]:>8.2f}")
    print("* per-feed gate times overlap (two feeds at a time); the ratio is taken on wall-clock totals")
    print("\nrounds (gate checks s / SQL s = ratio): "
          + ", ".join(f"{p[1]:.2f}/{p[2]:.2f}={p[0]:.2f}" for p in sorted(pairs, key=lambda p: p[1])))
    print(f"gate checks: {report.rows_delivered / g:,.0f} rows/s; DuckDB SQL: {rows / s:,.0f} rows/s; "
          f"ratio {ratio:.2f}× (median of {len(pairs)} paired rounds; target ≤ 3×)")
    print(f"end-to-end audit {total:.1f} s (checks {report.timings['checks']:.1f}, publish "
          f"{report.timings.get('publish', 0):.1f}, Data Docs {report.timings.get('data_docs', 0):.1f}); "
          f"reconciled: {report.reconciled}")
    gx = gx_failing(report)
    same = all(gx.get(f, {}) == sql_fail.get(f, {}) for f in set(gx) | set(sql_fail))
    print(f"GX and SQL agree on failing rows per feed and rule: {same}")
    if not same:
        print(json.dumps({"gx": gx, "sql": sql_fail}, ensure_ascii=False, indent=1))
    return 0 if same and report.reconciled else 1


if __name__ == "__main__":
    raise SystemExit(main())
