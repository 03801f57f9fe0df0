"""Objects loaded for good are set aside from the collector; it resumes as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from panro.memory import long_lived


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()   # what a test froze goes back to the collector of the test process
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_what_loads_in_a_long_lived_block_is_frozen_and_the_collector_resumes() -> None:
    gc.enable()
    with long_lived():
        assert not gc.isenabled()
        loaded = [{"module": n} for n in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(loaded)     # no later collection scans them


def test_the_collector_resumes_only_when_the_last_of_overlapping_blocks_ends() -> None:
    gc.enable()
    outer, inner = long_lived(), long_lived()     # e.g. the CLI's imports and GX loading on a thread
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    assert not gc.isenabled()
    inner.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    with long_lived():
        pass
    assert not gc.isenabled()


def test_an_error_while_loading_still_resumes_the_collector() -> None:
    gc.enable()
    with pytest.raises(ImportError), long_lived():
        raise ImportError("no such module")
    assert gc.isenabled()
