"""Signing activities: stamp the approval into both documents, convert, seal (PAdES), certify.

The seal is a PAdES baseline (B-B) signature made with the organisation's key
(``settings.signing_key_file``/``signing_cert_file``) or, without one, a self-signed key pair
made on first run and kept in ``settings.signing_dir``::

    identity = load_or_create_signing_identity(settings)
    seal_pdf(Path("policy.pdf"), Path("policy.sealed.pdf"), identity, signer=signer, reason="Approved")
    verify_pdf_signature(Path("policy.sealed.pdf"), trust=[identity.certificate]).valid   # True

:class:`SigningActivities` turns one approval into sealed evidence in the drafts bucket under
``<drafts prefix><cycle id>/signed/v<version>/``: each document as a stamped .docx and a sealed
PDF, a sealed certificate of completion and ``evidence.json`` (written last: its presence
means the rest is complete).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, SimpleSigner, sign_pdf
from pyhanko_certvalidator.registry import SimpleCertificateStore
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents import INTEGRITY, PDF_CONVERSION, UNREADABLE_INPUT
from adapters.drafts import content_type
from adapters.s3 import IntegrityError, get_file, is_missing, put_file
from core.contract import Failure
from core.files import write_atomic
from core.hashing import sha256_bytes, sha256_file
from core.profile_io import UnreadableInputError, load_profile, load_staff
from core.seal_check import asn1_certificate, describe_name, outside_event_loop, verify_pdf_signature
from core.settings import Settings
from documents.pdf_convert import PdfConversionError, PdfConverter, PdfConverterPool
from documents.render import (
    CLASSIFICATION,
    NONE_TEXT,
    POLICY_OUTPUT,
    ROLES_OUTPUT,
    TEMPLATES,
    render_documents,
    render_docx,
)
from models.profile import OrganisationProfile
from models.signing import (
    AuditEvent,
    SignDocumentsInput,
    SignDocumentsResult,
    SignedDocument,
    Signer,
)
from models.staff import StaffDirectory
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CERTIFICATE_TEMPLATE = TEMPLATES / "certificate_of_completion.docx"
KEY_FILENAME = "signing-key.pem"
CERT_FILENAME = "signing-cert.pem"
CERTIFICATE_NAME = "certificate"
EVIDENCE_NAME = "evidence.json"
EVIDENCE_FORMAT: Final = "isms-cycle/signing-evidence/v1"
SEAL_FIELD = "isms-cycle-seal"
SELF_SIGNED_YEARS = 10
DOCUMENT_NAMES = (POLICY_OUTPUT, ROLES_OUTPUT)

# Error types a workflow can name in its retry policy: retrying cannot fix any of them.
# S3 and LibreOffice start-up problems are left retryable.
SIGNING_IDENTITY = Failure.SIGNING_IDENTITY
SHOWN_DOCUMENTS_MISMATCH = Failure.SHOWN_DOCUMENTS_MISMATCH
VERSION_MISMATCH = Failure.VERSION_MISMATCH
ALREADY_SIGNED = Failure.ALREADY_SIGNED
SEALING_FAILED = Failure.SEALING_FAILED
SIGN_DOCUMENTS_NON_RETRYABLE: list[str] = [
    UNREADABLE_INPUT,
    INTEGRITY,
    PDF_CONVERSION,
    SIGNING_IDENTITY,
    SHOWN_DOCUMENTS_MISMATCH,
    VERSION_MISMATCH,
    ALREADY_SIGNED,
    SEALING_FAILED,
]

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


# --------------------------------------------------------------------------------------------
# The signing identity


class SigningIdentityError(Exception):
    """The signing key or certificate is missing, unreadable, expired, or the two do not match."""


@dataclass(frozen=True)
class SigningIdentity:
    """The organisation's sealing key and its certificate."""

    key: SigningKey
    certificate: x509.Certificate
    self_signed: bool

    @property
    def subject(self) -> str:
        return describe_name(self.certificate.subject)

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the certificate (DER): how an auditor recognises the seal."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def signer(self) -> SimpleSigner:
        """A pyHanko signer for this key (the certificate is embedded in every signature)."""
        der_key = self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        cert = asn1_certificate(self.certificate)
        return SimpleSigner(
            signing_cert=cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs([cert]),  # type: ignore[no-untyped-call]
        )


