"""Local files written so that a reader never sees half of one: the one place that does it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def publish_file(partial: Path, target: Path) -> Path:
    """Make ``partial`` durable, then give it the name ``target`` in one step (same folder)."""
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, target)
    return target


def write_atomic(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` through a private temporary file beside it, fsynced, then renamed.

    A crash leaves either the old file or the new one, never a partial one; the temporary file is
    removed when the write fails.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
            output.flush()
            os.fsync(output.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
