"""Archive a cycle's evidence from the drafts bucket into the Object Lock bucket, manifest last.

Called by AnnualReviewWorkflow after the CEO signs (in a folder per document of the version,
those the CEO does not sign included: its signed .docx, none for a static PDF, its sealed PDF,
the certificate of completion, evidence.json and the seal certificate; the manifest's facts
list every document with its title, version and hashes; and the Clause 5 check report of the
version, ``clause5-check/v<version>/report.{json,html}``, made here from the version's profile
and staff directory; and, when the profile publishes one, the public policy statement,
``public-statement/v<version>/statement.html`` built here, or ``statement.pdf``, the organisation's
own, with the URL it is published at and its SHA-256 in the facts) and after the campaign closes
(the register and the report). If the ISMS lead placed a legal hold on the cycle, the new
versions are held as well.

Each manifest takes its place in the cycle's chain (the workflow says where: ``ArchiveInput.chain``)
and the first archiving of a seal certificate for an organisation pins it
(``<org>/seal-certificate.json``); a later year with another certificate is still archived (the
evidence is kept) and logged, and the auditor's verify FAILs it.

With a timestamp authority configured (``ISMS_TSA_URL``), each manifest gets an RFC 3161
timestamp over its bytes, archived beside it as ``manifests/<stage>.json.tsr``, and the
authority's certificates are archived once per year as ``tsa-certificates.pem`` (another
chain later in the year: ``tsa-certificates-<sha256 prefix>.pem``).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.inputs import load_stored_inputs
from adapters.archive import (
    ArchiveConflictError,
    add_years,
    archive_bytes,
    archive_key,
    certificate_fingerprint,
    describe_version,
    list_versions_oldest_first,
    manifest_bytes,
    pin_seal_certificate,
)
from adapters.audit_access import apply_legal_hold, legal_hold_marked
from adapters.previous_render import previous_render_facts
from adapters.s3 import IntegrityError, get_file
from core.clause5 import check_report
from core.contract import Failure
from core.hashing import sha256_bytes
from core.profile_io import UnreadableInputError, load_profile
from core.public_statement import statement_context, statement_html, statement_url
from core.settings import Settings
from core.timestamp_check import MANIFEST_TIMESTAMP_SUFFIX, TSA_CERTIFICATES_FILE
from documents.check_report import check_report_html, check_report_json
from documents.timestamps import timestamp_authority
from models.archive import (
    CHAINED_MANIFEST_FORMAT,
    MANIFEST_FORMAT,
    PUBLIC_STATEMENT_FOLDER,
    PUBLIC_STATEMENT_PATH,
    PUBLIC_STATEMENT_STEM,
    SEAL_CERTIFICATE_FILE,
    ArchivedObject,
    ArchiveInput,
    ArchiveManifest,
    ArchiveResult,
    ManifestChain,
    ManifestFacts,
    ManifestLink,
    manifest_name,
)
from models.check_report import CHECK_REPORT_FOLDER

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ARCHIVE_CONFLICT = Failure.ARCHIVE_CONFLICT
# what archive_objects raises that retrying cannot fix (the workflows' retry policies name them)
ARCHIVE_OBJECTS_NON_RETRYABLE: list[str] = [ARCHIVE_CONFLICT, Failure.INTEGRITY, Failure.NO_SEAL_CERTIFICATE]


def document_gaps(data: ArchiveInput) -> list[str]:
    """The documents the manifest's facts list whose files are not among the items (or differ)."""
    items = {item.name: item.source.sha256 for item in data.items}
    gaps: list[str] = []
    for facts in data.facts.document_facts:
        folder = f"{facts.id}/v{data.facts.version}"
        wanted = {f"{folder}/document.pdf": facts.pdf_sha256}
        if facts.docx_sha256 is not None:
            wanted[f"{folder}/document.docx"] = facts.docx_sha256
        if facts.shown_file is not None and facts.shown_sha256 is not None:
            wanted[f"{folder}/{facts.shown_file}"] = facts.shown_sha256
        for name, sha256 in wanted.items():
            if items.get(name) != sha256:
                gaps.append(f"{name}: {'not among the items' if name not in items else 'another SHA-256'}")
    return gaps


def manifest_chain(data: ArchiveInput) -> ManifestChain | None:
    """The manifest's place in its cycle's chain, as the workflow asked (None: unchained)."""
    if data.chain is None:
        return None
    previous = data.chain.previous
    return ManifestChain(
        cycle_id=data.cycle_id,
        position=data.chain.position,
        previous=None
        if previous is None
        else ManifestLink(key=previous.key, version_id=previous.version_id, sha256=previous.sha256),
        next_key=None
        if data.chain.next_stage is None
        else archive_key(data.organisation, data.year, manifest_name(data.chain.next_stage)),
    )


