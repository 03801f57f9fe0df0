"""What the gate held back, and putting it through again: `panro quarantine list | show ID | release ID`;
and holding back a published batch by hand: `panro quarantine hold BATCH`.

Every batch the gate holds — or publishes without some rejected rows — gets a folder
`<lake>/quarantine/<id>/` (the lake: the data directory, or `--lake URL`: panro.lake.storage), where `<id>` is
`<file name>@<checksum12>` (the batch id without partner/feed; any unique prefix, or the full batch id,
is accepted too):

| file | holds |
| --- | --- |
| `batch.json` | the manifest: batch, status, rows, reasons, warnings, and the release history (who, when, why) |
| `reasons.txt` | one short human-readable line per failed expectation: partner, file, rule, count, samples |
| `validation.json` | the batch's validation result (every expectation of the suite, this batch's counts) |
| `rejected_rows.parquet` | rows a row rule failed, with their `_reasons` |
| `batch.parquet` | a copy of the held batch |

Personal-data columns (대표자명, 연락처: `pii` in the contract) are masked (`***`) in every one of these
files; sample values in reasons never show them. The raw zone keeps the batch as delivered, and a
release reads it from there.

Statuses in `batch.json`: `held` (quarantined: not published), `rows_rejected` (published without
the rejected rows), `released` (re-audited and published), `accepted` (published as-is by a person),
`superseded` (a newer version of the same file was published).

A published batch can be held by a person (`hold`): when dbt's data tests find its rows wrong together
with other batches' (panro.transform.failures names it), holding it lets the next run publish everything
else. It is then held like any other, and `release` puts it through again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panro.domain.contracts import FeedContract, contract_for
from panro.gate.quarantine_files import (
    BATCH_FILE,
    HELD,
    MANIFEST_FILE,
    REJECTED_FILE,
    QuarantineError,
    conform,
    folder,
    log_status,
    mark_superseded,
    mask_pii,
    quarantine_id,
    read_manifest,
    reasons_text,
    write_manifest,
)
from panro.gate.state import write_index
from panro.lake import storage
from panro.lake.batches import published_path, read_batch, write_parquet_atomic
from panro.lake.ledger import Batch, Ledger, now_utc
from panro.runtime import console
from panro.runtime.runlock import RunInProgress, run_lock
from panro.settings import DataDirs

# -- the commands ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    id: str
    batch_id: str
    partner: str
    feed: str
    file_name: str
    business_date: str | None
    status: str
    rows_delivered: int
    rows_rejected: int
    decided_at: str | None
    reason: str          # the first reason

    @classmethod
    def of(cls, m: dict[str, Any]) -> Entry:
        return cls(id=m["id"], batch_id=m["batch_id"], partner=m["partner"], feed=m["feed"],
                   file_name=m["file_name"], business_date=m.get("business_date"), status=m["status"],
                   rows_delivered=int(m.get("rows_delivered") or 0), rows_rejected=int(m.get("rows_rejected") or 0),
                   decided_at=m.get("decided_at"), reason=(m.get("reasons") or [""])[0])

    def line(self) -> str:
        return (f"{self.id}  {self.partner}/{self.feed}  {self.business_date}  {self.status}  "
                f"{self.rows_delivered:,} rows  {self.reason}")


def _manifests(dirs: DataDirs) -> list[dict[str, Any]]:
    if not dirs.quarantine.exists():
        return []
    found = [read_manifest(p) for p in sorted(dirs.quarantine.iterdir()) if (p / MANIFEST_FILE).exists()]
    return [m for m in found if m]


def list_quarantined(dirs: DataDirs, *, include_all: bool = False) -> list[Entry]:
    """The held batches (oldest business date first); `include_all` adds rejected-row and resolved folders."""
    entries = [Entry.of(m) for m in _manifests(dirs) if include_all or m.get("status") == HELD]
    return sorted(entries, key=lambda e: (e.business_date or "", e.partner, e.feed, e.file_name, e.id))


MIN_PREFIX = 12   # a shorter prefix names a batch by accident (issue 28): exact, or 12+ characters


def resolve(dirs: DataDirs, ident: str) -> Entry:
    """The entry an id names: the folder name or the full batch id exactly, or a prefix of at least
    `MIN_PREFIX` characters of either (or of the checksum after `@`) that names one entry only."""
    ident = ident.strip()
    if not ident:
        raise QuarantineError("no id given: name a quarantined batch by its id (see `panro quarantine list`)")
    entries = [Entry.of(m) for m in _manifests(dirs)]
    exact = [e for e in entries if ident in (e.id, e.batch_id)]
    if exact:
        return exact[0]
    if len(ident) < MIN_PREFIX:
        raise QuarantineError(f"no quarantined batch is named exactly {ident!r}, and a shorter name than "
                              f"{MIN_PREFIX} characters is not taken as a prefix (see `panro quarantine list`)")
    found = [e for e in entries if e.id.startswith(ident) or e.batch_id.startswith(ident)
             or e.id.split("@")[-1].startswith(ident)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise QuarantineError(f"no quarantined batch {ident!r} (see `panro quarantine list`)")
    raise QuarantineError(f"{ident!r} is ambiguous: {', '.join(e.id for e in found[:5])}")


@dataclass(frozen=True)
class Detail:
    entry: Entry
    folder: Path
    manifest: dict[str, Any]
    rejected_rows: int

    def text(self) -> str:
        files = ", ".join(sorted(p.name for p in self.folder.iterdir() if not p.name.startswith(".")))
        return (reasons_text(self.manifest) + f"\nfolder {self.folder}\nfiles: {files}\n"
                + (f"rejected rows: {self.rejected_rows:,} ({REJECTED_FILE}, with _reasons)\n"
                   if self.rejected_rows else ""))


def show(dirs: DataDirs, ident: str) -> Detail:
    entry = resolve(dirs, ident)
    where = folder(dirs, entry.id)
    rejected = storage.read_metadata(where / REJECTED_FILE).num_rows if (where / REJECTED_FILE).exists() else 0
    return Detail(entry, where, read_manifest(where), rejected)


@dataclass(frozen=True)
class Release:
    id: str
    batch_id: str
    action: str            # accepted | re-audited
    outcome: str           # published | published_with_rejections | quarantined
    rows_published: int
    rows_rejected: int
    reasons: list[str]


def release(dirs: DataDirs, ident: str, *, accept: bool, reason: str, who: str, ledger: Ledger | None = None,
            contracts: tuple[FeedContract, ...] | None = None, today: dt.date | None = None) -> Release:
    """Put a held batch through again.

    accept=False: audit it again with the current contract and suite (after they were fixed); it is
    published, published without rejected rows, or held again. accept=True: publish every row as
    delivered, on `who`'s word, recording `reason` (required; optional for a re-audit). Either way the
    folder's history records who and why, and a published release supersedes the file's older versions.
    A batch whose file has a newer published version cannot be released (that would roll it back).
    """
    if accept and (not reason or not reason.strip()):
        raise QuarantineError("accepting a batch as-is needs a reason (it is recorded with who accepted it)")
    if not who or not who.strip():
        raise QuarantineError("a release needs the name of who releases it")
    entry = resolve(dirs, ident)
    if entry.status != HELD:
        raise QuarantineError(f"{entry.id} is not held (status {entry.status})")
    own = ledger is None
    led = ledger or Ledger(dirs.ledger_path)
    try:
        return _release(dirs, led, entry, accept=accept, reason=(reason or "").strip() or "re-audit requested",
                        who=who.strip(),
                        contracts=contracts, today=today)
    finally:
        if own:
            led.close()


def _release(dirs: DataDirs, ledger: Ledger, entry: Entry, *, accept: bool, reason: str, who: str,
             contracts: tuple[FeedContract, ...] | None, today: dt.date | None) -> Release:
    batch = ledger.get(entry.batch_id)
    if batch is None or batch.status != "quarantined":
        raise QuarantineError(f"{entry.batch_id} is not quarantined in the ledger "
                              f"({batch.status if batch else 'unknown'})")
    live = ledger.published_version(batch.partner, batch.feed, batch.file_name)
    if live is not None and live.seen_at > batch.seen_at:
        raise QuarantineError(f"a newer version of {batch.file_name} is published ({live.batch_id}); "
                              "releasing this one would roll it back")
    where = folder(dirs, entry.id)
    if not accept:
        from panro.gate.wap import audit

        ledger.update(batch.batch_id, status="extracted")
        stamp = now_utc().strftime("%Y%m%dT%H%M%S")
        report = audit(dirs, ledger, run_id=f"release-{stamp}-{batch.checksum[:8]}", contracts=contracts,
                       batch_ids=[batch.batch_id], decided_by=who, reason=f"released by {who}: {reason}",
                       today=today)
        out = report.batches[0]
        status = {"quarantined": HELD, "published": "released",
                  "published_with_rejections": "rows_rejected"}[out.outcome]
        log_status(where, status, {"action": "re-audit", "who": who, "reason": reason, "outcome": out.outcome})
        return Release(entry.id, batch.batch_id, "re-audited", out.outcome, out.rows_published, out.rows_rejected,
                       out.reasons)
    contract = next((c for c in contracts if c.name == batch.feed_name), None) if contracts \
        else contract_for(batch.feed_name)
    if contract is None:
        raise QuarantineError(f"no contract for {batch.feed_name}")
    if not batch.raw_path or not storage.zone_path(batch.raw_path).exists():
        raise QuarantineError(f"the raw batch {batch.raw_path} is gone; ask the partner for a re-delivery")
    rows = read_batch(batch.raw_path, batch.batch_id)
    if batch.rows_delivered is not None and rows.num_rows != batch.rows_delivered:
        # a raw file holds several batches' rows, found by `_batch_id`: one changed since the gate
        # read it would publish other rows than the ones held, or none
        raise QuarantineError(
            f"{batch.feed_name} {batch.file_name}: the raw file {batch.raw_path} holds {rows.num_rows:,} rows "
            f"of batch {batch.batch_id}, the ledger recorded {batch.rows_delivered:,}; nothing was published "
            "(ask the partner for a re-delivery)")
    table = conform(rows, contract)
    target = published_path(dirs, contract, batch.file_name, batch.checksum)   # a file of its own
    write_parquet_atomic(table.replace_schema_metadata({"panro.batch_id": batch.batch_id}), target,
                         sync="file_and_folder")   # durable before the ledger names it
    updates: list[tuple[str, dict[str, object]]] = [(batch.batch_id, {
        "status": "published", "rows_delivered": table.num_rows, "rows_published": table.num_rows,
        "rows_rejected": 0, "decided_at": now_utc(), "decided_by": who,
        "reason": f"accepted as-is by {who}: {reason}",
        "published_path": target.relative_to(dirs.published).as_posix()})]
    for old in ledger.versions(batch.partner, batch.feed, batch.file_name):
        if old.batch_id != batch.batch_id and old.status in ("published", "quarantined"):
            updates.append((old.batch_id, {"status": "superseded"}))
            mark_superseded(dirs, old, by=batch.batch_id)
    ledger.update_many(updates)
    write_index(dirs, ledger, contracts)
    log_status(where, "accepted", {"action": "accept", "who": who, "reason": reason, "outcome": "published"})
    return Release(entry.id, batch.batch_id, "accepted", "published", table.num_rows, 0, [])


@dataclass(frozen=True)
class Hold:
    id: str
    batch_id: str
    rows: int              # the rows it had published, now held


def _published_batch(ledger: Ledger, ident: str) -> Batch:
    """The published batch `ident` names: its batch id, its quarantine id (`file@checksum12`), or its
    file name when one published batch has it."""
    ident = ident.strip()
    if not ident:
        raise QuarantineError("name the batch to hold: its batch id (partner/feed/file@checksum)")
    batch = ledger.get(ident)
    if batch is None:
        found = [b for b in ledger.batches(status="published") if ident in (quarantine_id(b), b.file_name)]
        if len(found) > 1:
            raise QuarantineError(f"{ident!r} names {len(found)} published batches: "
                                  + ", ".join(b.batch_id for b in found[:5]) + "; give the batch id")
        batch = found[0] if found else None
    if batch is None:
        raise QuarantineError(f"no batch {ident!r} (a batch id looks like partner/feed/file@checksum12)")
    if batch.status != "published":
        raise QuarantineError(f"{batch.batch_id} is not published (status {batch.status}): nothing to hold")
    return batch


def hold(dirs: DataDirs, ident: str, *, reason: str, who: str, ledger: Ledger | None = None,
         contracts: tuple[FeedContract, ...] | None = None) -> Hold:
    """Take a published batch out of the published zone and hold it, on `who`'s word.

    Its rows stay in the raw zone, and are copied (personal data masked) into its quarantine folder;
    the published index no longer lists it, so the next run's dbt build drops its rows and publishes
    everything else. `release` puts it through again (a re-audit, or as delivered with --accept), and
    a newer version of its file, delivered by the partner, replaces it as usual."""
    if not reason or not reason.strip():
        raise QuarantineError("holding a published batch needs a reason (it is recorded with who held it)")
    if not who or not who.strip():
        raise QuarantineError("a hold needs the name of who holds the batch")
    reason, who = reason.strip(), who.strip()
    own = ledger is None
    led = ledger or Ledger(dirs.ledger_path)
    try:
        batch = _published_batch(led, ident)
        contract = contract_for(batch.feed_name)
        qid = quarantine_id(batch)
        where = folder(dirs, qid)
        where.mkdir(parents=True, exist_ok=True)
        source = dirs.published / batch.published_path if batch.published_path \
            else published_path(dirs, contract, batch.file_name)
        rows = read_batch(source, batch.batch_id)
        write_parquet_atomic(mask_pii(rows, contract.pii_columns), where / BATCH_FILE, sync="file_and_folder")
        why = f"{batch.partner}/{batch.feed} {batch.file_name} — held by {who}: {reason}"
        led.update(batch.batch_id, status="quarantined", rows_published=0, rows_rejected=0, published_path=None,
                   reason=why[:2000], decided_at=now_utc(), decided_by=who)
        write_index(dirs, led, contracts)
    finally:
        if own:
            led.close()
    earlier = read_manifest(where)
    manifest = {
        **earlier, "id": qid, "batch_id": batch.batch_id, "partner": batch.partner, "feed": batch.feed,
        "file_name": batch.file_name, "business_date": batch.business_date.isoformat() if batch.business_date
        else None, "checksum": batch.checksum, "status": HELD, "outcome": "quarantined",
        "rows_delivered": batch.rows_delivered or rows.num_rows, "rows_rejected": batch.rows_rejected or 0,
        "reasons": [why, *earlier.get("reasons", [])], "warnings": earlier.get("warnings", []),
        "history": [*earlier.get("history", []),
                    {"at": now_utc().isoformat(), "action": "hold", "who": who, "reason": reason}],
    }
    write_manifest(where, manifest)
    return Hold(qid, batch.batch_id, rows.num_rows)


# -- the command line (`panro quarantine …`; exit 0 done, 1 error, 2 still held) ----------------------

def unreadable(dirs: DataDirs) -> list[Batch]:
    """Delivered files the extractor could not decode (ledger status `failed`), newest version per file.
    They never reached the gate; a corrected re-delivery under the same name replaces them."""
    if not dirs.ledger_path.exists():
        return []
    with Ledger(dirs.ledger_path) as ledger:
        failed = ledger.batches(status="failed")
        live = {(b.partner, b.feed, b.file_name) for b in ledger.batches() if b.status != "failed"}
    latest: dict[tuple[str, str, str], Batch] = {}
    for b in failed:
        key = (b.partner, b.feed, b.file_name)
        if key not in live:
            latest[key] = b
    return list(latest.values())


def cli_list(dirs: DataDirs, *, include_all: bool = False) -> int:
    try:
        with run_lock(dirs, doing="`quarantine list`"):   # the ledger is the run's while it runs
            entries = list_quarantined(dirs, include_all=include_all)
            failed = unreadable(dirs)
    except RunInProgress as e:
        console.fail(str(e))
        return 1
    if not entries and not failed:
        console.out("nothing is held back")
        return 0
    if entries:
        console.table([("id", "left"), ("feed", "left"), ("date", "left"), ("status", "left"), ("rows", "right"),
                       ("reason", "left")],
                      [(e.id, f"{e.partner}/{e.feed}", e.business_date or "", e.status, f"{e.rows_delivered:,}",
                        e.reason.split(" — ", 1)[-1][:120]) for e in entries])
    if failed:
        console.out("\ncould not be read (fix the export and deliver the file again under the same name):")
        for b in failed:
            console.out(f"  {b.partner}/{b.feed} {b.file_name} ({b.business_date or 'no date'}): "
                        f"{(b.reason or '')[:160]}")
    return 0


def cli_show(dirs: DataDirs, ident: str) -> int:
    try:
        with run_lock(dirs, doing="`quarantine show`"):
            console.out(show(dirs, ident).text().rstrip("\n"))
    except (QuarantineError, RunInProgress) as e:
        console.fail(str(e))
        return 1
    return 0


def cli_hold(dirs: DataDirs, idents: list[str], *, reason: str, who: str) -> int:
    try:
        with run_lock(dirs, doing="`quarantine hold`"):
            for ident in idents:
                h = hold(dirs, ident, reason=reason, who=who)
                console.out(f"{h.id}: held ({h.rows:,} rows no longer published); to put it through again: "
                      f"panro quarantine release {h.id}")
    except (QuarantineError, RunInProgress) as e:
        console.fail(str(e))
        return 1
    console.out("the next run publishes everything else")
    return 0


def cli_release(dirs: DataDirs, ident: str, *, accept: bool, reason: str, who: str) -> int:
    try:
        with run_lock(dirs, doing="`quarantine release`"):
            done = release(dirs, ident, accept=accept, reason=reason, who=who)
    except (QuarantineError, RunInProgress) as e:
        console.fail(str(e))
        return 1
    console.out(f"{done.id}: {done.action} → {done.outcome} ({done.rows_published:,} rows published, "
          f"{done.rows_rejected:,} rejected)")
    for r in done.reasons:
        console.out(f"  {r}")
    return 2 if done.outcome == "quarantined" else 0
