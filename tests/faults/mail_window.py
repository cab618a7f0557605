"""Counting a cycle's emails when senders were killed: once each, or twice inside the named window.

A sender killed between the final dot and its sent marker (adapters.mail_delivery) sends the
email again on retry, with the same Message-ID, and the sent marker then says ``"repeat": true``.
That is the only repeat allowed: any other key must arrive exactly once.
"""

from __future__ import annotations

import json
from email.message import EmailMessage

from adapters.s3 import make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from devstack.mailsink import read_mailbox
from tests.conftest import SmtpSink


def repeat_on_record(settings: Settings, keys: set[str]) -> set[str]:
    """The keys among ``keys`` whose sent marker (single or campaign) records a repeat."""
    if not keys:
        return set()
    wanted = {f"{sha256_bytes(key.encode())}.json": key for key in keys}
    s3 = make_s3_client(settings)
    found: set[str] = set()
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.drafts_bucket, Prefix=f"{settings.drafts_prefix}mail/"
    )
    for page in pages:
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name in wanted and "/pending/" not in item["Key"] and "-pending/" not in item["Key"]:
                body = s3.get_object(Bucket=settings.drafts_bucket, Key=item["Key"])["Body"].read()
                if json.loads(body).get("repeat") is True:
                    found.add(wanted[name])
    return found


def mails_within_window(settings: Settings, sink: SmtpSink, cycle_id: str) -> dict[str, EmailMessage]:
    """``cycle_id``'s emails by key (without the cycle prefix), like ``tests.workflows.helpers.mails``.

    Fails on a key that arrived twice unless both copies have one Message-ID and the key's
    sent marker records the repeat; fails on a key that arrived three times or more.
    """
    copies: dict[str, list[EmailMessage]] = {}
    for message in read_mailbox(sink.maildir):
        key = str(message.get("X-Isms-Key", ""))
        if key.startswith(f"{cycle_id}/"):
            copies.setdefault(key, []).append(message)
    repeated = {key for key, found in copies.items() if len(found) > 1}
    named = repeat_on_record(settings, repeated)
    for key in repeated:
        found = copies[key]
        assert len(found) == 2, f"{key} arrived {len(found)} times"
        assert len({str(m["Message-ID"]) for m in found}) == 1, f"{key}: two Message-IDs"
        assert key in named, f"{key} was sent twice outside the window (no repeat on record)"
    return {key.removeprefix(f"{cycle_id}/"): found[0] for key, found in copies.items()}


def keys_arrived(sink: SmtpSink, cycle_id: str) -> set[str]:
    """The keys of ``cycle_id``'s emails so far (without the cycle prefix), repeats or not."""
    keys = (str(message.get("X-Isms-Key", "")) for message in read_mailbox(sink.maildir))
    return {key.removeprefix(f"{cycle_id}/") for key in keys if key.startswith(f"{cycle_id}/")}
