"""The lake: the raw, published and quarantine zones, in a local folder or on any fsspec URL.

By default the zones are folders under the data directory; `--lake URL` / `PANRO_LAKE` puts them on
an object store instead (`s3://bucket/prefix`, an S3-compatible store through `AWS_ENDPOINT_URL`),
where every worker of a Dask cluster reaches them. The ledger and both warehouses stay local DuckDB
files of the flow's machine (`panro.settings.DataDirs`).

A zone path is a `pathlib.Path` on a local lake, or a `upath.UPath` with the same API over fsspec
on a remote one; the few operations pathlib cannot do on an object store (Parquet in and out, an
atomic write, a link, fsync) are here. Credentials and the endpoint are never part of a URL: s3fs
takes them the way AWS tools do (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`,
`AWS_PROFILE`, `~/.aws/config`), in whichever process or machine it runs, so nothing the pipeline
writes, logs or sends to a worker holds them (docs/decisions/0024-lake-on-object-storage.md).

Atomicity on an object store: an object is visible whole or not at all (a PUT, a copy), there is no
rename, and nothing is written under a temporary name. Every batch object has its final name, which
its content gives it (`panro.lake.batches`), and only the ledger and the published index
(`published/_index.parquet`, one PUT) make it visible: a run killed after writing an object leaves it
unreferenced, and the next run writes the same name again or removes it (`panro.gate.state.write_index`).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import duckdb
    from fsspec import AbstractFileSystem

LAKE_VAR = "PANRO_LAKE"
LOCAL_PROTOCOLS = ("", "file", "local")
# every process lists for itself: a listing cached by one (s3fs keeps them) would hide another's writes
REMOTE_OPTIONS: dict[str, Any] = {"use_listings_cache": False}

ZonePath = Path  # a Path, or a upath.UPath on a remote lake (the same API): annotations name it Path

_USERINFO = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*@")


class StorageUnreachable(RuntimeError):
    """The landing or the lake cannot be listed (no server answers, no bucket, no access): the run
    stops before it does any work, naming the URL (never a credential)."""


def protocol(url: str) -> str:
    """`s3` of `s3://bucket/key`; "" for a local path."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", url)
    return m.group(1).lower() if m else ""


def is_local_url(url: str) -> bool:
    return protocol(url) in LOCAL_PROTOCOLS


def is_s3(url: str) -> bool:
    """S3 or an S3-compatible store (`AWS_ENDPOINT_URL`): what the AWS settings are about."""
    return protocol(url) in ("s3", "s3a")


def check_url(url: str, what: str) -> str:
    """`url` as given, unless it carries credentials (`s3://KEY:SECRET@bucket`): they would end up in
    the flow run's parameters, the ledger's source URIs and the logs. They belong in the environment."""
    if _USERINFO.match(url):
        raise ValueError(f"the {what} URL must not carry credentials ({protocol(url)}://…@…): give them the way "
                         "AWS tools take them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE), and the "
                         "endpoint of an S3-compatible store in AWS_ENDPOINT_URL")
    return url


def zone_path(url: str | os.PathLike[str]) -> Path:
    """The path of a zone, a zone's file or a ledger's `raw_path`: a Path for a local one, else a UPath."""
    text = os.fspath(url)
    if is_local_url(text):
        return Path(text.removeprefix("file://")) if protocol(text) == "file" else Path(text)
    from upath import UPath

    return UPath(text, **REMOTE_OPTIONS)  # type: ignore[return-value]


def is_remote(path: Path | str) -> bool:
    return not isinstance(path, Path) if not isinstance(path, str) else not is_local_url(path)


def _fs_path(path: Any) -> tuple[AbstractFileSystem, str]:
    return path.fs, path.path


def filesystem(path: Path) -> AbstractFileSystem | None:
    """The fsspec file system of a remote zone path (None for a local one)."""
    return path.fs if is_remote(path) else None  # type: ignore[attr-defined]


# -- Parquet ---------------------------------------------------------------------------------------

def _open(path: Path, mode: str) -> BinaryIO:
    return path.open(mode)  # type: ignore[return-value]


