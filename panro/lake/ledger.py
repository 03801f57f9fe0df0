"""The ingest ledger: every delivered file version (batch) and what became of it.

A batch is one version of one delivered file: (partner, feed, file name, content checksum).
Its status moves  extracted → published | quarantined,  or is `failed` when the file could not
be decoded. When a newer version of the same file is published, the older published version
becomes `superseded`. The ledger lives in the pipeline's state folder, never in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

STATUSES = ("failed", "extracted", "published", "quarantined", "superseded")

_SCHEMA = """
create table if not exists batches (
    batch_id        varchar primary key,   -- partner/feed/file_name@checksum[:12]
    partner         varchar not null,
    feed            varchar not null,
    file_name       varchar not null,
    source_uri      varchar not null,
    checksum        varchar not null,      -- sha256 of the file's bytes
    size_bytes      bigint not null,
    source_mtime    double,                -- the file's modification time when seen (a cheap change check)
    business_date   date,
    seen_at         timestamptz not null,
    status          varchar not null,
    reason          varchar,               -- failed / quarantined: what, where, what was expected
    rows_delivered  bigint,
    rows_published  bigint,
    rows_rejected   bigint,
    raw_path        varchar,               -- the raw file holding its rows (with other batches', maybe)
    decided_at      timestamptz,
    decided_by      varchar,               -- 'gate', or who released it
    published_path  varchar                -- published: the file holding its rows, relative to published/
);
-- a ledger from before published_path
alter table batches add column if not exists published_path varchar;
create table if not exists runs (
    run_id       varchar primary key,
    kind         varchar not null,
    started_at   timestamptz not null,
    finished_at  timestamptz,
    outcome      varchar,
    detail       varchar
);
-- what was last announced of each feed's freshness (panro.freshness.status): told once, not every night
create table if not exists feed_alerts (
    partner             varchar not null,
    feed                varchar not null,
    status              varchar not null,      -- overdue | fresh (recovered)
    last_business_date  date,
    announced_at        timestamptz not null,
    run_id              varchar,
    primary key (partner, feed)
);
"""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    partner: str
    feed: str
    file_name: str
    source_uri: str
    checksum: str
    size_bytes: int
    source_mtime: float | None
    business_date: dt.date | None
    seen_at: dt.datetime
    status: str
    reason: str | None
    rows_delivered: int | None
    rows_published: int | None
    rows_rejected: int | None
    raw_path: str | None
    decided_at: dt.datetime | None
    decided_by: str | None
    published_path: str | None = None   # published: the file with its rows, relative to published/

    @property
    def feed_name(self) -> str:
        return f"{self.partner}/{self.feed}"


_COLUMNS = ", ".join(Batch.__dataclass_fields__)
_ARROW = pa.schema([
    ("batch_id", pa.string()), ("partner", pa.string()), ("feed", pa.string()), ("file_name", pa.string()),
    ("source_uri", pa.string()), ("checksum", pa.string()), ("size_bytes", pa.int64()),
    ("source_mtime", pa.float64()), ("business_date", pa.date32()), ("seen_at", pa.timestamp("us", tz="UTC")),
    ("status", pa.string()), ("reason", pa.string()), ("rows_delivered", pa.int64()),
    ("rows_published", pa.int64()), ("rows_rejected", pa.int64()), ("raw_path", pa.string()),
    ("decided_at", pa.timestamp("us", tz="UTC")), ("decided_by", pa.string()), ("published_path", pa.string()),
])


def batch_id(partner: str, feed: str, file_name: str, checksum: str) -> str:
    return f"{partner}/{feed}/{file_name}@{checksum[:12]}"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Ledger:
    """A small thread-safe store of batches and runs, in its own DuckDB file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = duckdb.connect(str(path))
        self._con.execute("set TimeZone = 'UTC'")
        self._con.execute(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            yield self._con

    # -- batches ---------------------------------------------------------------------------------

    def get(self, batch_id: str) -> Batch | None:
        with self._cursor() as con:
            # fetchall: a result left unfinished (fetchone) makes the connection refuse the next
            # statement, another thread's too
            rows = con.execute(f"select {_COLUMNS} from batches where batch_id = ?", [batch_id]).fetchall()
        return Batch(*rows[0]) if rows else None

    def add(self, batch: Batch) -> None:
        """Record a newly seen file version (fails if the version is already known)."""
        placeholders = ", ".join("?" for _ in Batch.__dataclass_fields__)
        with self._cursor() as con:
            con.execute(f"insert into batches ({_COLUMNS}) values ({placeholders})",
                        [getattr(batch, f) for f in Batch.__dataclass_fields__])

    def add_many(self, batches: list[Batch]) -> None:
        """Record many newly seen file versions in one transaction (one insert per batch is slow)."""
        if not batches:
            return
        table = pa.Table.from_pylist([{f: getattr(b, f) for f in Batch.__dataclass_fields__} for b in batches],
                                     schema=_ARROW)
        with self._cursor() as con:
            con.register("_new_batches", table)
            try:
                con.execute(f"insert into batches ({_COLUMNS}) select {_COLUMNS} from _new_batches")
            finally:
                con.unregister("_new_batches")

    def update(self, batch_id: str, **fields: object) -> None:
        unknown = set(fields) - set(Batch.__dataclass_fields__)
        if unknown:
            raise KeyError(f"unknown batch fields {sorted(unknown)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown status {fields['status']!r}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._cursor() as con:
            con.execute(f"update batches set {sets} where batch_id = ?", [*fields.values(), batch_id])

    def update_many(self, updates: list[tuple[str, dict[str, object]]]) -> None:
        """Apply many `update(batch_id, **fields)` at once (one statement per field set; 4,000 single
        updates take seconds, this takes milliseconds)."""
        by_fields: dict[tuple[str, ...], list[tuple[str, dict[str, object]]]] = {}
        for bid, fields in updates:
            unknown = set(fields) - set(Batch.__dataclass_fields__)
            if unknown:
                raise KeyError(f"unknown batch fields {sorted(unknown)}")
            if "status" in fields and fields["status"] not in STATUSES:
                raise ValueError(f"unknown status {fields['status']!r}")
            by_fields.setdefault(tuple(sorted(fields)), []).append((bid, fields))
        with self._cursor() as con:
            for names, group in by_fields.items():
                schema = pa.schema([_ARROW.field("batch_id"), *(_ARROW.field(n) for n in names)])
                table = pa.Table.from_pylist([{"batch_id": bid, **fields} for bid, fields in group], schema=schema)
                sets = ", ".join(f"{n} = _updates.{n}" for n in names)
                con.register("_updates", table)
                try:
                    con.execute(f"update batches set {sets} from _updates where batches.batch_id = _updates.batch_id")
                finally:
                    con.unregister("_updates")

    def batches(self, *, status: str | None = None, partner: str | None = None, feed: str | None = None,
                file_name: str | None = None) -> list[Batch]:
        where, args = [], []
        for col, val in (("status", status), ("partner", partner), ("feed", feed), ("file_name", file_name)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = f"select {_COLUMNS} from batches"
        if where:
            sql += " where " + " and ".join(where)
        sql += " order by partner, feed, business_date, file_name, seen_at"
        with self._cursor() as con:
            return [Batch(*r) for r in con.execute(sql, args).fetchall()]

    def touched_since(self, since: dt.datetime) -> list[Batch]:
        """Batches first seen or decided at or after `since` (a run's own work), superseded ones aside.
        Filtered in SQL: a nightly run reads its few batches, not the whole history."""
        sql = (f"select {_COLUMNS} from batches where status <> 'superseded' "
               "and (seen_at >= ? or decided_at >= ?) order by partner, feed, business_date, file_name, seen_at")
        with self._cursor() as con:
            return [Batch(*r) for r in con.execute(sql, [since, since]).fetchall()]

    def versions(self, partner: str, feed: str, file_name: str) -> list[Batch]:
        """Every version seen of one delivered file, oldest first."""
        return self.batches(partner=partner, feed=feed, file_name=file_name)

    def published_version(self, partner: str, feed: str, file_name: str) -> Batch | None:
        live = [b for b in self.versions(partner, feed, file_name) if b.status == "published"]
        return live[-1] if live else None

    def deliveries(self) -> dict[tuple[str, str], tuple[dt.date | None, dt.datetime | None, int]]:
        """Per (partner, feed): the latest business date with a published batch, when a file of it was
        last delivered (the landing file's modification time, else when first seen; any version,
        whatever the gate made of it), and how many delivered files are held back now (their latest
        version quarantined or undecodable)."""
        sql = """
            with versions as (
                select *, row_number() over (partition by partner, feed, file_name
                                             order by seen_at desc, batch_id desc) as newest
                from batches
            )
            select partner, feed,
                   max(business_date) filter (where status = 'published'),
                   max(coalesce(to_timestamp(source_mtime), seen_at)),
                   count(*) filter (where newest = 1 and status in ('quarantined', 'failed'))
            from versions group by partner, feed"""
        with self._cursor() as con:
            rows = con.execute(sql).fetchall()
        return {(p, f): (day, at, int(held)) for p, f, day, at, held in rows}

    # -- freshness announcements -----------------------------------------------------------------

    def announced(self) -> dict[tuple[str, str], str]:
        """What was last announced of each feed: `overdue`, or `fresh` once it recovered."""
        with self._cursor() as con:
            rows = con.execute("select partner, feed, status from feed_alerts").fetchall()
        return {(p, f): s for p, f, s in rows}

    def record_announced(self, announced: list[tuple[str, str, str, dt.date | None]], run_id: str) -> None:
        """Remember (partner, feed, status, last business date) as announced by `run_id`."""
        with self._cursor() as con:
            for partner, feed, status, day in announced:
                con.execute("insert or replace into feed_alerts values (?, ?, ?, ?, ?, ?)",
                            [partner, feed, status, day, now_utc(), run_id])

    # -- runs ------------------------------------------------------------------------------------

    def start_run(self, run_id: str, kind: str) -> None:
        with self._cursor() as con:
            con.execute("insert or replace into runs (run_id, kind, started_at) values (?, ?, ?)",
                        [run_id, kind, now_utc()])

    def finish_run(self, run_id: str, outcome: str, detail: str = "") -> None:
        with self._cursor() as con:
            con.execute("update runs set finished_at = ?, outcome = ?, detail = ? where run_id = ?",
                        [now_utc(), outcome, detail, run_id])

    def last_finished_run(self) -> dt.datetime | None:
        with self._cursor() as con:
            rows = con.execute("select max(finished_at) from runs where outcome is not null").fetchall()
        return rows[0][0] if rows else None
