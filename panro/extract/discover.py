"""Discovery: list the landing zone through fsspec and tie each file to its feed contract.

Files live at `<landing>/<partner>/<feed>/<file name>`. A file is *matched* when its folder has a
contract and its name fits that contract's pattern; its business date comes from the name. A name
that fits the pattern except for the date part (`talkchannel_2023-13-01.jsonl`) is matched with a
date problem (it becomes a failed batch). Anything else is *unmatched*: reported, never extracted.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

from panro.domain.contracts import FeedContract
from panro.lake.storage import REMOTE_OPTIONS, is_local_url

log = logging.getLogger("panro.extract")
_EXAMPLE_DAY = dt.date(2023, 5, 1)


@dataclass(frozen=True)
class LandingFile:
    """One delivered file that belongs to a contracted feed."""

    contract: FeedContract
    path: str                       # path on the landing file system (no protocol)
    uri: str                        # the same with its protocol, for the ledger
    file_name: str
    size: int
    mtime: float | None             # seconds since the epoch, None when the file system has none
    business_date: dt.date | None   # None when the name's date cannot be parsed
    date_problem: str | None = None  # why the name's date cannot be parsed

    @property
    def partner(self) -> str:
        return self.contract.partner

    @property
    def feed(self) -> str:
        return self.contract.feed

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.contract.partner, self.contract.feed, self.file_name)


@dataclass(frozen=True)
class UnmatchedFile:
    """A landing file that fits no contract: reported, never extracted."""

    partner: str
    feed: str
    file_name: str
    path: str
    reason: str


def open_landing(url: str) -> tuple[AbstractFileSystem, str]:
    """The file system and root path of a landing URL (a local folder or any fsspec URL: credentials and
    an S3-compatible store's endpoint come from the environment, as AWS tools take them: panro.lake.storage)."""
    fs, root = fsspec.core.url_to_fs(url, **({} if is_local_url(url) else REMOTE_OPTIONS))
    return fs, root.rstrip("/") or "/"


def _mtime(fs: AbstractFileSystem, path: str, info: dict[str, Any]) -> float | None:
    """Modification time in epoch seconds from whatever the file system reports."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created", "mtime_ns"):
        value = info.get(key)
        if value is None:
            continue
        if key == "mtime_ns":
            return float(value) / 1e9
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    try:
        return fs.modified(path).timestamp()
    except Exception:  # many file systems do not implement it; the checksum still decides
        return None


def _loose(pattern: str) -> re.Pattern[str]:
    """The contract's file pattern with any text in place of the date: a name with a bad date."""
    return re.compile(re.sub(r"\(\?P<date>[^)]*\)", "(?P<date>.+?)", pattern))


def _classify(contract: FeedContract, file_name: str) -> tuple[bool, dt.date | None, str | None]:
    """(matches the feed, business date, date problem)."""
    m = re.fullmatch(contract.file_pattern, file_name) or _loose(contract.file_pattern).fullmatch(file_name)
    if not m:
        return False, None, None
    stamp = m.group("date")
    example = _EXAMPLE_DAY.strftime(contract.date_format)
    try:
        day = dt.datetime.strptime(stamp, contract.date_format).date()
    except ValueError:
        return True, None, (f"the date {stamp!r} in the file name cannot be parsed: expected "
                            f"{contract.date_format} (e.g. {contract.file_name(_EXAMPLE_DAY)}, {example})")
    if day.strftime(contract.date_format) != stamp:   # strptime accepts '2023051' for %Y%m%d
        return True, None, (f"the date {stamp!r} in the file name is not in the form {contract.date_format} "
                            f"(e.g. {contract.file_name(_EXAMPLE_DAY)})")
    return True, day, None


def _local_entries(root: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """A local landing, walked entry by entry: (files to match, by path, with fsspec-like details;
    entries that are not extracted, by path, with why). A symbolic link whose target stays inside the
    landing is followed (as the file or folder it names); one leading out of it, or to nothing, is not.
    FIFOs, sockets and devices are never opened; a file this process cannot read is named as such."""
    import os
    import stat

    real_root = os.path.realpath(root)
    files: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}

    def inside(target: str) -> bool:
        return target == real_root or target.startswith(real_root.rstrip("/") + "/")

    def walk(folder: str, depth: int, above: frozenset[str] = frozenset()) -> None:
        real = os.path.realpath(folder)
        if real in above:   # a link back up to a folder it is in: walked once
            skipped[folder] = "a symbolic link to a folder it is inside of (a loop): not followed again"
            return
        above = above | {real}
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            skipped[folder] = f"the folder cannot be listed ({type(e).__name__}: {e.strerror or e}): not extracted"
            return
        for entry in entries:
            path = entry.path
            link = ""
            if entry.is_symlink():
                target = os.path.realpath(path)
                if not os.path.exists(target):
                    skipped[path] = "a symbolic link to nothing (its target does not exist): not extracted"
                    continue
                if not inside(target):
                    skipped[path] = ("a symbolic link leading out of the landing zone: not followed, not extracted "
                                     "(copy the file into the landing, or link within it)")
                    continue
                link = " (a symbolic link within the landing, followed)"
            try:
                st = os.stat(path)
            except OSError as e:
                skipped[path] = f"cannot be examined ({type(e).__name__}: {e.strerror or e}): not extracted"
                continue
            if stat.S_ISDIR(st.st_mode):
                if depth >= 2:
                    skipped[path] = ("a folder where a delivered file was expected (<partner>/<feed>/<file>): "
                                     "not extracted" + link)
                    if depth == 2:
                        continue
                walk(path, depth + 1, above)
            elif stat.S_ISREG(st.st_mode):
                if not os.access(path, os.R_OK):
                    skipped[path] = "cannot be read (permission denied): not extracted; the other files go on"
                    continue
                files[path] = {"name": path, "type": "file", "size": st.st_size, "mtime": st.st_mtime}
            else:
                kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                        else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a file")
                skipped[path] = f"{kind}, not a regular file: never opened, not extracted"

    if os.path.isdir(root):
        walk(root, 0)
    return files, skipped


def _is_local(fs: AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def discover(fs: AbstractFileSystem, root: str, contracts: Iterable[FeedContract]
             ) -> tuple[list[LandingFile], list[UnmatchedFile]]:
    """Every entry under the landing root: a file matched to its contract, or reported as unmatched
    with why it is not extracted (nothing under the landing is skipped without a word)."""
    by_folder = {(c.partner, c.feed): c for c in contracts}
    skipped: dict[str, str] = {}
    if _is_local(fs):
        listing, skipped = _local_entries(root)
    else:
        fs.invalidate_cache(root)   # files delivered since this process last listed (one listing per run)
        try:
            listing = fs.find(root, detail=True, withdirs=True)
        except FileNotFoundError:
            listing = {}
    if not listing and not skipped and not fs.exists(root):
        log.warning("the landing zone %s does not exist: no files to extract", root)
        return [], []
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    prefix = "" if protocol in ("file", "local") else f"{protocol}://"
    found: list[LandingFile] = []
    unmatched: list[UnmatchedFile] = []
    base = root.rstrip("/") + "/"

    def where(path: str) -> tuple[str, list[str]]:
        rel = path[len(base):] if path.startswith(base) else path
        return rel, rel.split("/")

    for path, why in sorted(skipped.items()):
        rel, parts = where(path)
        partner, feed = (parts[0], parts[1]) if len(parts) >= 3 else ("", "")
        unmatched.append(UnmatchedFile(partner, feed, parts[-1], path, f"{rel}: {why}"))
    for path in sorted(listing):
        info = listing[path]
        kind = info.get("type", "file")
        rel, parts = where(path)
        if kind == "directory":
            if path.startswith(base) and len(parts) == 3:
                unmatched.append(UnmatchedFile(parts[0], parts[1], parts[2], path,
                                               f"{rel}: a folder where a delivered file was expected: not extracted"))
            continue
        if kind != "file":
            unmatched.append(UnmatchedFile("", "", parts[-1], path, f"{rel}: not a regular file ({kind}): "
                                                                    "not extracted"))
            continue
        if len(parts) != 3:
            unmatched.append(UnmatchedFile("", "", parts[-1], path,
                                           f"{rel}: not in a <partner>/<feed>/ folder of the landing zone"))
            continue
        partner, feed, name = parts
        contract = by_folder.get((partner, feed))
        if contract is None:
            unmatched.append(UnmatchedFile(partner, feed, name, path,
                                           f"{partner}/{feed} {name}: no feed contract for folder {partner}/{feed}"))
            continue
        matches, day, problem = _classify(contract, name)
        if not matches:
            unmatched.append(UnmatchedFile(
                partner, feed, name, path,
                f"{partner}/{feed} {name}: the name fits no file pattern of this feed "
                f"(expected {contract.file_pattern!r}, e.g. {contract.file_name(_EXAMPLE_DAY)})"))
            continue
        found.append(LandingFile(contract=contract, path=path, uri=prefix + path, file_name=name,
                                 size=int(info.get("size") or 0), mtime=_mtime(fs, path, info),
                                 business_date=day, date_problem=problem))
    return found, unmatched


# -- one listing per run -------------------------------------------------------------------------
# A run lists its landing once (issue 24: on an object store every listing is paid in requests and
# latency): the command line's check before the run starts, the flow's own check (a deployment run has
# no command line) and extraction share the first listing. It is kept in this process for the run only:
# extraction takes it, a run that ends before extraction forgets it, and it is never older than
# `_KEPT_SECONDS` (a listing left by a run that ended abnormally is not the next run's).

_KEPT_SECONDS = 600.0
_kept: dict[tuple[str, frozenset[tuple[str, str]]], tuple[float, tuple[list[LandingFile], list[UnmatchedFile]]]] = {}


def _listing_key(url: str, contracts: Iterable[FeedContract]) -> tuple[str, frozenset[tuple[str, str]]]:
    return url, frozenset((c.partner, c.feed) for c in contracts)


def listing_for_run(url: str, contracts: list[FeedContract], *, take: bool = False
                    ) -> tuple[list[LandingFile], list[UnmatchedFile]]:
    """`discover` of the landing at `url`, listed once per run: the listing this run made already, if
    any (`take`: extraction's, the last use, which removes it), else a new one (kept unless `take`)."""
    key = _listing_key(url, contracts)
    kept = _kept.pop(key, None) if take else _kept.get(key)
    if kept is not None and time.monotonic() - kept[0] <= _KEPT_SECONDS:
        return kept[1]
    fs, root = open_landing(url)
    listing = discover(fs, root, contracts)
    if not take:
        _kept[key] = (time.monotonic(), listing)
    return listing


def forget_listings() -> None:
    """The run is over (or never reached extraction): the next run lists the landing afresh."""
    _kept.clear()
