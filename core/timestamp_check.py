"""Check an RFC 3161 timestamp (a ``.tsr`` response) over some bytes, against the authority's roots.

Neutral (no activity code, none of pyHanko's signing half): the worker checks each timestamp it
gets, and the auditor's verify checks the archived ones, offline::

    check = verify_timestamp_response(tsr, data=manifest_bytes, trust_pem=tsa_certificates_pem)
    check.valid, check.time     # True, 2026-12-02 05:44:10+00:00 (the authority's time)

The same files check with OpenSSL alone:
``openssl ts -verify -data <manifest>.json -in <manifest>.json.tsr -CAfile tsa-certificates.pem``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import cms, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from core.seal_check import describe_name, outside_event_loop


@dataclass(frozen=True)
class TimestampCheck:
    """What a timestamp proves: ``valid`` (sound, over these bytes, by a trusted authority) and when."""

    valid: bool
    time: dt.datetime | None
    authority: str
    detail: str


def _roots(trust_pem: bytes) -> list[asn1_x509.Certificate]:
    return [
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        for cert in x509.load_pem_x509_certificates(trust_pem)
    ]


def timestamp_token(response: bytes) -> cms.ContentInfo:
    """The token inside a DER ``TimeStampResp`` (ValueError if it is none, or was not granted)."""
    try:
        parsed = tsp.TimeStampResp.load(response)
        status = parsed["status"]["status"].native
        token = parsed["time_stamp_token"]
        if status not in ("granted", "granted_with_mods") or token.native is None:
            raise ValueError(f"the authority's answer is {status!r}, without a token")
        _ = token["content"]["encap_content_info"]["content"].parsed  # parse now: damage shows here
    except ValueError:
        raise
    except Exception as exc:  # asn1crypto raises several types for damaged DER
        raise ValueError(f"not an RFC 3161 timestamp response: {type(exc).__name__}: {exc}") from None
    return token


def verify_timestamp_response(response: bytes, *, data: bytes, trust_pem: bytes) -> TimestampCheck:
    """Check the RFC 3161 ``response`` (DER) over ``data`` against the roots in ``trust_pem``.

    ``valid`` needs the token's signature to verify, its imprint to be the digest of ``data``
    (with the algorithm the token names), and the authority's certificate to chain to a root in
    ``trust_pem`` with the time-stamping usage. Blocking (pyHanko runs an event loop): call it
    from a thread in async code.
    """
    outside_event_loop("verify_timestamp_response")
    try:
        token = timestamp_token(response)
        roots = _roots(trust_pem)
    except ValueError as exc:
        return TimestampCheck(valid=False, time=None, authority="", detail=str(exc))
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")

    def imprint(algorithm: str) -> bytes:
        return hashlib.new(algorithm, data).digest()

    try:
        kwargs = asyncio.run(validate_tst_signed_data(token["content"], context, imprint))
        status = TimestampSignatureStatus(**kwargs)
    except Exception as exc:  # a damaged or foreign token is a failed check, not a crash
        return TimestampCheck(
            valid=False,
            time=None,
            authority="",
            detail=f"the timestamp does not verify: {type(exc).__name__}: {exc}",
        )
    authority = describe_name(x509.load_der_x509_certificate(status.signing_cert.dump()).subject)
    when = status.timestamp.astimezone(dt.UTC)
    if not status.intact:
        detail = "the timestamp is not over these bytes (they changed after it was taken)"
    elif not status.valid:
        detail = "the timestamp's signature does not verify"
    elif not status.trusted:
        detail = f"the timestamp authority {authority} does not chain to the archived TSA certificates"
    else:
        detail = f"timestamped {when:%Y-%m-%d %H:%M:%S} UTC by {authority}"
    ok = status.intact and status.valid and status.trusted
    return TimestampCheck(valid=ok, time=when, authority=authority, detail=detail)


@dataclass(frozen=True)
class LongTermCheck:
    """A sealed PDF judged as PAdES B-LTA: each level's finding, and the times it rests on."""

    valid: bool
    signature_time: dt.datetime | None  # the authority's time of the seal (B-T)
    archive_time: dt.datetime | None  # the document timestamp over the DSS (B-LTA)
    problems: list[str]
    passed: list[str]


