"""Check the PAdES seals of PDFs: used by the signing activity and by the auditor's verify.

Neutral (no activity code): the command line and the web portal verify archived PDFs with it.

    verify_pdf_signature(Path("policy.pdf"), trust=[certificate]).valid
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from models.signing import SignatureCheck


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (ValueError if there is none)."""
    return x509.load_pem_x509_certificates(pem)


def describe_name(name: x509.Name) -> str:
    """``CN=Larkspur document sealing, O=Larkspur``: in the certificate's own order, unlike RFC 4514."""
    return ", ".join(attribute.rfc4514_string() for attribute in name)


def asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def outside_event_loop(function: str) -> None:
    """pyHanko's synchronous API runs ``asyncio.run``: say so clearly instead of failing deep inside."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{function} blocks: call it from a thread, e.g. await asyncio.to_thread({function}, ...)"
    )


def _subject(status_cert: asn1_x509.Certificate) -> str:
    return describe_name(x509.load_der_x509_certificate(status_cert.dump()).subject)


def verify_pdf_signature(path: Path, *, trust: list[x509.Certificate]) -> SignatureCheck:
    """Check every signature in the PDF ``path`` against the trusted certificates ``trust``.

    ``valid`` needs each signature to be cryptographically sound, made with a certificate that
    chains to one in ``trust``, and nothing but signature-archival updates after the last one;
    ``intact`` says whether the signed bytes are unchanged. Like :func:`seal_pdf`, call it
    from a thread.
    """
    outside_event_loop("verify_pdf_signature")
    context = ValidationContext(
        trust_roots=[asn1_certificate(cert) for cert in trust],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    try:
        with path.open("rb") as pdf:
            reader = PdfFileReader(pdf, strict=False)
            signatures = reader.embedded_signatures
            if not signatures:
                return SignatureCheck(
                    valid=False,
                    intact=False,
                    signer_subject="",
                    signing_time=None,
                    detail=f"{path.name} has no embedded signature",
                )
            statuses = [validate_pdf_signature(sig, signer_validation_context=context) for sig in signatures]
            reported_times = [sig.self_reported_timestamp for sig in signatures]
    except Exception as exc:  # a damaged file is a failed check, not a crash
        return SignatureCheck(
            valid=False,
            intact=False,
            signer_subject="",
            signing_time=None,
            detail=f"{path.name} could not be read as a signed PDF: {type(exc).__name__}: {exc}",
        )
    problems: list[str] = []
    for index, status in enumerate(statuses, start=1):
        if not status.intact:
            problems.append(f"signature {index}: the signed bytes were modified")
        elif not status.valid:
            problems.append(f"signature {index}: the cryptographic signature does not verify")
        elif not status.trusted:  # pyHanko only judges trust for a sound signature
            problems.append(f"signature {index}: the signer's certificate is not trusted")
        if not status.bottom_line and status.intact and status.valid and status.trusted:
            problems.append(f"signature {index}: {status.summary()}")
    last = statuses[-1]
    level = last.modification_level
    if level is None or level > ModificationLevel.LTA_UPDATES:
        problems.append("the document was changed after it was sealed")
    intact = all(status.intact for status in statuses)
    valid = not problems and all(status.bottom_line for status in statuses)
    signing_time = reported_times[-1]
    return SignatureCheck(
        valid=valid,
        intact=intact,
        signer_subject=_subject(last.signing_cert),
        signing_time=signing_time.astimezone(dt.UTC) if signing_time else None,
        detail="; ".join(problems) if problems else f"{len(statuses)} signature(s) valid, document unchanged",
    )


# --------------------------------------------------------------------------------------------
# The certificate of completion
