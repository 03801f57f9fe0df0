"""Batch files are durable before anything records them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from panro.lake import batches
from panro.lake.batches import write_parquet_atomic

TABLE = pa.table({"n": [1, 2, 3]})


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was made durable, in order: 'fsync <name>' per file or folder."""
    events: list[str] = []
    real_fsync = batches.fsync_path

    def fsync_path(path: Path) -> None:
        real_fsync(path)
        events.append(f"fsync {path.name}")

    monkeypatch.setattr(batches, "fsync_path", fsync_path)
    return events


def test_a_plain_write_fsyncs_its_file_before_the_rename_and_a_single_writer_its_folder_too(
        tmp_path: Path, synced: list[str]) -> None:
    write_parquet_atomic(TABLE, tmp_path / "zone" / "one.parquet")
    assert len(synced) == 1 and synced[0].startswith("fsync .one.parquet.")   # the temporary, before its rename
    synced.clear()
    write_parquet_atomic(TABLE, tmp_path / "zone" / "two.parquet", sync="file_and_folder")
    assert synced[0].startswith("fsync .two.parquet.") and synced[1:] == ["fsync zone"]
