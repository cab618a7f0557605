"""Seal a PDF with the organisation's key: a PAdES baseline signature, as an incremental update.

B-B with the worker's clock alone; with a timestamp authority on the identity
(``ISMS_TSA_URL``), B-LTA: an RFC 3161 signature timestamp, the certificates and revocation
data a validator needs offline in the document security store (B-LT), and a document
timestamp over all of it.

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
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from core.files import write_atomic
from core.seal_check import asn1_certificate, outside_event_loop, verify_pdf_signature
from core.timestamp_check import verify_pdf_long_term
from documents.signing_identity import SigningIdentity
from models.signing import Signer

SEAL_FIELD = "isms-cycle-seal"
DOCUMENT_TIMESTAMP_FIELD = "isms-cycle-document-timestamp"


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
    """Write ``source`` with a PAdES signature added (an incremental update) to ``target``.

    B-B, or B-LTA when ``identity.timestamps`` names an authority (see the module's docstring;
    the revocation data of the authority's chain is fetched from the URLs its certificates name).

    The signature names ``signer`` (None: the organisation's seal alone, naming no person, for a
    document distributed without a signature) and ``reason``; ``target`` is replaced atomically.
    pyHanko runs its own event loop, so call this from a thread, never from a coroutine.
    """
    outside_event_loop("seal_pdf")
    authority = identity.timestamps
    long_term: dict[str, object] = {}
    timestamper = None
    if authority is not None:
        long_term = {
            "embed_validation_info": True,
            "use_pades_lta": True,
            "timestamp_field_name": DOCUMENT_TIMESTAMP_FIELD,
            "validation_context": ValidationContext(
                trust_roots=[asn1_certificate(identity.certificate), *authority.roots()],
                allow_fetching=True,
                revocation_mode="soft-fail",
            ),
        }
        timestamper = authority.timestamper()
    metadata = PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=signer.name if signer else None,
        contact_info=signer.email if signer else None,
        **long_term,  # type: ignore[arg-type]
    )
    output = io.BytesIO()
    try:
        with source.open("rb") as pdf:
            writer = IncrementalPdfFileWriter(pdf)
            sign_pdf(writer, metadata, signer=identity.signer(), timestamper=timestamper, output=output)
    except TimestampRequestError as exc:
        raise SealingError(f"could not timestamp the seal of {source.name}: {exc.__cause__ or exc}") from exc
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
    if identity.timestamps is not None:  # B-LTA: the seal, its timestamp, the DSS, the document timestamp
        long_term = verify_pdf_long_term(
            target.read_bytes(),
            seal_trust_pem=identity.certificate_pem().encode(),
            tsa_trust_pem=identity.timestamps.roots_pem,
        )
        if not long_term.valid:
            raise SealingError(f"the seal on {target.name} does not verify: {'; '.join(long_term.problems)}")
        return target
    check = verify_pdf_signature(target, trust=[identity.certificate])
    if not check.valid:
        raise SealingError(f"the seal on {target.name} does not verify: {check.detail}")
    return target
