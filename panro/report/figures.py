"""What the run report's tables and charts show, read from what analysts see (plain rows, no HTML).

The figures come from the published warehouse and the published zone's index only, never from the
run's work warehouse: dbt's process may hold that one open meanwhile (its docs), and a report drawn
from what was published is a report on what analysts read. Three rules keep the pictures honest:

- distinct counts are counted, never added: merchants reached per 시도, per month or per support type
  each come from `count(distinct merchant_id)` over the events, not from sums of `mart_support_reach`
  rows (a merchant supported twice, or by two partners, is one merchant);
- a day a partner's sales feed has no published file for is a gap (None), never a zero, and a gap the
  quarantine holds a file for is said to be held back;
- a year's figures say which period of business dates they cover, and only a whole programme year
  (1 January to 31 December, nothing of it held back) is one to compare with the article.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from panro.domain.contracts import contract_for
from panro.domain.kst import ZONE
from panro.lake import storage
from panro.lake.batches import INDEX_FILE, SCHEMA_FILE
from panro.settings import DataDirs

# the feed whose published days make each partner's merchant-day sales (metrics.md "Sales")
SALES_FEEDS = {"kt": "kt/kdeal_orders", "yogiyo": "yogiyo/orders", "zigzag": "zigzag/sales"}
BASELINE_DAYS = 28


def connect(path: Path) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection in KST, or None when the file is missing or cannot be opened."""
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    con.execute(f"set TimeZone = '{ZONE}'")
    return con


# -- what the data covers ------------------------------------------------------------------------

@dataclass
class Coverage:
    """The business dates each feed has published data for, and what the quarantine holds back."""

    days: dict[str, set[dt.date]] = field(default_factory=dict)          # "partner/feed" → days
    held: dict[str, set[dt.date]] = field(default_factory=dict)          # "partner/feed" → days held back

    def period(self, year: int) -> tuple[dt.date, dt.date] | None:
        """First and last business date with published data in `year`, over every feed."""
        days = [d for ds in self.days.values() for d in ds if d.year == year]
        return (min(days), max(days)) if days else None

    def held_in(self, year: int) -> list[tuple[str, dt.date]]:
        return sorted((feed, d) for feed, ds in self.held.items() for d in ds if d.year == year)

    def full_year(self, year: int) -> bool:
        """A whole programme year: data from 1 January to 31 December, and nothing of it held back."""
        period = self.period(year)
        return (period is not None and period[0] <= dt.date(year, 1, 1) and period[1] >= dt.date(year, 12, 31)
                and not self.held_in(year))

    def missing(self, feed: str, start: dt.date, end: dt.date) -> list[dt.date]:
        """Days from start to end (inclusive) the feed has no published data for."""
        have = self.days.get(feed, set())
        return [d for d in _days(start, end) if d not in have]


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def coverage(dirs: DataDirs, held: list[tuple[str, dt.date | None]]) -> Coverage:
    """The business dates of every published batch (the published zone's index: what dbt built the
    marts from), and the held batches (`partner/feed`, business date)."""
    cov = Coverage()
    for feed, day in held:
        if day is not None:
            cov.held.setdefault(feed, set()).add(day)
    by_feed: dict[str, list[str]] = defaultdict(list)
    for feed, file_name in _published_files(dirs):
        by_feed[feed].append(file_name)
    for feed, names in by_feed.items():
        try:
            contract = contract_for(feed)
        except KeyError:      # a feed no contract names any more
            continue
        cov.days[feed] = {d for d in map(contract.business_date, names) if d is not None}
    return cov


def _published_files(dirs: DataDirs) -> list[tuple[str, str]]:
    """(partner/feed, delivered file name) of every published batch, from the index the gate writes; a
    published zone without one (files put there by hand) is read for its batches' file names."""
    index = dirs.published / INDEX_FILE
    if index.exists():
        table = storage.read_table(index, columns=["feed", "batch_id"])
        return [(feed, batch_id.split("/", 2)[2].rsplit("@", 1)[0])
                for feed, batch_id in zip(table.column("feed").to_pylist(), table.column("batch_id").to_pylist(),
                                          strict=True)]
    found = set()
    for path in dirs.published.glob("*/*/*.parquet"):
        if path.name != SCHEMA_FILE:
            names = storage.read_table(path, columns=["_source_file"]).column("_source_file").unique().to_pylist()
            found |= {(f"{path.parent.parent.name}/{path.parent.name}", n) for n in names if n}
    return sorted(found)


# -- KPIs ----------------------------------------------------------------------------------------

