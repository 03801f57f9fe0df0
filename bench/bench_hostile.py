"""Benchmark: what hostile files cost an extraction (issue 28). Targets: each under a minute and 1 GB.

    .venv/bin/python bench/bench_hostile.py [--bomb-gb 1.0] [--columns 1000000] [--keep DIR]

Cases, each extracted by `panro.extract` in a fresh process (wall time and the peak RSS of its process
tree, sampled from /proc every 100 ms, as bench/procmem.py does), beside one good K-deal file:

- `xlsx bomb`: a K-deal orders workbook whose sheet inflates to `--bomb-gb` GB of XML (the issue's
  18 MB file held 1 GB: it was still extracting after 5 minutes at 2.6 GB). The feed is read as xlsx
  by a contract like K-deal's (K-deal delivers CSV; the landing's feed folder is the same);
- `wide header`: a K-deal orders CSV whose header has `--columns` columns (the issue's case took hours:
  the column check was quadratic);
- `baseline`: the good file alone, for the ratio.

Printed: seconds, peak MB, the ratio to the baseline, and the reason each hostile file failed with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import procmem  # noqa: E402

DAY = dt.date(2023, 5, 1)
ORDERS = ["주문번호", "사업자등록번호", "주문일시", "주문금액", "할인금액", "쿠폰번호", "주문상태"]
XLSX_CONTRACT = f"""partner: kt
feed: kdeal_orders
description: K-deal orders as a workbook (bench only)
file: {{pattern: 'KDEAL_ORDER_(?P<date>\\d{{8}})\\.xlsx', date_format: '%Y%m%d'}}
format: {{type: xlsx, sheet: 주문}}
kind: events
columns:
{chr(10).join(f"  {c}: {{type: string}}" for c in ORDERS)}
"""
CHILD = """
import datetime as dt, sys, time
from pathlib import Path
from panro.domain.contracts import load_contract
from panro.extract import extract
from panro.settings import DataDirs
contracts = tuple(load_contract(Path(p)) for p in sys.argv[3:])
t0 = time.perf_counter()
report = extract(DataDirs.from_env(sys.argv[1], sys.argv[2]), [dt.date(2023, 5, 1)], today=dt.date(2023, 5, 2),
                 contracts=contracts or None)
print(f"{time.perf_counter() - t0:.2f}")
for f in report.files:
    print(f"{f.outcome}\\t{f.file_name}\\t{(f.reason or '')[:160]}")
"""


def _workbook(path: Path, sheet_bytes: int) -> None:
    """A real workbook (openpyxl's parts) whose sheet is `sheet_bytes` of rows, written compressed."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "주문"
    book.active.append(ORDERS)
    book.save(path)
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i.filename) for i in src.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    head, _, tail = sheet.partition("</sheetData>")
    row = ('<row r="{n}"><c t="inlineStr"><is><t>KD-{n}</t></is></c><c t="inlineStr"><is><t>101-86-62870</t>'
           '</is></c><c t="inlineStr"><is><t>2023-05-01 12:00:01</t></is></c><c t="inlineStr"><is><t>12,000</t>'
           '</is></c><c t="inlineStr"><is><t>0</t></is></c><c/><c t="inlineStr"><is><t>결제완료</t></is></c></row>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                dst.writestr(name, data)
        with dst.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(head.encode())
            written, n = len(head), 2
            while written < sheet_bytes:
                chunk = "".join(row.format(n=n + i) for i in range(2000)).encode()
                out.write(chunk)
                written, n = written + len(chunk), n + 2000
            out.write(("</sheetData>" + tail).encode())


def _good_csv() -> bytes:
    lines = [",".join(ORDERS)] + [f"KD-{i},101-86-62870,2023-05-01 12:00:01,12000,0,,결제완료" for i in range(1000)]
    return ("\n".join(lines) + "\n").encode("cp949")


def _case(root: Path, name: str, files: dict[str, bytes | Path], contract: str | None = None) -> tuple[Path, list]:
    landing = root / name / "landing" / "kt" / "kdeal_orders"
    landing.mkdir(parents=True)
    for file_name, data in files.items():
        if isinstance(data, Path):
            shutil.move(str(data), landing / file_name)
        else:
            (landing / file_name).write_bytes(data)
    contracts = []
    if contract:
        c = root / name / "kdeal_orders.yaml"
        c.write_text(contract, encoding="utf-8")
        contracts = [str(c)]
    return root / name, contracts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bomb-gb", type=float, default=1.0)
    p.add_argument("--columns", type=int, default=1_000_000)
    p.add_argument("--keep", type=Path, default=None)
    args = p.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="panro-bench-hostile-"))
    try:
        t0 = time.perf_counter()
        bomb = root / "bomb.xlsx"
        _workbook(bomb, int(args.bomb_gb * 1024**3))
        with zipfile.ZipFile(bomb) as z:
            inflated = sum(i.file_size for i in z.infolist())
        print(f"xlsx bomb: {bomb.stat().st_size / 2**20:,.1f} MB on disk, {inflated / 2**30:.2f} GB inflated "
              f"(built in {time.perf_counter() - t0:.0f} s)")
        wide = (",".join(f"c{i}" for i in range(args.columns)) + "\n" + ",".join("1" * args.columns) + "\n").encode()
        print(f"wide header: {args.columns:,} columns, {len(wide) / 2**20:,.1f} MB")
        cases = {
            "baseline": _case(root, "baseline", {"KDEAL_ORDER_20230501.csv": _good_csv()}),
            "xlsx bomb": _case(root, "bomb", {"KDEAL_ORDER_20230501.xlsx": bomb}, XLSX_CONTRACT),
            "wide header": _case(root, "wide", {"KDEAL_ORDER_20230501.csv": wide}),
        }
        base = None
        print(f"\n{'case':12} {'seconds':>8} {'peak MB':>8} {'× baseline':>11}  outcome")
        for label, (where, contracts) in cases.items():
            m = procmem.run([sys.executable, "-c", CHILD, str(where / "data"), str(where / "landing"), *contracts],
                            cwd=REPO, env={"PANRO_PII_KEY": "bench"})
            if m.returncode != 0:
                print(f"{label}: failed\n{m.stderr[-2000:]}")
                return 1
            files = [([*line.split("\t", 2), "", ""])[:3] for line in m.stdout.strip().splitlines()[1:]]
            outcome = "; ".join(f"{o}: {reason}" if reason else o for o, _, reason in files)
            base = base or m.wall_s
            print(f"{label:12} {m.wall_s:8.1f} {m.peak_rss_mb:8.0f} {m.wall_s / base:11.1f}  {outcome}")
        print("\ntargets: each hostile case under 60 s and 1,024 MB (whole process tree, interpreter and imports "
              "included)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