def public_statement_facts(facts: ManifestFacts, statement: ArchivedObject, url: str) -> ManifestFacts:
    """The manifest's facts with where the statement is published and the SHA-256 of what is."""
    return facts.model_copy(update={"public_statement_url": url, "public_statement_sha256": statement.sha256})


class ArchiveActivities:
    def __init__(self, *, settings: Settings, s3: S3Client, seal_certificate_pem: str | None = None) -> None:
        self._settings = settings
        self._s3 = s3
        self._seal_certificate = seal_certificate_pem.encode() if seal_certificate_pem else None
        self._timestamps = timestamp_authority(settings)

    def _put(
        self, data: ArchiveInput, name: str, body: bytes, content_type: str, until: datetime
    ) -> ArchivedObject:
        return archive_bytes(
            self._s3,
            bucket=self._settings.archive_bucket,
            key=archive_key(data.organisation, data.year, name),
            body=body,
            content_type=content_type,
            retain_until=until,
        )

    @activity.defn
    def archive_objects(self, data: ArchiveInput) -> ArchiveResult:
        """Copy every item under retention (verified against its SHA-256), then the manifest.

        A retry writes nothing twice: items already archived are found by key and hash. The
        retention date is fixed by the attempt's day; items written by an earlier attempt keep
        theirs, and the manifest records each object's own date.
        """
        gaps = document_gaps(data)
        if gaps:  # the manifest would list documents it does not hold: write nothing
            raise ApplicationError(
                f"the documents listed for {data.stage} are not all archived: {'; '.join(gaps)}",
                type=Failure.INTEGRITY,
                non_retryable=True,
            )
        years = data.retention_years or self._settings.retention_years
        retain_until = add_years(datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0), years)
        archived: list[ArchivedObject] = []
        facts = data.facts
        try:
            with tempfile.TemporaryDirectory(prefix="isms-archive-") as folder:
                for number, item in enumerate(data.items):
                    local = get_file(self._s3, item.source, Path(folder) / f"{number}")  # checks SHA-256
                    body = local.read_bytes()
                    archived.append(self._put(data, item.name, body, item.source.content_type, retain_until))
                    activity.heartbeat(number)
                if data.check_report is not None:
                    archived += self._archive_check_report(data, Path(folder) / "check", retain_until)
                if data.public_statement is not None:
                    statement = self._archive_public_statement(data, Path(folder) / "statement", retain_until)
                    archived.append(statement)
                    facts = public_statement_facts(facts, statement, self._published_at())
            if data.seal_certificate_in and self._seal_certificate is None:
                raise ApplicationError(
                    "the worker has no seal certificate to archive",
                    type=Failure.NO_SEAL_CERTIFICATE,
                    non_retryable=True,
                )
            for folder_name in data.seal_certificate_in:
                assert self._seal_certificate is not None
                name = f"{folder_name}/{SEAL_CERTIFICATE_FILE}"
                archived.append(
                    self._put(data, name, self._seal_certificate, "application/x-pem-file", retain_until)
                )
            fingerprint = self._pin_seal_certificate(data, retain_until)
            chain = manifest_chain(data)
            manifest = ArchiveManifest(
                format=MANIFEST_FORMAT if chain is None else CHAINED_MANIFEST_FORMAT,
                chain=chain,
                seal_certificate_sha256=fingerprint,
                cycle_id=data.cycle_id,
                organisation=data.organisation,
                year=data.year,
                stage=data.stage,
                facts=facts,
                objects=archived,
            )
            body = manifest_bytes(manifest)
            written = self._put(data, manifest_name(data.stage), body, "application/json", retain_until)
            timestamps = self._timestamp_manifest(data, body, retain_until)
        except ArchiveConflictError as exc:
            raise ApplicationError(str(exc), type=ARCHIVE_CONFLICT, non_retryable=True) from exc
        held = legal_hold_marked(self._s3, self._settings, data.cycle_id)
        if held:  # the lead placed a hold on this cycle before these were written
            apply_legal_hold(
                self._s3, self._settings.archive_bucket, [*archived, written, *timestamps], on=True
            )
        activity.logger.info(
            "archived %d object(s) and the manifest for %s (%s)", len(archived), data.cycle_id, data.stage
        )
        return ArchiveResult(manifest=written, objects=archived, legal_hold=held)

    def _archive_check_report(
        self, data: ArchiveInput, folder: Path, until: datetime
    ) -> list[ArchivedObject]:
        """The version's Clause 5 check, made again from its stored inputs, as JSON and as a page.

        A pure function of the profile, the directory, the day of the check and the last signed
        version archived before this year (under retention: it does not change), so a retry writes
        the same bytes (found by key and hash) and the report says what the workflow saw, the
        holders who left or moved since that version included (checklist row 8).
        """
        request = data.check_report
        assert request is not None
        folder.mkdir()
        profile, staff = load_stored_inputs(self._s3, request.profile, request.staff, folder)
        previous = previous_render_facts(
            self._s3, self._settings.archive_bucket, profile.organisation.short_name, request.as_of.year
        )
        report = check_report(profile, staff, today=request.as_of, previous=previous)
        base = f"{CHECK_REPORT_FOLDER}/v{data.facts.version or report.version}"
        return [
            self._put(data, f"{base}/report.json", check_report_json(report), "application/json", until),
            self._put(
                data, f"{base}/report.html", check_report_html(report), "text/html; charset=utf-8", until
            ),
        ]

    def _published_at(self) -> str:
        return statement_url(str(self._settings.public_base_url), PUBLIC_STATEMENT_PATH)

    def _archive_public_statement(self, data: ArchiveInput, folder: Path, until: datetime) -> ArchivedObject:
        """The signed version's public statement: the organisation's PDF as stored at the start
        (its SHA-256 checked), or the page built from the version's profile (the same bytes on a retry)."""
        request = data.public_statement
        assert request is not None
        folder.mkdir()
        base = f"{PUBLIC_STATEMENT_FOLDER}/v{request.version}/{PUBLIC_STATEMENT_STEM}"
        try:
            if request.file is not None:
                body = get_file(self._s3, request.file, folder / "statement.pdf").read_bytes()
                return self._put(data, f"{base}.pdf", body, "application/pdf", until)
            profile_path = get_file(
                self._s3, request.profile, folder / f"profile{Path(request.profile.key).suffix}"
            )
        except IntegrityError as exc:
            raise ApplicationError(str(exc), type=Failure.INTEGRITY, non_retryable=True) from exc
        try:
            profile = load_profile(profile_path)
        except UnreadableInputError as exc:
            raise ApplicationError(
                str(exc), *(str(p) for p in exc.problems), type=Failure.UNREADABLE_INPUT, non_retryable=True
            ) from exc
        page = statement_html(statement_context(profile, request, url=self._published_at()))
        return self._put(data, f"{base}.html", page, "text/html; charset=utf-8", until)

    def _timestamp_manifest(
        self, data: ArchiveInput, body: bytes, retain_until: datetime
    ) -> list[ArchivedObject]:
        """The manifest's RFC 3161 timestamp and the authority's certificates, archived (none without one).

        A retry keeps the timestamp an earlier attempt archived (the manifest's bytes are the
        same; a second token would only differ in time). An unreachable authority is retried.
        """
        if self._timestamps is None:
            return []
        bucket = self._settings.archive_bucket
        key = archive_key(data.organisation, data.year, manifest_name(data.stage) + MANIFEST_TIMESTAMP_SUFFIX)
        earlier = list_versions_oldest_first(self._s3, bucket, key)
        if earlier:
            return [describe_version(self._s3, bucket, key, earlier[0])]
        response = self._timestamps.timestamp(body)
        chain = self._timestamps.certificates_pem(response)
        certificates = (
            self._put(data, TSA_CERTIFICATES_FILE, chain, "application/x-pem-file", retain_until)
            if not self._chain_differs(data, chain)
            else self._put(
                data,
                f"tsa-certificates-{sha256_bytes(chain)[:12]}.pem",
                chain,
                "application/x-pem-file",
                retain_until,
            )
        )
        stamp = self._put(
            data,
            manifest_name(data.stage) + MANIFEST_TIMESTAMP_SUFFIX,
            response,
            "application/timestamp-reply",
            retain_until,
        )
        return [stamp, certificates]

    def _chain_differs(self, data: ArchiveInput, chain: bytes) -> bool:
        """Whether this year's ``tsa-certificates.pem`` holds another chain (the authority renewed)."""
        bucket = self._settings.archive_bucket
        key = archive_key(data.organisation, data.year, TSA_CERTIFICATES_FILE)
        versions = list_versions_oldest_first(self._s3, bucket, key)
        return bool(versions) and describe_version(self._s3, bucket, key, versions[0]).sha256 != sha256_bytes(
            chain
        )

    def _pin_seal_certificate(self, data: ArchiveInput, retain_until: datetime) -> str | None:
        """Pin the seal certificate for the organisation the first time one is archived; its fingerprint."""
        if not data.seal_certificate_in or self._seal_certificate is None:
            return None
        fingerprint = certificate_fingerprint(self._seal_certificate)
        pin, _ = pin_seal_certificate(
            self._s3,
            bucket=self._settings.archive_bucket,
            organisation=data.organisation,
            certificate_pem=self._seal_certificate,
            cycle_id=data.cycle_id,
            retain_until=retain_until,
        )
        if pin.certificate_sha256 != fingerprint:
            # archived all the same (the evidence is kept); the auditor's verify FAILs it
            activity.logger.warning(
                "the seal certificate archived for %s (SHA-256 %s) is not the one pinned for %s in %s "
                "(SHA-256 %s): verify will FAIL these seals until the change is explained",
                data.cycle_id,
                fingerprint,
                data.organisation,
                pin.cycle_id,
                pin.certificate_sha256,
            )
        return fingerprint