def read_kpis(warehouse: Path, year: int | None = None) -> list[dict[str, object]]:
    """mart_program_kpis from the published warehouse, with the Korean names it carries."""
    con = connect(warehouse)
    if con is None:
        return []
    try:
        sql = "select * from marts.mart_program_kpis"
        args: list[object] = []
        if year is not None:
            sql += " where year = ?"
            args.append(year)
        cur = con.execute(sql + " order by year, kpi_code, partner_code = 'ALL', partner_code", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


# -- merchants reached ---------------------------------------------------------------------------

def reach_by_region(marts: duckdb.DuckDBPyConnection, year: int) -> list[dict[str, object]]:
    """Distinct merchants reached in `year` per 시도: all support types together ("전체"), and each
    support type on its own (a merchant with two types is in both, once in 전체)."""
    rows = marts.execute("""
        with type_names as (   -- the support types' Korean names, as the reach mart carries them
            select distinct support_type, support_type_ko from marts.mart_support_reach
        )
        select coalesce(r.sido_name_ko, '(시도 미상)') as sido,
               coalesce(t.support_type_ko, e.support_type) as type_name,
               grouping(type_name) = 1 as whole,
               count(distinct e.merchant_id) as merchants
        from marts.fct_support_events as e
        join marts.dim_merchant as m on m.merchant_id = e.merchant_id
        left join marts.dim_region as r on r.sido_code = m.sido_code
        left join type_names as t on t.support_type = e.support_type
        where year(e.supported_on) = ?
        group by grouping sets ((sido), (sido, type_name))
        order by 1, 3 desc, 2""", [year]).fetchall()
    return [{"sido": sido, "support_type": "전체" if whole else stype, "merchants": n}
            for sido, stype, whole, n in rows]


def reach_by_month(marts: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Distinct merchants with a support event in each month: the whole programme ("전체") and each
    partner (lines, never stacked: a merchant two partners supported counts once in 전체)."""
    rows = marts.execute("""
        select cast(date_trunc('month', e.supported_on) as date) as month,
               coalesce(p.platform_name_ko, e.partner_code) as partner,
               grouping(partner) = 1 as whole,
               count(distinct e.merchant_id) as merchants
        from marts.fct_support_events as e
        left join marts.dim_partner as p on p.partner_code = e.partner_code
        group by grouping sets ((month), (month, partner))
        order by 1, 3 desc, 2""").fetchall()
    return [{"month": m, "partner": "전체" if whole else p, "merchants": n} for m, p, whole, n in rows]


# -- sales ---------------------------------------------------------------------------------------

@dataclass
class SalesDays:
    """Daily sales per partner over a span of days: None where the partner's sales feed has no data."""

    start: dt.date
    end: dt.date
    values: dict[str, dict[dt.date, float | None]]        # platform name → day → KRW or None
    gaps: dict[str, list[tuple[dt.date, bool]]]           # platform name → (missing day, held back?)

    def rows(self) -> list[dict[str, object]]:
        return [{"day": d, "partner": p, "sales_krw": v} for p, days in self.values.items() for d, v in days.items()]


def _platform_names(marts: duckdb.DuckDBPyConnection | None) -> dict[str, str]:
    if marts is None:
        return {}
    return dict(marts.execute("select partner_code, platform_name_ko from marts.dim_partner").fetchall())


def sales_days(marts: duckdb.DuckDBPyConnection, names: dict[str, str], cov: Coverage,
               start: dt.date, end: dt.date) -> SalesDays:
    """Merchant-level sales (the festival KPI's partners) per partner and day, from mart_daily_sales."""
    found: dict[str, dict[dt.date, float]] = defaultdict(dict)
    for partner, day, value in marts.execute("""
            select partner_code, sales_date, sales_krw from marts.mart_daily_sales
            where sales_date between ? and ?""", [start, end]).fetchall():
        found[partner][day] = float(value or 0)
    values: dict[str, dict[dt.date, float | None]] = {}
    gaps: dict[str, list[tuple[dt.date, bool]]] = {}
    for partner, feed in sorted(SALES_FEEDS.items()):
        name = names.get(partner, partner)
        missing = set(cov.missing(feed, start, end))
        held = cov.held.get(feed, set())
        values[name] = {d: None if d in missing else found[partner].get(d, 0.0) for d in _days(start, end)}
        gaps[name] = [(d, d in held) for d in sorted(missing)]
    return SalesDays(start, end, values, gaps)


def sales_by_month(days: SalesDays) -> list[dict[str, object]]:
    """Monthly sums of `days`; a month with a missing day is marked incomplete (its sum is a floor)."""
    months: dict[tuple[str, dt.date], list[float | None]] = defaultdict(list)
    for partner, by_day in days.values.items():
        for d, v in by_day.items():
            months[(partner, d.replace(day=1))].append(v)
    return [{"month": m, "partner": p, "sales_krw": sum(v for v in vs if v is not None),
             "complete": all(v is not None for v in vs), "missing_days": sum(v is None for v in vs)}
            for (p, m), vs in sorted(months.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            if any(v is not None for v in vs)]


def festivals(marts: duckdb.DuckDBPyConnection, year: int | None = None) -> list[tuple[str, str, dt.date, dt.date]]:
    sql = "select festival_code, festival_name_ko, start_date, end_date from marts.dim_festival"
    rows = marts.execute(sql + (" where year(start_date) = ?" if year else "") + " order by start_date",
                         [year] if year else []).fetchall()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# -- coupons -------------------------------------------------------------------------------------

def coupon_rates(marts: duckdb.DuckDBPyConnection, year: int, limit: int = 15) -> list[dict[str, object]]:
    rows = marts.execute("""
        select coalesce(platform_name_ko, partner_code) || ' · ' || campaign_id as campaign,
               sum(coupons_issued) as issued, sum(coupons_redeemed) / nullif(sum(coupons_issued), 0) as rate
        from marts.mart_coupon_redemption where year(issued_on) = ?
        group by all order by issued desc, campaign limit ?""", [year, limit]).fetchall()
    return [{"campaign": c, "issued": int(n), "rate": float(r or 0)} for c, n, r in rows]


def kpi_lookup(kpis: list[dict[str, object]], year: int) -> dict[tuple[str, str], float]:
    return {(str(k["partner_code"]), str(k["kpi_code"])): float(k["value"])  # type: ignore[arg-type]
            for k in kpis if k["year"] == year and k["value"] is not None}


def kpi_names(kpis: list[dict[str, object]]) -> dict[tuple[str, str], str]:
    """(partner, kpi) → "<KPI name> · <platform>", as the warehouse names them."""
    return {(str(k["partner_code"]), str(k["kpi_code"])):
            f"{k.get('kpi_name_ko') or k['kpi_code']} · {k.get('platform_name_ko') or k['partner_code']}"
            for k in kpis}
