"""The signing activity: turn one approval into sealed evidence beside the drafts.

Under ``<drafts prefix><cycle id>/signed/v<version>/``: every document of the profile as its
.docx (stamped, if generated; none for a static PDF) and a sealed PDF, a sealed certificate of
completion and ``evidence.json`` (written last: its presence means the rest is complete). The
work itself is :func:`documents.signed_version.seal_version` (with :mod:`documents.signing_identity`,
:mod:`documents.sealing` and :mod:`documents.certificate`); this module fetches the inputs,
calls it and stores the result.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.documents import INTEGRITY, PDF_CONVERSION, UNREADABLE_INPUT
from activities.inputs import load_document_files, load_stored_inputs
from adapters.drafts import content_type
from adapters.s3 import put_file, read_object
from core.contract import Failure
from core.hashing import sha256_bytes
from core.settings import Settings
from documents.certificate import SigningRequestError, build_signing_evidence, format_utc
from documents.pdf_convert import PdfConversionError, PdfConverter, PdfConverterPool
from documents.pipeline import DocumentError
from documents.sealing import SealingError
from documents.signed_version import seal_version
from documents.signing_identity import SigningIdentity
from models.signing import (
    EVIDENCE_NAME,
    SignDocumentsInput,
    SignDocumentsResult,
    SigningEvidence,
    StampedDocument,
)
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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
_REQUEST_ERRORS = {
    "version": VERSION_MISMATCH,
    "times": UNREADABLE_INPUT,
    "shown_documents": SHOWN_DOCUMENTS_MISMATCH,
}


def signed_prefix(settings: Settings, *, cycle_id: str, version: str) -> str:
    return f"{settings.drafts_prefix}{cycle_id}/signed/v{version}/"


def _refuse(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


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

    def _upload(self, prefix: str, path: Path) -> StoredObject:
        bucket, key = self._settings.drafts_bucket, f"{prefix}{path.name}"
        return put_file(self._s3, bucket=bucket, key=key, path=path, content_type=content_type(path))

    def _stored_evidence(self, data: SignDocumentsInput, key: str) -> SignDocumentsResult | None:
        """The result of an earlier attempt that finished, read back from its ``evidence.json``."""
        bucket = self._settings.drafts_bucket
        body = read_object(self._s3, bucket, key)
        if body is None:
            return None
        try:
            evidence = SigningEvidence.model_validate_json(body)
        except ValueError as exc:
            raise _refuse(f"s3://{bucket}/{key} is not signing evidence: {exc}", INTEGRITY) from exc
        if (evidence.signer, evidence.signed_at, evidence.shown_documents) != (
            data.signer,
            data.signed_at,
            data.shown_documents,
        ):
            raise _refuse(
                f"version {data.version} of {data.cycle_id} was already signed by {evidence.signer.email} "
                f"at {format_utc(evidence.signed_at)}",
                ALREADY_SIGNED,
            )
        stored = [*(d.docx for d in evidence.documents if d.docx), *(d.pdf for d in evidence.documents)]
        for item in [*stored, evidence.certificate]:
            head = self._s3.head_object(Bucket=item.bucket, Key=item.key)
            if head.get("Metadata", {}).get("sha256") != item.sha256:
                raise _refuse(f"s3://{item.bucket}/{item.key} no longer holds what {key} records", INTEGRITY)
        reference = StoredObject(
            bucket=bucket,
            key=key,
            sha256=sha256_bytes(body),
            size=len(body),
            content_type=content_type(Path(EVIDENCE_NAME)),
        )
        return evidence.result(reference)

    def _sign(self, data: SignDocumentsInput) -> SignDocumentsResult:
        prefix = signed_prefix(self._settings, cycle_id=data.cycle_id, version=data.version)
        evidence_key = f"{prefix}{EVIDENCE_NAME}"
        done = self._stored_evidence(data, evidence_key)
        if done is not None:
            activity.logger.info("%s already exists: returning the stored result", evidence_key)
            return done

        with tempfile.TemporaryDirectory(prefix="isms-sign-") as temporary:
            workdir = Path(temporary)
            profile, staff = load_stored_inputs(self._s3, data.profile, data.staff, workdir / "inputs")
            sources = load_document_files(self._s3, profile, data.document_files, workdir / "documents")
            try:
                sealed = seal_version(
                    data,
                    profile,
                    staff,
                    workdir / "signed",
                    converter=self._converter,
                    identity=self._identity,
                    sources=sources,
                    progress=activity.heartbeat,
                )
            except SigningRequestError as exc:
                raise _refuse(str(exc), _REQUEST_ERRORS[exc.problem]) from exc
            except DocumentError as exc:
                raise _refuse(str(exc), UNREADABLE_INPUT) from exc
            except PdfConversionError as exc:
                raise _refuse(str(exc), PDF_CONVERSION) from exc
            except SealingError as exc:
                raise _refuse(str(exc), SEALING_FAILED) from exc

            evidence = build_signing_evidence(
                data,
                organisation=profile.organisation.name,
                documents=[
                    StampedDocument(
                        name=document.name,
                        title=document.title,
                        draft_sha256=data.shown_documents[document.name],
                        signature_line=document.signature_line,
                        docx=self._upload(prefix, document.docx) if document.docx else None,
                        pdf=self._upload(prefix, document.pdf),
                        version=document.version,
                        kind=document.kind,
                        signed=document.signed,
                    )
                    for document in sealed.documents
                ],
                certificate=self._upload(prefix, sealed.certificate),
                audit_trail=sealed.audit_trail,
                identity=self._identity,
                sealed_at=dt.datetime.now(dt.UTC),
            )
            evidence_path = workdir / EVIDENCE_NAME
            evidence_path.write_text(json.dumps(evidence.model_dump(mode="json"), indent=2) + "\n")
            # last: an evidence.json in the bucket means every object it names is there
            stored_evidence = self._upload(prefix, evidence_path)
        return evidence.result(stored_evidence)

    @activity.defn
    def sign_documents(self, data: SignDocumentsInput) -> SignDocumentsResult:
        """Stamp, convert, seal and certify one approved version; store it all beside the drafts.

        Every document of the profile: its own files come from ``document_files``. Returns the
        stored result if an earlier attempt finished (its ``evidence.json`` exists). Raises
        non-retryable errors for unreadable or tampered inputs (the profile, the directory, a
        document file), a version or set of shown documents that does not match, a version
        already signed by someone else, and a PDF that cannot be converted or sealed; S3 and
        LibreOffice start-up problems retry.
        """
        return self._sign(data)
