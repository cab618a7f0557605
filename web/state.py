"""The web app's own server-side state: sessions, one-time codes, a signer's verified second factor.

One SQLite file in ``settings.web_state_dir`` (0700 folder, 0600 file, WAL), so a session
ended by logout or expiry is gone for every web process on the host at once, and nothing of
it rides in a cookie. Keys are stored as their SHA-256: the file never holds a live session
id or link id in the clear. Values are small JSON objects with an expiry; an expired entry
reads as missing and is purged on the way.

>>> state = WebState(settings.web_state_dir)
>>> await state.put("session", session_id, {"email": "lead@acme.example"}, expires_at=later)
>>> await state.get("session", session_id, now=now)
{'email': 'lead@acme.example'}

``change`` reads and writes one entry in one transaction (``BEGIN IMMEDIATE``), which is what
counting attempts at a one-time code needs under concurrent requests.

SQLite because it ships with Python, needs no server, and its transactions are what a
single-host web app needs; a deployment with several web hosts would point them at one
shared store instead (see docs/production-security.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.cycle import SecondFactor

STATE_FILENAME = "web-state.sqlite3"
SIGNER_VERIFIED = "signer-verified"  # kind: a link id whose holder passed the second factor

Value = dict[str, Any]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _stamp(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return moment.timestamp()


class WebState:
    """Entries of a ``kind`` (``"session"``, ``"signer-code"``, ...) by key, each with an expiry."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = folder / STATE_FILENAME
        if not self.path.exists():
            self.path.touch(mode=0o600)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS entries (kind TEXT NOT NULL, key TEXT NOT NULL, "
                "value TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (kind, key))"
            )
            connection.execute("CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires)")

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    # blocking halves, run on a thread ----------------------------------------------------

    def _get(self, kind: str, key: str, now: float) -> Value | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT value, expires FROM entries WHERE kind = ? AND key = ?", (kind, _digest(key))
            ).fetchone()
        if row is None or row[1] <= now:
            return None
        value: Value = json.loads(row[0])
        return value

    def _put(self, kind: str, key: str, value: Value, expires: float) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO entries (kind, key, value, expires) VALUES (?, ?, ?, ?)",
                (kind, _digest(key), json.dumps(value), expires),
            )

    def _delete(self, kind: str, key: str) -> None:
        with self._connect() as connection:
            connection.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, _digest(key)))

    def _change(
        self, kind: str, key: str, now: float, edit: Callable[[Value | None], tuple[Value | None, float]]
    ) -> Value | None:
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT value, expires FROM entries WHERE kind = ? AND key = ?", (kind, _digest(key))
            ).fetchone()
            current = json.loads(row[0]) if row is not None and row[1] > now else None
            new, expires = edit(current)
            if new is None:
                connection.execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, _digest(key)))
            else:
                connection.execute(
                    "INSERT OR REPLACE INTO entries (kind, key, value, expires) VALUES (?, ?, ?, ?)",
                    (kind, _digest(key), json.dumps(new), expires),
                )
            connection.execute("COMMIT")
            return new
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def _purge(self, now: float) -> int:
        with self._connect() as connection:
            return connection.execute("DELETE FROM entries WHERE expires <= ?", (now,)).rowcount

    # the API ------------------------------------------------------------------------------

    async def get(self, kind: str, key: str, *, now: datetime | None = None) -> Value | None:
        """The entry, or None when there is none or it has expired."""
        return await asyncio.to_thread(self._get, kind, key, _stamp(now or datetime.now(UTC)))

    async def put(self, kind: str, key: str, value: Value, *, expires_at: datetime) -> None:
        await asyncio.to_thread(self._put, kind, key, value, _stamp(expires_at))

    async def delete(self, kind: str, key: str) -> None:
        await asyncio.to_thread(self._delete, kind, key)

    async def change(
        self,
        kind: str,
        key: str,
        edit: Callable[[Value | None], tuple[Value | None, datetime]],
        *,
        now: datetime | None = None,
    ) -> Value | None:
        """Read-modify-write one entry atomically: ``edit(current)`` returns the new value (None
        deletes it) and its expiry; returns the new value."""

        def blocking_edit(current: Value | None) -> tuple[Value | None, float]:
            new, expires_at = edit(current)
            return new, _stamp(expires_at)

        return await asyncio.to_thread(
            self._change, kind, key, _stamp(now or datetime.now(UTC)), blocking_edit
        )

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete every expired entry; returns how many."""
        return await asyncio.to_thread(self._purge, _stamp(now or datetime.now(UTC)))


SIGNER_BROWSER_COOKIE = "isms_signer_browser"  # the browser that passed the second factor


def new_browser_binding() -> str:
    """A random value for :data:`SIGNER_BROWSER_COOKIE`, set in the browser that passed the factor."""
    return secrets.token_urlsafe(32)


async def mark_signer_verified(
    state: WebState, link_id: str, factor: SecondFactor, *, browser: str, expires_at: datetime
) -> None:
    """Record that the holder of link ``link_id`` passed ``factor`` in the browser holding the
    cookie value ``browser`` (until ``expires_at``). Only the digest of ``browser`` is stored."""
    await state.put(
        SIGNER_VERIFIED,
        link_id,
        {"factor": factor.model_dump(mode="json"), "browser": _digest(browser)},
        expires_at=expires_at,
    )


async def signer_verified(
    state: WebState, link_id: str, *, browser: str | None, now: datetime | None = None
) -> SecondFactor | None:
    """The second factor the holder of link ``link_id`` passed, if it is still valid and was passed
    in this browser (``browser``: its :data:`SIGNER_BROWSER_COOKIE`). A forwarded link opened
    elsewhere in the meantime does not inherit it."""
    found = await state.get(SIGNER_VERIFIED, link_id, now=now)
    if found is None or not browser or "browser" not in found:
        return None
    if not hmac.compare_digest(str(found["browser"]), _digest(browser)):
        return None
    return SecondFactor.model_validate(found["factor"])
