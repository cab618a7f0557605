"""Document activities: check the profile against Clause 5, render every document, convert, store.

Inputs and outputs are references to the drafts bucket, never document bytes: the profile, the
staff directory and the files the profile's documents section names (``document_files``, by
document id, each with the SHA-256 recorded at the start). Rendering is deterministic, so a
retried render stores the same .docx under the same key. The render itself is
:func:`documents.pipeline.render_cycle`, the same one ``isms docs render`` runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.inputs import load_document_files, load_stored_inputs
from adapters.drafts import content_type, draft_key
from adapters.previous_render import fetch_previous_render_manifest, previous_render_facts
from adapters.s3 import get_file, put_file
from core.clause5 import blocking, check_profile
from core.contract import Failure
from core.hashing import sha256_file
from core.routing import cycle_routing
from core.settings import Settings
from documents.pdf_convert import PdfConversionError, PdfConverter, PdfConverterPool
from documents.pipeline import DocumentError, Step, render_cycle
from models.cycle import cycle_year
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

    def _check(self, data: CheckDocumentsInput) -> CheckDocumentsResult:
        with tempfile.TemporaryDirectory(prefix="isms-check-") as temporary:
            workdir = Path(temporary)
            profile, staff = load_stored_inputs(self._s3, data.profile, data.staff, workdir)
            load_document_files(self._s3, profile, data.document_files, workdir / "documents")
        # holders who left or moved since the last signed version (Clause 5.3 checklist row 8)
        previous = previous_render_facts(
            self._s3, self._settings.archive_bucket, profile.organisation.short_name, data.as_of.year
        )
        findings = check_profile(profile, staff, today=data.as_of, previous=previous)
        return CheckDocumentsResult(
            organisation=profile.organisation.name,
            version=profile.policy.version,
            findings=findings,
            blocking=blocking(findings),
            routing=cycle_routing(profile, staff),
        )

    @activity.defn
    def check_documents(self, data: CheckDocumentsInput) -> CheckDocumentsResult:
        """Run the Clause 5 checks on the stored profile and directory; findings are data, not errors.

        The profile's document files are fetched and checked too: a tampered or missing one is a
        non-retryable error, not a finding.
        """
        return self._check(data)

    def _store(self, *, cycle_id: str, sha256: str, path: Path) -> StoredObject:
        key = draft_key(self._settings, cycle_id=cycle_id, sha256=sha256, name=path.name)
        return put_file(
            self._s3, bucket=self._settings.drafts_bucket, key=key, path=path, content_type=content_type(path)
        )

    def _previous(
        self, data: RenderDocumentsInput, profile: OrganisationProfile, folder: Path
    ) -> Path | None:
        """A folder holding the previous version's render manifest, or None for a first version.

        The input's manifest when it names one (``isms cycle start --previous-manifest``); else the
        one archived with the organisation's last version signed in an earlier year, so that a
        cycle the yearly Schedule starts is compared with last year's just as one started by hand.
        """
        target = folder / MANIFEST_NAME
        if data.previous_manifest is not None:
            get_file(self._s3, data.previous_manifest, target)
            return folder
        organisation = profile.organisation.short_name
        year = cycle_year(data.cycle_id, organisation) or data.as_of.year
        bucket = self._settings.archive_bucket
        source = fetch_previous_render_manifest(self._s3, bucket, organisation, year, target)
        if source is None:
            return None
        activity.logger.info("%s: the change summary is against %s", data.cycle_id, source)
        return folder

    def _render(self, data: RenderDocumentsInput) -> RenderDocumentsResult:
        with tempfile.TemporaryDirectory(prefix="isms-render-") as temporary:
            workdir = Path(temporary)
            profile, staff = load_stored_inputs(self._s3, data.profile, data.staff, workdir / "inputs")
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
            sources = load_document_files(self._s3, profile, data.document_files, workdir / "documents")
            previous_dir = self._previous(data, profile, workdir / "previous")

            def heartbeat(step: Step, name: str) -> None:
                if step != "converting":
                    activity.heartbeat(f"{step} {name}".strip())

            try:
                made = render_cycle(
                    profile,
                    staff,
                    workdir / "out",
                    sources=sources,
                    signature_line=data.signature_line,
                    converter=self._converter,
                    previous_dir=previous_dir,
                    # paths in the stored manifest are names in the draft folder, not this temp dir
                    names_in_manifest=True,
                    progress=heartbeat,
                )
            except DocumentError as exc:
                raise ApplicationError(str(exc), type=UNREADABLE_INPUT, non_retryable=True) from exc
            except PdfConversionError as exc:
                raise ApplicationError(str(exc), type=PDF_CONVERSION, non_retryable=True) from exc
            entries = {entry.id: entry for entry in profile.cycle_documents()}
            documents: list[DraftDocument] = []
            for document in made.documents:
                entry = entries[document.id]
                pdf_path = document.pdf_path or document.path.with_suffix(".pdf")  # a converter was given
                static_pdf = document.path.suffix == ".pdf"  # its own PDF, no .docx
                documents.append(
                    DraftDocument(
                        name=document.name,
                        version=document.version,
                        template_sha256=document.template_sha256,
                        docx=None
                        if static_pdf
                        else self._store(cycle_id=data.cycle_id, sha256=document.sha256, path=document.path),
                        pdf=self._store(cycle_id=data.cycle_id, sha256=document.sha256, path=pdf_path),
                        title=document.title,
                        kind=document.kind,
                        audience=entry.audience,
                        signs=entry.signs,
                        acknowledges=entry.acknowledges,
                        questions=entry.questions,
                    )
                )
            stored_manifest = self._store(
                cycle_id=data.cycle_id, sha256=sha256_file(made.manifest_path), path=made.manifest_path
            )
        changes = made.manifest.changes
        return RenderDocumentsResult(
            documents=documents, manifest=stored_manifest, change_lines=changes.lines() if changes else []
        )

    @activity.defn
    def render_documents(self, data: RenderDocumentsInput) -> RenderDocumentsResult:
        """Check, make every document (render or copy), convert each .docx to PDF, store it all.

        Without a previous manifest in the input, the change summary is made against the render
        manifest archived with the organisation's last version signed in an earlier year.
        Raises non-retryable errors for unreadable inputs (a document file missing from
        ``document_files``, not the pinned one, or a template that does not render), Clause 5
        errors, a tampered input and a document LibreOffice cannot convert; S3 and LibreOffice
        start-up problems retry.
        """
        return self._render(data)
