"""Check the PAdES seals of PDFs: used by the signing activity and by the auditor's verify.

Neutral (no activity code): the command line and the web portal verify archived PDFs with it.

    verify_pdf_signature(Path("policy.pdf"), trust=[certificate]).valid
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import DocumentTimestampStatus, PdfSignatureStatus
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


@dataclass(frozen=True)
class SealTime:
    """Which clock a PDF's seal time rests on: an RFC 3161 timestamp, or the sealer's own.

    ``authority``: the timestamp authority's subject when a token in the PDF (the signature's
    timestamp, or a later document timestamp) verified against ``timestamp_trust``; empty when
    the time is only the one the sealing computer wrote into the signature (``at``).
    """

    at: dt.datetime | None
    authority: str = ""
    problems: tuple[str, ...] = ()  # a token that does not verify, or from an untrusted authority
    notes: tuple[str, ...] = ()  # a token that could not be checked (no authority certificate)

    @property
    def clock(self) -> str:
        if self.authority:
            return f"an RFC 3161 timestamp from {self.authority}"
        own = "the organisation's own clock (the time the sealing computer wrote into the seal)"
        return "; ".join([own, *self.notes])


def _no_signature(path: Path, detail: str) -> tuple[SignatureCheck, SealTime]:
    check = SignatureCheck(valid=False, intact=False, signer_subject="", signing_time=None, detail=detail)
    return check, SealTime(at=None)


def _context(trust: list[x509.Certificate]) -> ValidationContext:
    return ValidationContext(
        trust_roots=[asn1_certificate(cert) for cert in trust],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


def _timestamp_time(
    signature_status: PdfSignatureStatus,
    documents: list[DocumentTimestampStatus],
    timestamp_trust: list[x509.Certificate],
) -> SealTime:
    reported = signature_status.signer_reported_dt
    tokens = [signature_status.timestamp_validity, *documents]
    problems: list[str] = []
    notes: list[str] = []  # a token that could not be checked: the time is the sealer's own
    for token in tokens:
        if token is None:
            continue
        if not (token.intact and token.valid):
            problems.append(f"a timestamp token does not verify ({token.summary()})")
        elif not timestamp_trust:
            notes.append("a timestamp token is present, but no authority certificate to check it against")
        elif not token.trusted:
            problems.append("a timestamp token was made by an authority not among the pack's certificates")
    trusted = [t for t in tokens if t is not None and t.intact and t.valid and t.trusted]
    if trusted and not problems and not notes:
        first = trusted[0]  # the signature's own timestamp, else the earliest document timestamp
        return SealTime(at=first.timestamp.astimezone(dt.UTC), authority=_subject(first.signing_cert))
    at = reported.astimezone(dt.UTC) if reported else None
    return SealTime(at=at, problems=tuple(problems), notes=tuple(notes))


def check_seal(
    path: Path,
    *,
    trust: list[x509.Certificate],
    timestamp_trust: list[x509.Certificate] | None = None,
) -> tuple[SignatureCheck, SealTime]:
    """Check every signature in the PDF ``path`` (as :func:`verify_pdf_signature`) and say
    which clock its time rests on.

    Document timestamps (PAdES B-LTA) are checked against ``timestamp_trust`` (the timestamp
    authority's certificates), as is a timestamp inside the signature; the seal's own time is
    the sealing computer's clock. A token that does not verify is a problem of the seal.
    """
    outside_event_loop("check_seal")
    context = _context(trust)
    stamps = _context(timestamp_trust) if timestamp_trust else None
    try:
        with path.open("rb") as pdf:
            reader = PdfFileReader(pdf, strict=False)
            embedded = reader.embedded_signatures
            signatures = [s for s in embedded if s.sig_object_type != "/DocTimeStamp"]
            if not signatures:
                return _no_signature(path, f"{path.name} has no embedded signature")
            statuses = [
                validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=stamps)
                for sig in signatures
            ]
            documents = [
                validate_pdf_timestamp(sig, validation_context=stamps or context)
                for sig in embedded
                if sig.sig_object_type == "/DocTimeStamp"
            ]
            reported_times = [sig.self_reported_timestamp for sig in signatures]
    except Exception as exc:  # a damaged file is a failed check, not a crash
        detail = f"{path.name} could not be read as a signed PDF: {type(exc).__name__}: {exc}"
        return _no_signature(path, detail)
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
    for stamp in documents:
        if not stamp.intact:
            problems.append("a document timestamp: the bytes it covers were modified")
    level = (documents[-1] if documents else statuses[-1]).modification_level
    if level is None or level > ModificationLevel.LTA_UPDATES:
        problems.append("the document was changed after it was sealed")
    intact = all(status.intact for status in statuses) and all(stamp.intact for stamp in documents)
    valid = not problems and all(status.bottom_line for status in statuses)
    signing_time = reported_times[-1]
    check = SignatureCheck(
        valid=valid,
        intact=intact,
        signer_subject=_subject(statuses[-1].signing_cert),
        signing_time=signing_time.astimezone(dt.UTC) if signing_time else None,
        detail="; ".join(problems) if problems else f"{len(statuses)} signature(s) valid, document unchanged",
    )
    return check, _timestamp_time(statuses[-1], documents, timestamp_trust or [])


def verify_pdf_signature(path: Path, *, trust: list[x509.Certificate]) -> SignatureCheck:
    """Check every signature in the PDF ``path`` against the trusted certificates ``trust``.

    ``valid`` needs each signature to be cryptographically sound, made with a certificate that
    chains to one in ``trust``, and nothing but signature-archival updates after the last one;
    ``intact`` says whether the signed bytes are unchanged. Like :func:`seal_pdf`, call it
    from a thread.
    """
    outside_event_loop("verify_pdf_signature")
    return check_seal(path, trust=trust)[0]


# --------------------------------------------------------------------------------------------
# The certificate of completion