def verify_pdf_long_term(body: bytes, *, seal_trust_pem: bytes, tsa_trust_pem: bytes) -> LongTermCheck:
    """Check a sealed PDF (its bytes) as PAdES B-LTA, offline.

    The seal verifies against ``seal_trust_pem`` and carries a signature timestamp from an
    authority chaining to ``tsa_trust_pem`` (B-T); the document security store holds the
    authority's certificates (B-LT); a document timestamp by that authority covers everything
    after the seal, and nothing but archival updates follow either (B-LTA). Blocking.
    """
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    outside_event_loop("verify_pdf_long_term")
    problems: list[str] = []
    passed: list[str] = []
    signature_time: dt.datetime | None = None
    archive_time: dt.datetime | None = None
    try:
        seal_roots, tsa_roots = _roots(seal_trust_pem), _roots(tsa_trust_pem)
        reader = PdfFileReader(io.BytesIO(body), strict=False)
        seals = reader.embedded_regular_signatures
        stamps = reader.embedded_timestamp_signatures
        if not seals:
            return LongTermCheck(False, None, None, ["no seal (no PDF signature) in the file"], [])

        def tsa_context() -> ValidationContext:
            return ValidationContext(trust_roots=tsa_roots, allow_fetching=False, revocation_mode="soft-fail")

        for number, seal in enumerate(seals, start=1):
            status = validate_pdf_signature(
                seal,
                signer_validation_context=ValidationContext(
                    trust_roots=seal_roots, allow_fetching=False, revocation_mode="soft-fail"
                ),
                ts_validation_context=tsa_context(),
            )
            if not (status.intact and status.valid and status.trusted):
                problems.append(f"seal {number}: {status.summary()}")
            stamp = status.timestamp_validity
            if stamp is None:
                problems.append(
                    f"seal {number} has no signature timestamp (its time is the sealer's own clock)"
                )
            elif not (stamp.intact and stamp.valid and stamp.trusted):
                problems.append(
                    f"seal {number}'s signature timestamp does not verify against the TSA certificates"
                )
            else:
                signature_time = stamp.timestamp.astimezone(dt.UTC)
                passed.append(
                    f"seal {number} timestamped {signature_time:%Y-%m-%d %H:%M:%S} UTC by the TSA (B-T)"
                )
        dss = DocumentSecurityStore.read_dss(reader) if "/DSS" in reader.root else None
        if dss is None:
            problems.append("no document security store: the validation data is not embedded (not B-LT)")
        else:
            certs = list(dss.certs.values())
            crls = list(dss.crls)
            passed.append(f"document security store: {len(certs)} certificate(s), {len(crls)} CRL(s) (B-LT)")
        if not stamps:
            problems.append("no document timestamp over the validation data (not B-LTA)")
        for number, document_stamp in enumerate(stamps, start=1):
            ts_status = validate_pdf_timestamp(document_stamp, validation_context=tsa_context())
            if not (ts_status.intact and ts_status.valid and ts_status.trusted):
                problems.append(f"document timestamp {number}: {ts_status.summary()}")
            else:
                archive_time = ts_status.timestamp.astimezone(dt.UTC)
                passed.append(
                    f"document timestamp {archive_time:%Y-%m-%d %H:%M:%S} UTC over the seal and DSS (B-LTA)"
                )
        last = stamps[-1] if stamps else seals[-1]
        if last.signed_revision != reader.xrefs.total_revisions - 1 and stamps:
            level = validate_pdf_timestamp(last, validation_context=tsa_context()).modification_level
            if level is None or level > ModificationLevel.LTA_UPDATES:
                problems.append("the document was changed after its last timestamp")
    except Exception as exc:  # a damaged file is a failed check, not a crash
        return LongTermCheck(
            False, None, None, [f"not readable as a sealed PDF: {type(exc).__name__}: {exc}"], []
        )
    return LongTermCheck(not problems, signature_time, archive_time, problems, passed)


# beside each manifest, its RFC 3161 timestamp (a DER TimeStampResp over the manifest's bytes),
# and once per year the authority's certificates to check them with, below <org>/<year>/
MANIFEST_TIMESTAMP_SUFFIX = ".tsr"
TSA_CERTIFICATES_FILE = "tsa-certificates.pem"
OWN_CLOCK = (
    "no trusted timestamps: times rest on the organisation's own clock "
    "(the worker's clock in the seals, S3's write times for the archive)"
)
