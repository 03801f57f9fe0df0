"""`panro export`: the marts as a workbook (a sheet per mart, Korean headers, numbers as numbers, dates as
dates) or as CSV files with a UTF-8 BOM; text that a spreadsheet would run as a formula stays text."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import duckdb
import openpyxl
import pytest

from panro.cli import main
from panro.publish import export
from panro.publish.warehouse import publish
from panro.settings import DataDirs
from tests.support.warehouse import FORMULA_CAMPAIGN

RISKY = ["=1+2", "+82 10 1234", "-3", "@SUM(A1:A9)", "\tTAB", "plain", "서울 =ok"]


def marts_of(dirs: DataDirs) -> dict[str, int]:
    con = duckdb.connect(str(dirs.warehouse), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'marts' "
                                           "and not starts_with(table_name, '_') order by 1").fetchall()]
        return {n: con.execute(f"select count(*) from marts.{n}").fetchone()[0] for n in names}
    finally:
        con.close()


KPI_HEADERS = ["연도", "파트너 코드", "KPI 코드", "값", "단위", "데이터 완결일", "기간 완결 여부", "KPI명", "플랫폼명"]

@pytest.fixture(scope="module")
def workbook(small_publication: DataDirs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xlsx")
    assert main(["export", "--format", "xlsx", "--out", str(out), "--data-dir", str(small_publication.root)]) == 0
    return out / "panro_marts.xlsx"


def test_the_workbook_has_a_sheet_per_mart_with_every_row(workbook: Path, small_publication: DataDirs) -> None:
    book = openpyxl.load_workbook(workbook, read_only=True)
    marts = marts_of(small_publication)
    assert book.sheetnames == [*marts, "정보"]
    for name, rows in marts.items():
        assert book[name].max_row == rows + 1, name


def test_headers_are_the_columns_korean_names_and_their_notes_the_descriptions(workbook: Path) -> None:
    book = openpyxl.load_workbook(workbook)        # not read-only: notes are read with the cells
    sheet = book["mart_program_kpis"]
    headers = [c.value for c in sheet[1]]
    assert headers == KPI_HEADERS
    assert sheet["C1"].comment.text.startswith("kpi_code\nKPI 코드 — ")
    assert [c.value for c in book["dim_region"][1]] == ["시도 코드", "시도명", "시도명 (영문)"]


def test_numbers_are_numbers_dates_are_dates_and_null_is_empty(workbook: Path) -> None:
    book = openpyxl.load_workbook(workbook, read_only=True)
    rows = list(book["mart_festival_sales"].iter_rows(min_row=2, values_only=True))
    baemin = next(r for r in rows if r[1] == "baemin" and r[2] == "51")
    assert baemin[7] == 3_500_000 and isinstance(baemin[7], int | float)       # sales_krw
    assert baemin[5] is None                                                  # participating_merchants: NULL
    assert baemin[11] == pytest.approx(3.5)                                   # uplift_ratio
    festival = next(r for r in book["dim_festival"].iter_rows(min_row=2, values_only=True) if r[0] == "DH2023-05")
    assert festival[2] == dt.datetime(2023, 5, 1) and festival[3] == dt.datetime(2023, 5, 28)
    cell = openpyxl.load_workbook(workbook)["dim_festival"]["C2"]
    assert cell.is_date and cell.number_format == "yyyy-mm-dd"


def test_a_delivered_formula_is_text_in_the_workbook(workbook: Path) -> None:
    sheet = openpyxl.load_workbook(workbook)["mart_coupon_redemption"]
    [cell] = [c for c in sheet["C"] if c.value == FORMULA_CAMPAIGN]           # campaign_name
    assert cell.data_type == "s" and cell.quotePrefix    # a string shown as typed, kept text when edited


def test_csv_files_have_a_utf8_bom_korean_headers_and_every_row(small_publication: DataDirs, tmp_path: Path) -> None:
    assert main(["export", "--format", "csv", "--out", str(tmp_path), "--data-dir", str(small_publication.root)]) == 0
    marts = marts_of(small_publication)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.csv" for n in marts)
    raw = (tmp_path / "mart_program_kpis.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == KPI_HEADERS
    assert len(rows) == marts["mart_program_kpis"] + 1
    assert ["2023", "ALL", "merchants_reached", "10.0", "merchants", "", "False", "지원 소상공인 수", "전체"] in rows
    festival = list(csv.reader(io.StringIO((tmp_path / "dim_festival.csv").read_text(encoding="utf-8-sig"))))
    assert ["DH2023-05", "2023 봄빛 동행축제", "2023-05-01", "2023-05-28"] in festival
    coupons = (tmp_path / "mart_coupon_redemption.csv").read_text(encoding="utf-8-sig")
    assert f"'{FORMULA_CAMPAIGN}".replace('"', '""') in coupons


def test_text_a_spreadsheet_would_run_is_written_as_text(tmp_path: Path) -> None:
    """Every risky beginning, in both formats; numbers, even negative ones, stay numbers."""
    dirs = DataDirs.from_env(tmp_path / "data")
    dirs.work.mkdir(parents=True)
    con = duckdb.connect(str(dirs.work_warehouse))
    con.execute("create schema marts")
    con.execute("create table marts.risky (label varchar, amount bigint)")
    con.executemany("insert into marts.risky values (?, ?)", [(v, -i) for i, v in enumerate(RISKY)])
    con.execute("comment on column marts.risky.label is '이름 — a delivered name'")
    con.close()
    publish(dirs, "risky-run")
    [book_path] = export.export(dirs, "xlsx", tmp_path / "out")
    [csv_path] = export.export(dirs, "csv", tmp_path / "out")
    sheet = openpyxl.load_workbook(book_path)["risky"]
    cells = {c.value: c for c in sheet["A"][1:]}
    assert set(cells) == set(RISKY)
    for value, cell in cells.items():
        assert cell.data_type == "s"
        assert bool(cell.quotePrefix) == value.startswith(("=", "+", "-", "@")), value
    assert sorted(c.value for c in sheet["B"][1:]) == [-i for i in reversed(range(len(RISKY)))]
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["이름", "amount"]
    written = {r[0]: r[1] for r in rows[1:]}
    assert {k for k in written if k.startswith("'")} == {f"'{v}" for v in RISKY if v[0] in "=+-@\t"}
    assert written["plain"] == "-5" and written["서울 =ok"] == "-6"


def test_an_unknown_mart_or_no_warehouse_is_a_clear_error(small_publication: DataDirs, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "mart_nope", "--out", str(tmp_path), "--data-dir", str(small_publication.root)]) == 1
    assert "no mart named mart_nope; the marts are: dim_festival" in capsys.readouterr().err
    assert main(["export", "--data-dir", str(tmp_path / "empty")]) == 1
    assert "no published warehouse" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_chosen_marts_only(small_publication: DataDirs, tmp_path: Path) -> None:
    assert main(["export", "--format", "csv", "--out", str(tmp_path), "--data-dir", str(small_publication.root),
                 "dim_region", "mart_program_kpis"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dim_region.csv", "mart_program_kpis.csv"]


def test_the_nightly_run_exports_what_panro_export_names(small_publication: DataDirs,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from panro.report import html as report
    from panro.report.outcome import RunOutcome

    outcome = RunOutcome("night-x", "nightly", (dt.date(2023, 5, 7),) * 2, dt.datetime.now(dt.UTC), published=True)
    monkeypatch.setenv("PANRO_EXPORT", "xlsx, csv")
    page = report.write(small_publication, outcome).read_text(encoding="utf-8")
    exports = small_publication.reports / "exports"
    assert (exports / "panro_marts.xlsx").exists() and (exports / "mart_program_kpis.csv").exists()
    assert 'href="exports/panro_marts.xlsx"' in page
    with pytest.raises(export.ExportError, match="unknown format xslx"):
        export.formats_of("xslx")
