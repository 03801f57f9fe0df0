"""Give memory the run no longer needs back to the operating system, between stages.

A backfill's gate holds gigabytes of frames; freed, they stay in the allocators' pools (Arrow's,
glibc's) and the process keeps its size while the next stage, dbt in its own process, needs room.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import sys

import pyarrow as pa


def give_back() -> None:
    """Collect garbage, then return the free pages of Arrow's pool and of glibc's heap (Linux)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        libc = ctypes.util.find_library("c")
        if libc:
            with contextlib.suppress(OSError, AttributeError):  # not glibc: musl has no malloc_trim
                ctypes.CDLL(libc).malloc_trim(0)