def read_table(path: Path | str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's rows (one file: `pq.read_table` would load pyarrow.dataset for it)."""
    path = zone_path(path) if isinstance(path, str) else path
    if not is_remote(path):
        with pq.ParquetFile(path) as f:
            return f.read(columns=columns)
    with _open(path, "rb") as raw, pq.ParquetFile(raw) as f:
        return f.read(columns=columns)


def read_rows(paths: list[str], column: str, values: list[str] | None) -> pa.Table:
    """The rows of Parquet files of one schema, file after file, in their order; with `values`, only the
    rows whose `column` is one of them (a raw segment's other batches left out)."""
    tables = [read_table(p).replace_schema_metadata(None) for p in paths]
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    if values is None:
        return table
    return table.filter(pc.is_in(table.column(column), pa.array(values, pa.string())))


def read_metadata(path: Path) -> pq.FileMetaData:
    if not is_remote(path):
        return pq.read_metadata(path)
    with _open(path, "rb") as f:
        return pq.read_metadata(f)


def metadata_or_none(path: Path | str) -> pq.FileMetaData | None:
    """A Parquet file's metadata, None when there is no such file (a ledger's `raw_path` whose file is gone)."""
    path = zone_path(path) if isinstance(path, str) else path
    try:
        return read_metadata(path)
    except FileNotFoundError:
        return None


def read_schema(path: Path) -> pa.Schema:
    if not is_remote(path):
        return pq.read_schema(path)
    with _open(path, "rb") as f:
        return pq.read_schema(f)


def put_parquet(table: pa.Table, path: Path, **options: Any) -> None:
    """Write a Parquet file to a remote lake as one object under its final name: a PUT, or a multipart
    upload that becomes visible when it completes (`panro.lake.batches.write_parquet_atomic` writes local ones)."""
    with _open(path, "wb") as f:
        pq.write_table(table, f, **options)


def write_text(path: Path, text: str) -> None:
    """A small text file, whole: renamed into place locally, one PUT on a remote lake."""
    if is_remote(path):
        path.write_text(text, encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def link(src: Path, dst: Path) -> None:
    """`dst` holds the bytes of `src` (a raw file published as it is): a hard link locally, or an fsynced
    copy where the two cannot share a file, renamed into place; a copy made by the store itself (S3's
    CopyObject: no bytes through this process) on a remote lake."""
    if is_remote(dst):
        fs, target = _fs_path(dst)
        fs.copy(_fs_path(src)[1], target)
        return
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def register(con: duckdb.DuckDBPyConnection, *paths: Path | str) -> None:
    """Let DuckDB read the remote zone paths through their fsspec file system (DuckDB's own httpfs
    extension is a download the pipeline cannot count on); nothing to do for local ones."""
    seen: set[int] = set()
    for p in paths:
        p = zone_path(p) if isinstance(p, str) else p
        fs = filesystem(p)
        if fs is not None and id(fs) not in seen:
            seen.add(id(fs))
            con.register_filesystem(fs)


# -- dbt's reads -----------------------------------------------------------------------------------

DBT_S3 = "panro-s3"   # the fsspec name dbt-duckdb's `filesystems` setting gives for an S3 lake


def register_dbt_filesystem() -> None:
    """Make `panro-s3` an fsspec file system: s3fs that asks the store about an object once per instance.

    DuckDB's fsspec bridge asks for a file's `info` ~15 times before it reads it, and with listings not
    cached (REMOTE_OPTIONS) each is a HEAD. Under dbt nothing changes the published zone (the run holds
    its lock; objects are never changed in place), and dbt-duckdb makes the file system anew for each
    invocation (`skip_instance_cache`), so an answer is good for the instance's life."""
    import fsspec
    import s3fs

    class InfoOnceS3FileSystem(s3fs.S3FileSystem):
        async def _info(self, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            known = self.__dict__.setdefault("_panro_info", {})
            key = self._strip_protocol(path)
            if key not in known:
                known[key] = await super()._info(path, *args, **kwargs)
            return known[key]

    fsspec.register_implementation(DBT_S3, InfoOnceS3FileSystem, clobber=True)


# -- reachability ----------------------------------------------------------------------------------

def describe_error(e: BaseException) -> str:
    """An error of the store in a line: its type and message (botocore's name the endpoint, never a key)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def check_reachable(url: str, what: str) -> None:
    """Ask the store of `url` (the landing, the lake) for its bucket before a run does anything, without
    listing it (discovery lists the landing once, later): a store that does not answer, a bucket that
    does not exist or access refused fails the run here, naming the URL and the endpoint."""
    if is_local_url(url):
        return
    import fsspec

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    s3 = protocol(url) in ("s3", "s3a")
    where = f"{url}" + (f" (endpoint {endpoint})" if endpoint and s3 else "")
    try:
        fs, root = fsspec.core.url_to_fs(url, **REMOTE_OPTIONS)
        if s3:
            fs.call_s3("head_bucket", Bucket=root.split("/", 1)[0])
        else:
            fs.exists(root)
    except Exception as e:  # botocore's, aiohttp's, s3fs's own: all mean the same to the run
        raise StorageUnreachable(f"cannot reach the {what} {where}: {describe_error(e)}") from None
