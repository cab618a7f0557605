"""The web app's proof that a decision or an acknowledgement came through a valid link.

Anyone who can reach Temporal's port could otherwise send the ``decide`` or ``acknowledge``
Update with whatever person, address and browser they like. The web app holds a key
(``ISMS_PROOF_SECRET``) that only it and the worker have; it signs each update's argument,
bound to the workflow it is sent to and the update's name, and the worker refuses an update
whose proof does not verify (``Refusal.NO_PROOF``). The proof is an HMAC, not a secret: it
may sit in workflow history; the link token itself never does.

>>> decision = with_proof(key, workflow_id=cycle_id, update=Update.DECIDE, payload=decision)
>>> proof_valid(key, workflow_id=cycle_id, update=Update.DECIDE, payload=decision)
True

Pure: no clock, no I/O, so the worker's check and the web app's signing agree byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TypeVar

from pydantic import BaseModel

PROOF_FIELD = "proof"
_VERSION = "v1"

M = TypeVar("M", bound=BaseModel)


def proof_message(*, workflow_id: str, update: str, payload: BaseModel) -> bytes:
    """The bytes a proof covers: the workflow, the update's name and every field but the proof.

    Canonical JSON (sorted keys, no spaces), so the model the worker decodes from Temporal's
    payload gives the bytes the web app signed.
    """
    body = payload.model_dump(mode="json", exclude={PROOF_FIELD})
    document = {"v": _VERSION, "workflow": workflow_id, "update": update, "payload": body}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_proof(key: bytes, *, workflow_id: str, update: str, payload: BaseModel) -> str:
    """``v1.<hex HMAC-SHA256>`` of :func:`proof_message`."""
    if not key:
        raise ValueError("the proof key is empty")
    message = proof_message(workflow_id=workflow_id, update=update, payload=payload)
    digest = hmac.new(key, message, hashlib.sha256)
    return f"{_VERSION}.{digest.hexdigest()}"


def with_proof(key: bytes, *, workflow_id: str, update: str, payload: M) -> M:
    """``payload`` with its ``proof`` field set (the model must have one)."""
    if PROOF_FIELD not in type(payload).model_fields:
        raise TypeError(f"{type(payload).__name__} has no {PROOF_FIELD!r} field")
    proof = make_proof(key, workflow_id=workflow_id, update=update, payload=payload)
    return payload.model_copy(update={PROOF_FIELD: proof})


def proof_valid(key: bytes, *, workflow_id: str, update: str, payload: BaseModel) -> bool:
    """Whether ``payload``'s proof is the one ``key`` makes for it. Never raises on any payload."""
    given = getattr(payload, PROOF_FIELD, None)
    if not isinstance(given, str) or not given or not key:
        return False
    expected = make_proof(key, workflow_id=workflow_id, update=update, payload=payload)
    return hmac.compare_digest(given.encode(), expected.encode())
