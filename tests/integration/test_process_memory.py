"""The worker hands freed memory back: glibc's malloc_trim, called for real on this process."""

from __future__ import annotations

import asyncio
import threading

import pytest

from adapters.process_memory import (
    can_return_freed_memory,
    resident_bytes,
    return_freed_memory,
    return_freed_memory_every,
)

MB = 1 << 20


def _fragment_an_arena(kept: list[bytes]) -> None:
    """In a thread of its own (so its own arena), allocate ~200 MB in 2 kB blocks and free all
    but one in 64: the arena's pages are mostly free, yet none is at its top to give back."""
    blocks = [bytes(2048) for _ in range(100_000)]
    kept.extend(blocks[::64])
    del blocks


@pytest.mark.skipif(not can_return_freed_memory(), reason="this C library has no malloc_trim")
def test_freed_memory_in_a_threads_arena_is_handed_back() -> None:
    before = resident_bytes()
    assert before is not None
    kept: list[bytes] = []
    thread = threading.Thread(target=_fragment_an_arena, args=(kept,))
    thread.start()
    thread.join()
    held = resident_bytes()
    assert held is not None
    assert held - before > 100 * MB, "the freed blocks should still be resident before the trim"
    assert return_freed_memory()
    after = resident_bytes()
    assert after is not None
    assert held - after > 100 * MB, f"{(held - after) // MB} MB handed back of {(held - before) // MB} MB"
    assert len(kept) == 1563  # what was kept is still there, and readable
    assert all(block == bytes(2048) for block in kept)


async def test_the_periodic_trim_stops_with_its_event_and_zero_means_never() -> None:
    stop = asyncio.Event()
    await asyncio.wait_for(return_freed_memory_every(0, stop), timeout=1)  # 0: returns at once
    task = asyncio.create_task(return_freed_memory_every(0.05, stop))
    await asyncio.sleep(0.2)  # a few rounds
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=1)