def _public_der(key: SigningKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningIdentityError(f"the signing {what} {path} does not exist") from None
    except OSError as exc:
        raise SigningIdentityError(f"cannot read the signing {what} {path}: {exc.strerror}") from None


def _load_key(path: Path, passphrase: str | None) -> SigningKey:
    data = _read(path, "key")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except TypeError as exc:  # a passphrase for a plain key, or none for an encrypted one
        raise SigningIdentityError(f"cannot load the signing key {path}: {exc}") from None
    except ValueError as exc:
        raise SigningIdentityError(
            f"cannot load the signing key {path} (not a PEM private key, or a wrong passphrase): {exc}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise SigningIdentityError(
            f"the signing key {path} is a {type(key).__name__}: use RSA, EC or Ed25519"
        )
    return key


def _load_certificate(path: Path) -> x509.Certificate:
    data = _read(path, "certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise SigningIdentityError(f"cannot load the signing certificate {path}: {exc}") from None


def _checked_identity(
    key: SigningKey, certificate: x509.Certificate, *, key_file: Path, cert_file: Path
) -> SigningIdentity:
    if _public_der(key) != _public_der(certificate):
        raise SigningIdentityError(
            f"the signing key {key_file} does not belong to the certificate {cert_file}"
        )
    now = dt.datetime.now(dt.UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SigningIdentityError(
            f"the signing certificate {cert_file} is valid from {certificate.not_valid_before_utc:%Y-%m-%d} "
            f"to {certificate.not_valid_after_utc:%Y-%m-%d}, not now"
        )
    return SigningIdentity(
        key=key, certificate=certificate, self_signed=certificate.issuer == certificate.subject
    )


def _self_signed_certificate(key: SigningKey, organisation: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} document sealing"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate a verifier's clock running behind
        .not_valid_after(now + dt.timedelta(days=365 * SELF_SIGNED_YEARS + SELF_SIGNED_YEARS // 4))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def _publish_once(path: Path, data: bytes, *, mode: int) -> None:
    """Give ``path`` the content ``data`` unless it already exists; never a partial file.

    The bytes go to a private temporary file first, then ``os.link`` names it: the link fails
    if another process published ``path`` first, and theirs is kept.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_or_create_signing_identity(
    settings: Settings, *, organisation: str = "isms-cycle"
) -> SigningIdentity:
    """The configured key and certificate, or the self-signed pair in ``settings.signing_dir``.

    With ``signing_key_file`` and ``signing_cert_file`` set, both are loaded (PEM; the key may be
    encrypted with ``signing_key_passphrase``). Otherwise ``signing_dir`` keeps
    ``signing-key.pem`` (mode 0600) and ``signing-cert.pem``; the first run makes them: an EC
    P-256 key and a ten-year self-signed certificate, CN "<organisation> document sealing".
    Processes racing on the first run end up with the same pair. Raises
    :class:`SigningIdentityError` when the files cannot be used.
    """
    passphrase = (
        settings.signing_key_passphrase.get_secret_value() if settings.signing_key_passphrase else None
    )
    if settings.signing_key_file is not None and settings.signing_cert_file is not None:
        key = _load_key(settings.signing_key_file, passphrase)
        certificate = _load_certificate(settings.signing_cert_file)
        return _checked_identity(
            key, certificate, key_file=settings.signing_key_file, cert_file=settings.signing_cert_file
        )

    directory = settings.signing_dir
    key_file, cert_file = directory / KEY_FILENAME, directory / CERT_FILENAME
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not key_file.exists():
            new_key = ec.generate_private_key(ec.SECP256R1())
            _publish_once(
                key_file,
                new_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
                mode=0o600,
            )
        # whichever process published the key first, everyone uses that key from here on
        key = _load_key(key_file, None)
        if not cert_file.exists():
            # also repairs a key left without its certificate by a process that died in between
            certificate = _self_signed_certificate(key, organisation)
            _publish_once(cert_file, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    except OSError as exc:
        raise SigningIdentityError(f"cannot create the signing key pair in {directory}: {exc}") from None
    return _checked_identity(key, _load_certificate(cert_file), key_file=key_file, cert_file=cert_file)


# --------------------------------------------------------------------------------------------
# Sealing and verifying PDFs


class SealingError(Exception):
    """pyHanko could not seal a PDF (it is damaged, or the key cannot sign)."""


def seal_pdf(
    source: Path,
    target: Path,
    identity: SigningIdentity,
    *,
    signer: Signer,
    reason: str,
    location: str | None = None,
) -> Path:
    """Write ``source`` with a PAdES B-B signature added (an incremental update) to ``target``.

    The signature names ``signer`` and ``reason``; ``target`` is replaced atomically. pyHanko
    runs its own event loop, so call this from a thread, never from a coroutine.
    """
    outside_event_loop("seal_pdf")
    metadata = PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=signer.name,
        contact_info=signer.email,
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


def format_utc(moment: dt.datetime) -> str:
    """``2026-11-23 14:05:09 UTC``: the one way times appear in evidence meant for people."""
    if moment.tzinfo is None:
        raise ValueError("evidence times must be timezone-aware")
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class CertificateDocumentRow(_Row):
    title: str
    name: str
    draft_sha256: str
    pdf_sha256: str


class AuditRow(_Row):
    at: str
    event: str
    actor: str
    detail: str
    ip: str
    user_agent: str


class CertificateContext(BaseModel):
    """What the certificate of completion template shows (``doc_templates.build_certificate``)."""

    model_config = ConfigDict(frozen=True)

    organisation_name: str
    document_title: str = "Certificate of Completion"
    classification: str = CLASSIFICATION
    cycle_id: str
    version: str
    signer_name: str
    signer_title: str
    signer_email: str
    signed_at: str
    ip: str
    user_agent: str
    consent_text: str
    documents: list[CertificateDocumentRow]
    audit_trail: list[AuditRow]
    seal_subject: str
    seal_fingerprint: str


def audit_trail_with_signature(data: SignDocumentsInput) -> list[AuditEvent]:
    """The given audit trail in time order, with the signature itself if the caller left it out."""
    events = list(data.audit_trail)
    if not any(event.event == "signed" for event in events):
        events.append(
            AuditEvent(
                at=data.signed_at,
                event="signed",
                actor=data.signer.email,
                detail=f"Typed name {data.signer.name!r}; consent given",
                ip=data.ip,
                user_agent=data.user_agent,
            )
        )
    return sorted(events, key=lambda event: event.at)


def build_certificate_context(
    *,
    data: SignDocumentsInput,
    organisation: str,
    documents: list[CertificateDocumentRow],
    audit_trail: list[AuditEvent],
    identity: SigningIdentity,
) -> CertificateContext:
    return CertificateContext(
        organisation_name=organisation,
        cycle_id=data.cycle_id,
        version=data.version,
        signer_name=data.signer.name,
        signer_title=data.signer.title,
        signer_email=data.signer.email,
        signed_at=format_utc(data.signed_at),
        ip=data.ip or NONE_TEXT,
        user_agent=data.user_agent or NONE_TEXT,
        consent_text=data.consent_text,
        documents=documents,
        audit_trail=[
            AuditRow(
                at=format_utc(event.at),
                event=event.event,
                actor=event.actor,
                detail=event.detail or NONE_TEXT,
                ip=event.ip or NONE_TEXT,
                user_agent=event.user_agent or NONE_TEXT,
            )
            for event in audit_trail
        ],
        seal_subject=identity.subject,
        seal_fingerprint=identity.fingerprint,
    )


# --------------------------------------------------------------------------------------------
# Evidence


class _Stamped(BaseModel):
    name: str
    title: str
    draft_sha256: str  # what the signer was shown
    signature_line: str
    docx: StoredObject
    pdf: StoredObject


class _Seal(BaseModel):
    subject: str
    certificate_sha256: str
    certificate_pem: str
    self_signed: bool
    sealed_at: dt.datetime


class SigningEvidence(BaseModel):
    """``evidence.json``: every fact of one signature, and the objects it produced."""

    format: Literal["isms-cycle/signing-evidence/v1"] = EVIDENCE_FORMAT
    cycle_id: str
    organisation: str
    version: str
    signer: Signer
    signed_at: dt.datetime
    consent_text: str
    ip: str | None
    user_agent: str | None
    shown_documents: dict[str, str]
    documents: list[_Stamped]
    certificate: StoredObject
    audit_trail: list[AuditEvent]
    seal: _Seal

    def result(self, evidence: StoredObject) -> SignDocumentsResult:
        return SignDocumentsResult(
            documents=[
                SignedDocument(name=d.name, draft_sha256=d.draft_sha256, docx=d.docx, pdf=d.pdf)
                for d in self.documents
            ],
            certificate=self.certificate,
            evidence=evidence,
        )


def signed_prefix(settings: Settings, *, cycle_id: str, version: str) -> str:
    return f"{settings.drafts_prefix}{cycle_id}/signed/v{version}/"


def signature_statement(signer: Signer, signed_at: dt.datetime, draft_sha256: str) -> str:
    """The line stamped into a document's approval block."""
    return (
        f"Signed electronically by {signer.name}, {signer.title}, on {format_utc(signed_at)} "
        f"(SHA-256 of the approved draft {draft_sha256[:16]}\u2026)"
    )


def _non_retryable(message: str, kind: str, *details: str) -> ApplicationError:
    return ApplicationError(message, *details, type=kind, non_retryable=True)


class SigningActivities:
    """Holds the S3 client, a warm PDF converter and the sealing identity; blocking work runs in threads."""

    def __init__(
        self,
        *,
        settings: Settings,
        s3: S3Client,
        converter: PdfConverter | PdfConverterPool,
        identity: SigningIdentity,
    ) -> None:
        self._settings = settings
        self._s3 = s3
        self._converter = converter
        self._identity = identity

    # -- inputs and S3 ----------------------------------------------------------------------

    def _load_inputs(
        self, data: SignDocumentsInput, workdir: Path
    ) -> tuple[OrganisationProfile, StaffDirectory]:
        try:
            profile_path = get_file(
                self._s3, data.profile, workdir / f"profile{Path(data.profile.key).suffix}"
            )
            staff_path = get_file(self._s3, data.staff, workdir / "staff.csv")
        except IntegrityError as exc:
            raise _non_retryable(str(exc), INTEGRITY) from exc
        try:
            return load_profile(profile_path), load_staff(staff_path)
        except UnreadableInputError as exc:
            raise _non_retryable(str(exc), UNREADABLE_INPUT, *(str(p) for p in exc.problems)) from exc

    def _check_request(self, data: SignDocumentsInput, profile: OrganisationProfile) -> None:
        if profile.policy.version != data.version:
            raise _non_retryable(
                f"the profile is at version {profile.policy.version}, "
                f"the signature is for version {data.version}",
                VERSION_MISMATCH,
            )
        naive = [e.event for e in data.audit_trail if e.at.tzinfo is None]
        if data.signed_at.tzinfo is None or naive:
            raise _non_retryable(
                "evidence times must be timezone-aware (UTC): "
                + ", ".join((["signed_at"] if data.signed_at.tzinfo is None else []) + naive),
                UNREADABLE_INPUT,
            )
        # the stamped documents cannot equal the drafts byte for byte (the stamp is the change);
        # what must hold is that the signer was shown exactly these documents
        shown = set(data.shown_documents)
        if shown != set(DOCUMENT_NAMES):
            raise _non_retryable(
                f"the signer was shown {sorted(shown)}, expected exactly {list(DOCUMENT_NAMES)}",
                SHOWN_DOCUMENTS_MISMATCH,
            )
        malformed = [
            name
            for name, digest in data.shown_documents.items()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)
        ]
        if malformed:
            raise _non_retryable(
                f"not a lowercase hex SHA-256 for {', '.join(sorted(malformed))}", SHOWN_DOCUMENTS_MISMATCH
            )

    def _upload(self, prefix: str, path: Path) -> StoredObject:
        return put_file(
            self._s3,
            bucket=self._settings.drafts_bucket,
            key=f"{prefix}{path.name}",
            path=path,
            content_type=content_type(path),
        )

    def _stored_evidence(self, data: SignDocumentsInput, key: str) -> SignDocumentsResult | None:
        """The result of an earlier attempt that finished, read back from its ``evidence.json``."""
        bucket = self._settings.drafts_bucket
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        try:
            evidence = SigningEvidence.model_validate_json(body)
        except ValueError as exc:
            raise _non_retryable(f"s3://{bucket}/{key} is not signing evidence: {exc}", INTEGRITY) from exc
        if (
            evidence.signer != data.signer
            or evidence.signed_at != data.signed_at
            or evidence.shown_documents != data.shown_documents
        ):
            raise _non_retryable(
                f"version {data.version} of {data.cycle_id} was already signed by {evidence.signer.email} "
                f"at {format_utc(evidence.signed_at)}",
                ALREADY_SIGNED,
            )
        for stored in [
            *(d.docx for d in evidence.documents),
            *(d.pdf for d in evidence.documents),
            evidence.certificate,
        ]:
            head = self._s3.head_object(Bucket=stored.bucket, Key=stored.key)
            if head.get("Metadata", {}).get("sha256") != stored.sha256:
                raise _non_retryable(
                    f"s3://{stored.bucket}/{stored.key} no longer holds what {key} records", INTEGRITY
                )
        reference = StoredObject(
            bucket=bucket,
            key=key,
            sha256=sha256_bytes(body),
            size=len(body),
            content_type=content_type(Path(EVIDENCE_NAME)),
        )
        return evidence.result(reference)

    # -- the work ---------------------------------------------------------------------------

    def _convert(self, source: Path, target: Path) -> Path:
        try:
            return self._converter.convert(source, target)
        except PdfConversionError as exc:
            raise _non_retryable(str(exc), PDF_CONVERSION) from exc

    def _seal_and_check(self, source: Path, target: Path, *, signer: Signer, reason: str) -> Path:
        try:
            seal_pdf(source, target, self._identity, signer=signer, reason=reason)
        except SealingError as exc:
            raise _non_retryable(str(exc), SEALING_FAILED) from exc
        check = verify_pdf_signature(target, trust=[self._identity.certificate])
        if not check.valid:
            raise _non_retryable(f"the seal on {target.name} does not verify: {check.detail}", SEALING_FAILED)
        return target

    def _sign(self, data: SignDocumentsInput) -> SignDocumentsResult:
        prefix = signed_prefix(self._settings, cycle_id=data.cycle_id, version=data.version)
        evidence_key = f"{prefix}{EVIDENCE_NAME}"
        done = self._stored_evidence(data, evidence_key)
        if done is not None:
            activity.logger.info("%s already exists: returning the stored result", evidence_key)
            return done

        with tempfile.TemporaryDirectory(prefix="isms-sign-") as temporary:
            workdir = Path(temporary)
            profile, staff = self._load_inputs(data, workdir / "inputs")
            self._check_request(data, profile)
            out = workdir / "signed"
            out.mkdir()
            titles = {POLICY_OUTPUT: profile.policy.title, ROLES_OUTPUT: "ISMS Roles and Responsibilities"}
            approval_date = data.signed_at.astimezone(dt.UTC).date()
            reason = f"Approved version {data.version} ({data.cycle_id})"

            stamped: list[tuple[str, str, Path, Path]] = []
            for name in DOCUMENT_NAMES:
                line = signature_statement(data.signer, data.signed_at, data.shown_documents[name])
                # each document carries the hash of its own draft, so each is rendered on its own
                rendered = render_documents(
                    profile,
                    staff,
                    workdir / f"render-{Path(name).stem}",
                    signature_line=line,
                    approval_date=approval_date,
                )
                docx = next(document.path for document in rendered if document.name == name)
                final_docx = docx.replace(out / name)
                pdf = self._convert(final_docx, workdir / f"{Path(name).stem}.unsealed.pdf")
                sealed = self._seal_and_check(
                    pdf, out / f"{Path(name).stem}.pdf", signer=data.signer, reason=reason
                )
                stamped.append((name, line, final_docx, sealed))
                activity.heartbeat(f"sealed {name}")

            audit_trail = audit_trail_with_signature(data)
            context = build_certificate_context(
                data=data,
                organisation=profile.organisation.name,
                documents=[
                    CertificateDocumentRow(
                        title=titles[name],
                        name=name,
                        draft_sha256=data.shown_documents[name],
                        pdf_sha256=sha256_file(sealed),
                    )
                    for name, _, _, sealed in stamped
                ],
                audit_trail=audit_trail,
                identity=self._identity,
            )
            certificate_docx = render_docx(
                CERTIFICATE_TEMPLATE, context, workdir / f"{CERTIFICATE_NAME}.docx"
            )
            certificate_pdf = self._convert(certificate_docx, workdir / f"{CERTIFICATE_NAME}.unsealed.pdf")
            sealed_certificate = self._seal_and_check(
                certificate_pdf,
                out / f"{CERTIFICATE_NAME}.pdf",
                signer=data.signer,
                reason=f"Certificate of completion: {reason}",
            )
            activity.heartbeat("sealed the certificate")

            documents = [
                _Stamped(
                    name=name,
                    title=titles[name],
                    draft_sha256=data.shown_documents[name],
                    signature_line=line,
                    docx=self._upload(prefix, docx),
                    pdf=self._upload(prefix, sealed),
                )
                for name, line, docx, sealed in stamped
            ]
            evidence = SigningEvidence(
                cycle_id=data.cycle_id,
                organisation=profile.organisation.name,
                version=data.version,
                signer=data.signer,
                signed_at=data.signed_at,
                consent_text=data.consent_text,
                ip=data.ip,
                user_agent=data.user_agent,
                shown_documents=data.shown_documents,
                documents=documents,
                certificate=self._upload(prefix, sealed_certificate),
                audit_trail=audit_trail,
                seal=_Seal(
                    subject=self._identity.subject,
                    certificate_sha256=self._identity.fingerprint,
                    certificate_pem=self._identity.certificate_pem(),
                    self_signed=self._identity.self_signed,
                    sealed_at=dt.datetime.now(dt.UTC),
                ),
            )
            evidence_path = out / EVIDENCE_NAME
            evidence_path.write_text(json.dumps(evidence.model_dump(mode="json"), indent=2) + "\n")
            # last: an evidence.json in the bucket means every object it names is there
            stored_evidence = self._upload(prefix, evidence_path)
        return evidence.result(stored_evidence)

    @activity.defn
    def sign_documents(self, data: SignDocumentsInput) -> SignDocumentsResult:
        """Stamp, convert, seal and certify one approved version; store it all beside the drafts.

        Returns the stored result if an earlier attempt finished (its ``evidence.json`` exists).
        Raises non-retryable errors for unreadable or tampered inputs, a version or set of shown
        documents that does not match, a version already signed by someone else, and a PDF
        that cannot be converted or sealed; S3 and LibreOffice start-up problems retry.
        """
        return self._sign(data)
