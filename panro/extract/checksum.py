"""Change detection: the cheap (size, mtime) check against the ledger, and the sha256 identity."""

from __future__ import annotations

import hashlib
from typing import Any

from panro.lake.ledger import Batch


def sha256_hex(data: bytes) -> str:
    """sha256 of a file's bytes, hex: the content identity of a batch (panro.lake.ledger.batch_id)."""
    return hashlib.sha256(data).hexdigest()


def sha256_stream(fs: Any, path: str, chunk: int = 1 << 20) -> tuple[str, int]:
    """sha256 and size of a file read in chunks: the identity of a file too big to hold (over its limit)."""
    digest, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def same_stat(known: Batch | None, size: int, mtime: float | None) -> bool:
    """True when the file still has the size and modification time of the version last seen.

    The cheap first check: only files failing it are read and hashed. A file system that reports no
    modification time never passes it (its files are always hashed).
    """
    return (
        known is not None
        and mtime is not None
        and known.source_mtime is not None
        and known.size_bytes == size
        and known.source_mtime == mtime
    )
