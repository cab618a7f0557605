"""Seal a PDF with the organisation's key: a PAdES baseline (B-B) signature, as an incremental update.

    seal_pdf(Path("policy.pdf"), Path("policy.sealed.pdf"), identity, signer=signer, reason="Approved")
    verify_pdf_signature(Path("policy.sealed.pdf"), trust=[identity.certificate]).valid   # True

(``verify_pdf_signature`` is :mod:`core.seal_check`'s: the auditor's side needs it without pyHanko's
signing half.)
"""

from __future__ import annotations

import io
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, sign_pdf

from core.files import write_atomic
from core.seal_check import outside_event_loop, verify_pdf_signature
from documents.signing_identity import SigningIdentity
from models.signing import Signer

SEAL_FIELD = "isms-cycle-seal"


class SealingError(Exception):
    """pyHanko could not seal a PDF (it is damaged, or the key cannot sign)."""


def seal_pdf(
    source: Path,
    target: Path,
    identity: SigningIdentity,
    *,
    signer: Signer | None,
    reason: str,
    location: str | None = None,
) -> Path:
    """Write ``source`` with a PAdES B-B signature added (an incremental update) to ``target``.

    The signature names ``signer`` (None: the organisation's seal alone, naming no person, for a
    document distributed without a signature) and ``reason``; ``target`` is replaced atomically.
    pyHanko runs its own event loop, so call this from a thread, never from a coroutine.
    """
    outside_event_loop("seal_pdf")
    metadata = PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=signer.name if signer else None,
        contact_info=signer.email if signer else None,
    )
    output = io.BytesIO()
    try:
        with source.open("rb") as pdf:
            writer = IncrementalPdfFileWriter(pdf)
            sign_pdf(writer, metadata, signer=identity.signer(), output=output)
    except (SigningError, ValueError) as exc:
        raise SealingError(f"could not seal {source.name}: {exc}") from exc
    write_atomic(target, output.getvalue())
    return target


def seal_verified(
    source: Path, target: Path, identity: SigningIdentity, *, signer: Signer | None, reason: str
) -> Path:
    """:func:`seal_pdf`, then check that the seal verifies against ``identity``'s certificate.

    Raises :class:`SealingError` when it does not: a sealed PDF that fails verification is never
    handed on.
    """
    seal_pdf(source, target, identity, signer=signer, reason=reason)
    check = verify_pdf_signature(target, trust=[identity.certificate])
    if not check.valid:
        raise SealingError(f"the seal on {target.name} does not verify: {check.detail}")
    return target
