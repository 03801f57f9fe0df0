"""Batch files are durable before anything records them: each on its own, or many made durable together."""

from __future__ import annotations

import ctypes
import errno
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panro import batches
from panro.batches import DurableWrites, write_parquet_atomic

TABLE = pa.table({"n": [1, 2, 3]})


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was made durable, in order: 'fsync <name>' per file or folder, 'syncfs' per file system sync."""
    events: list[str] = []
    real_fsync, real_syncfs = batches.fsync_path, batches._syncfs

    def fsync_path(path: Path) -> None:
        real_fsync(path)
        events.append(f"fsync {path.name}")

    def syncfs(fd: int) -> int:
        events.append("syncfs")
        return real_syncfs(fd) if real_syncfs is not None else 0

    monkeypatch.setattr(batches, "fsync_path", fsync_path)
    monkeypatch.setattr(batches, "_syncfs", syncfs)
    return events


def _write_three(root: Path, written: DurableWrites) -> list[Path]:
    paths = [root / folder / f"{n}.parquet" for n, folder in enumerate(["a", "a", "b"])]
    for path in paths:
        write_parquet_atomic(TABLE, path, sync="later")
        written.add(path)
    return paths


def test_a_plain_write_fsyncs_its_file_before_the_rename_and_a_single_writer_its_folder_too(
        tmp_path: Path, synced: list[str]) -> None:
    write_parquet_atomic(TABLE, tmp_path / "zone" / "one.parquet")
    assert len(synced) == 1 and synced[0].startswith("fsync .one.parquet.")   # the temporary, before its rename
    synced.clear()
    write_parquet_atomic(TABLE, tmp_path / "zone" / "two.parquet", sync="file_and_folder")
    assert synced[0].startswith("fsync .two.parquet.") and synced[1:] == ["fsync zone"]


def test_files_written_for_later_are_made_durable_together_by_one_sync_of_their_file_system(
        tmp_path: Path, synced: list[str]) -> None:
    with DurableWrites(tmp_path / "raw") as written:
        paths = _write_three(tmp_path / "raw", written)
        assert synced == []                   # nothing synced while writing
        written.sync()
        assert synced == ["syncfs"]
        written.sync()                        # nothing new since: nothing to do
        assert synced == ["syncfs"]
    assert [pq.read_table(p).num_rows for p in paths] == [3, 3, 3]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs(2) is Linux's")
def test_linux_has_syncfs() -> None:
    assert batches._load_syncfs() is not None


def test_without_syncfs_each_file_is_fsynced_then_each_folder(
        tmp_path: Path, synced: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "_syncfs", None)
    with DurableWrites(tmp_path / "raw") as written:
        _write_three(tmp_path / "raw", written)
        written.sync()
    assert synced[:3] == ["fsync 0.parquet", "fsync 1.parquet", "fsync 2.parquet"]
    assert sorted(synced[3:]) == ["fsync a", "fsync b"]


def test_a_folder_on_another_file_system_is_fsynced_file_by_file(tmp_path: Path, synced: list[str]) -> None:
    with DurableWrites(tmp_path / "raw") as written:
        _write_three(tmp_path / "raw", written)
        written._device = -1      # as if the files' folders were mounted from another file system
        written.sync()
    assert "syncfs" not in synced and len(synced) == 5


def test_a_failed_sync_is_an_error_that_names_the_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(batches, "_syncfs", failing)
    with DurableWrites(tmp_path / "raw") as written:
        _write_three(tmp_path / "raw", written)
        with pytest.raises(OSError, match="syncfs") as raised:
            written.sync()
    assert raised.value.errno == errno.EIO and raised.value.filename == str(tmp_path / "raw")
