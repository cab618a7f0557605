"""Handing the memory a long-running worker has freed back to the system (glibc's ``malloc_trim``).

A worker holds a few hundred batches in its sticky cache and runs activities in a pool of
threads. Python frees objects into its allocator, and glibc keeps what is freed in each
thread's arena for reuse: the resident set then stays near its peak long after the peak (a
batch evicted, a run of emails done), and a worker that should weigh 300 MB is counted as
500 MB by the orchestrator that kills it for that. ``malloc_trim(0)`` returns the free pages
of every arena. It costs a few milliseconds, so the worker calls it every
``worker_memory_trim_seconds`` in a thread of its own, never on the event loop.

There is no well-kept library for this one call, so it is made with ``ctypes``; on a C library
without it (musl, macOS) :func:`return_freed_memory` does nothing and says so.

>>> return_freed_memory()
True
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # no such library or no such function (not glibc)
        return None
    return trim


def can_return_freed_memory() -> bool:
    """Whether this C library can hand freed memory back (glibc can)."""
    return _malloc_trim() is not None


def return_freed_memory() -> bool:
    """Hand every arena's free pages back to the system; False when this C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_bytes() -> int | None:
    """This process's resident set, from ``/proc/self/status`` (None where there is none)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


async def return_freed_memory_every(seconds: float, stop: asyncio.Event) -> None:
    """Until ``stop`` is set, hand freed memory back every ``seconds`` (0: never)."""
    if seconds <= 0:
        return
    if not can_return_freed_memory():
        log.info("this C library cannot hand freed memory back (no malloc_trim): not trying")
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            before = resident_bytes()
            await asyncio.to_thread(return_freed_memory)
            after = resident_bytes()
            if before is not None and after is not None:
                log.debug("freed memory handed back: resident %d MB -> %d MB", before >> 20, after >> 20)
