"""Document activities: check the profile against Clause 5, render both documents, convert, store.

Inputs and outputs are references to the drafts bucket, never document bytes. Rendering is
deterministic, so a retried render stores the same .docx under the same key.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.drafts import content_type, draft_key
from adapters.s3 import IntegrityError, get_file, put_file
from core.clause5 import blocking, check_profile
from core.contract import Failure
from core.hashing import sha256_file
from core.profile_io import UnreadableInputError, load_profile, load_staff
from core.routing import cycle_routing
from core.settings import Settings
from documents.changes import build_manifest, write_manifest
from documents.pdf_convert import PdfConversionError, PdfConverter, PdfConverterPool
from documents.render import render_documents
from models.documents import (
    MANIFEST_NAME,
    CheckDocumentsInput,
    CheckDocumentsResult,
    DraftDocument,
    RenderDocumentsInput,
    RenderDocumentsResult,
)
from models.findings import Severity
from models.profile import OrganisationProfile
from models.staff import StaffDirectory
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Error types a workflow can name in its retry policy: retrying cannot fix any of them.
UNREADABLE_INPUT = Failure.UNREADABLE_INPUT
CLAUSE5_ERRORS = Failure.CLAUSE5_ERRORS
INTEGRITY = Failure.INTEGRITY
PDF_CONVERSION = Failure.PDF_CONVERSION
# what each activity raises that retrying cannot fix (the workflows' retry policies name them)
CHECK_DOCUMENTS_NON_RETRYABLE: list[str] = [UNREADABLE_INPUT, INTEGRITY]
RENDER_DOCUMENTS_NON_RETRYABLE: list[str] = [UNREADABLE_INPUT, CLAUSE5_ERRORS, INTEGRITY, PDF_CONVERSION]


class DocumentActivities:
    """Holds the S3 client and a warm PDF converter; blocking work runs in threads."""

    def __init__(
        self, *, settings: Settings, s3: S3Client, converter: PdfConverter | PdfConverterPool
    ) -> None:
        self._settings = settings
        self._s3 = s3
        self._converter = converter

    def _load_inputs(
        self, profile: StoredObject, staff: StoredObject, workdir: Path
    ) -> tuple[OrganisationProfile, StaffDirectory]:
        try:
            profile_path = get_file(self._s3, profile, workdir / f"profile{Path(profile.key).suffix}")
            staff_path = get_file(self._s3, staff, workdir / "staff.csv")
        except IntegrityError as exc:
            raise ApplicationError(str(exc), type=INTEGRITY, non_retryable=True) from exc
        try:
            return load_profile(profile_path), load_staff(staff_path)
        except UnreadableInputError as exc:
            raise ApplicationError(
                str(exc), [str(p) for p in exc.problems], type=UNREADABLE_INPUT, non_retryable=True
            ) from exc

    def _check(self, data: CheckDocumentsInput) -> CheckDocumentsResult:
        with tempfile.TemporaryDirectory(prefix="isms-check-") as workdir:
            profile, staff = self._load_inputs(data.profile, data.staff, Path(workdir))
        findings = check_profile(profile, staff, today=data.as_of)
        return CheckDocumentsResult(
            organisation=profile.organisation.name,
            version=profile.policy.version,
            findings=findings,
            blocking=blocking(findings),
            routing=cycle_routing(profile, staff),
        )

    @activity.defn
    def check_documents(self, data: CheckDocumentsInput) -> CheckDocumentsResult:
        """Run the Clause 5 checks on the stored profile and directory; findings are data, not errors."""
        return self._check(data)

    def _store(self, *, cycle_id: str, sha256: str, path: Path) -> StoredObject:
        key = draft_key(self._settings, cycle_id=cycle_id, sha256=sha256, name=path.name)
        return put_file(
            self._s3, bucket=self._settings.drafts_bucket, key=key, path=path, content_type=content_type(path)
        )

    def _render(self, data: RenderDocumentsInput) -> RenderDocumentsResult:
        with tempfile.TemporaryDirectory(prefix="isms-render-") as temporary:
            workdir = Path(temporary)
            profile, staff = self._load_inputs(data.profile, data.staff, workdir / "inputs")
            findings = check_profile(profile, staff, today=data.as_of)
            if blocking(findings):
                errors = [
                    f"{f.rule} at {f.where}: {f.message}" for f in findings if f.severity is Severity.ERROR
                ]
                raise ApplicationError(
                    f"{len(errors)} Clause 5 error(s) block signature",
                    errors,
                    type=CLAUSE5_ERRORS,
                    non_retryable=True,
                )
            out = workdir / "out"
            rendered = render_documents(profile, staff, out, signature_line=data.signature_line)
            activity.heartbeat("rendered")
            previous_dir = None
            if data.previous_manifest is not None:
                previous_dir = workdir / "previous"
                get_file(self._s3, data.previous_manifest, previous_dir / MANIFEST_NAME)
            documents: list[DraftDocument] = []
            stored_rendered = []
            for document in rendered:
                pdf_path = document.path.with_suffix(".pdf")
                try:
                    self._converter.convert(document.path, pdf_path)
                except PdfConversionError as exc:
                    raise ApplicationError(str(exc), type=PDF_CONVERSION, non_retryable=True) from exc
                activity.heartbeat(f"converted {document.name}")
                docx = self._store(cycle_id=data.cycle_id, sha256=document.sha256, path=document.path)
                pdf = self._store(cycle_id=data.cycle_id, sha256=document.sha256, path=pdf_path)
                documents.append(
                    DraftDocument(
                        name=document.name,
                        version=document.version,
                        template_sha256=document.template_sha256,
                        docx=docx,
                        pdf=pdf,
                    )
                )
                stored_rendered.append(
                    document.model_copy(update={"pdf_path": pdf_path, "pdf_sha256": pdf.sha256})
                )
            manifest = build_manifest(profile, staff, stored_rendered, previous_dir=previous_dir)
            # paths in the stored manifest are names in the draft folder, not this worker's temp dir
            manifest = manifest.model_copy(
                update={
                    "documents": [
                        d.model_copy(
                            update={
                                "path": Path(d.path.name),
                                "pdf_path": Path(d.path.with_suffix(".pdf").name),
                            }
                        )
                        for d in manifest.documents
                    ]
                }
            )
            manifest_path = write_manifest(out, manifest)
            stored_manifest = self._store(
                cycle_id=data.cycle_id, sha256=sha256_file(manifest_path), path=manifest_path
            )
        return RenderDocumentsResult(
            documents=documents,
            manifest=stored_manifest,
            change_lines=manifest.changes.lines() if manifest.changes else [],
        )

    @activity.defn
    def render_documents(self, data: RenderDocumentsInput) -> RenderDocumentsResult:
        """Check, render both .docx, convert each to PDF, and store all of it in the drafts bucket.

        Raises non-retryable errors for unreadable inputs, Clause 5 errors, a tampered input
        and a document LibreOffice cannot convert; S3 and LibreOffice start-up problems retry.
        """
        return self._render(data)
