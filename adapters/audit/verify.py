"""Verify the archive, or a downloaded copy of it, against the manifests: PASS, WARN or FAIL per object.

Blocking (boto3, pyHanko): call these from a thread in async code.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from adapters.audit.pack import PACK_INDEX_HTML, PACK_INDEX_JSON
from adapters.audit.reader import (
    MANIFESTS,
    ArchiveReader,
    AuditError,
    Listing,
    Progress,
    relative_name,
)
from core.hashing import sha256_bytes
from models.archive import SEAL_CERTIFICATE_FILE, ArchivedDocumentFacts, ArchivedObject, ArchiveManifest
from models.audit import ObjectCheck, Verdict, VerifyReport


def _retention_checks(
    reader: ArchiveReader, obj: ArchivedObject, check: ObjectCheck, now: datetime
) -> dict[str, Any] | None:
    try:
        head = reader.s3.head_object(Bucket=reader.bucket, Key=obj.key, VersionId=obj.version_id)
    except ClientError as exc:
        check.problems.append(
            f"the archived version {obj.version_id} is gone ({exc.response['Error'].get('Code')})"
        )
        return None
    mode = head.get("ObjectLockMode")
    until = head.get("ObjectLockRetainUntilDate")
    if mode != "COMPLIANCE":
        check.problems.append(f"retention mode is {mode or 'none'}, not COMPLIANCE")
    elif until is None:
        check.problems.append("no retain-until date")
    else:
        until = until.astimezone(UTC)
        if until < obj.retain_until.replace(microsecond=0):
            check.problems.append(
                f"retention shortened: retain-until {until:%Y-%m-%d} "
                f"is before the manifest's {obj.retain_until:%Y-%m-%d}"
            )
        elif until <= now:
            check.problems.append(f"retention lapsed on {until:%Y-%m-%d}")
        else:
            check.passed.append(f"COMPLIANCE retention until {until:%Y-%m-%d}")
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        check.passed.append("under legal hold")
    return dict(head)


def _pdf_check(body: bytes, certificate_pem: bytes | None, check: ObjectCheck) -> None:
    # imported here: pyHanko takes most of a second to import, and only verify needs it
    from core.seal_check import load_certificates, verify_pdf_signature

    if certificate_pem is None:
        check.problems.append(f"no {SEAL_CERTIFICATE_FILE} archived beside it to check the seal against")
        return
    try:
        trust = load_certificates(certificate_pem)
    except ValueError as exc:
        check.problems.append(f"{SEAL_CERTIFICATE_FILE} is unreadable: {exc}")
        return
    with tempfile.TemporaryDirectory(prefix="isms-verify-") as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(body)
        result = verify_pdf_signature(path, trust=trust)
    if result.valid and result.intact:
        check.passed.append(f"PAdES seal valid and intact ({result.signer_subject})")
    else:
        check.problems.append(f"PAdES seal: {result.detail}")


# beside each document's PDF (and its Word file, unless it is a static PDF)
_DOCUMENT_COMPANIONS = ("certificate.pdf", "evidence.json", SEAL_CERTIFICATE_FILE)


def _describe(facts: ArchivedDocumentFacts, version: str) -> str:
    kind = "static PDF" if facts.docx_sha256 is None else facts.kind
    signed = "signed by top management" if facts.signed else "sealed by the organisation, not signed"
    acknowledged = f"acknowledged by {facts.audience}" if facts.acknowledges else "not acknowledged by staff"
    return f"{facts.title or facts.id}, version {facts.version or version} ({kind}; {signed}; {acknowledged})"


def _matches(check: ObjectCheck, listed: dict[str, ArchivedObject], name: str, sha256: str) -> None:
    found = listed.get(name)
    file = name.rsplit("/", 1)[1]
    if found is None:
        check.problems.append(f"{file} is not in the manifest")
    elif found.sha256 != sha256:
        check.problems.append(
            f"{file} has SHA-256 {found.sha256}, the manifest's document list says {sha256}"
        )
    else:
        check.passed.append(f"{file} archived with the SHA-256 the manifest lists")


def document_checks(manifest: ArchiveManifest) -> list[ObjectCheck]:
    """Each document a signed version's manifest lists, complete: its sealed PDF and (unless it
    is a static PDF) its Word file with the SHA-256 the list gives, the certificate of
    completion, evidence.json and the seal certificate beside them. The bytes and retention of
    each file are checked object by object; this checks that none of a document's is missing.
    """
    prefix = f"{manifest.organisation}/{manifest.year}/"
    listed = {obj.key.removeprefix(prefix): obj for obj in manifest.objects}
    version = manifest.facts.version
    checks: list[ObjectCheck] = []
    for facts in manifest.facts.document_facts:
        folder = f"{facts.id}/v{version}"
        check = ObjectCheck(
            key=f"{prefix}{folder}/", verdict=Verdict.PASS, passed=[_describe(facts, version)]
        )
        _matches(check, listed, f"{folder}/document.pdf", facts.pdf_sha256)
        if facts.docx_sha256 is not None:
            _matches(check, listed, f"{folder}/document.docx", facts.docx_sha256)
        elif f"{folder}/document.docx" in listed:
            check.problems.append("a document.docx is archived, but the document is listed as a static PDF")
        for companion in _DOCUMENT_COMPANIONS:
            if f"{folder}/{companion}" not in listed:
                check.problems.append(f"{companion} is not in the manifest")
        if check.problems:
            check.verdict = Verdict.FAIL
        checks.append(check)
    return checks


def verify_archive(
    reader: ArchiveReader,
    organisation: str,
    year: int,
    *,
    now: datetime | None = None,
    progress: Progress = lambda _: None,
) -> VerifyReport:
    """Check every archived object of ``organisation``/``year`` against its manifest.

    Per object: the archived version still exists; its SHA-256 and size match the manifest;
    COMPLIANCE retention is in force and not shortened; a PDF's seal is valid and intact. Per
    document of each signed version (``report.documents``, for manifests that list them): every
    file it must have is archived (:func:`document_checks`).
    Beside them: a later version under an archived key (FAIL: the key no longer serves the
    evidence), a delete marker (WARN: the evidence is intact, a plain GET no longer finds it),
    and objects no manifest lists (WARN).
    """
    now = now or datetime.now(UTC)
    report = VerifyReport(
        organisation=organisation,
        year=year,
        checked_at=now,
        source=f"s3://{reader.bucket}/{organisation}/{year}/",
    )
    listing = reader.listing(organisation, year)
    manifests = reader.manifests(organisation, year, listing)
    if not manifests:
        raise AuditError(
            f"nothing archived for {organisation} {year} (no manifest under {report.source}{MANIFESTS}/)"
        )
    archived: dict[str, ArchivedObject] = {}
    for manifest, manifest_object in manifests:
        report.manifests.append(manifest_object.key)
        report.documents += document_checks(manifest)
        for obj in [*manifest.objects, manifest_object]:
            archived[obj.key] = obj
    certificates: dict[str, bytes] = {}
    for key, obj in archived.items():
        if key.endswith("/" + SEAL_CERTIFICATE_FILE):
            with contextlib.suppress(AuditError):  # reported when the certificate itself is checked
                certificates[key.rsplit("/", 1)[0]] = reader.read_checked(obj)
    for number, (key, obj) in enumerate(sorted(archived.items()), start=1):
        progress(f"[{number}/{len(archived)}] {key}")
        check = ObjectCheck(key=key, version_id=obj.version_id, verdict=Verdict.PASS)
        head = _retention_checks(reader, obj, check, now)
        if head is not None:
            try:
                body = reader.read(key, obj.version_id)
            except AuditError as exc:
                check.problems.append(str(exc))
            else:
                digest = sha256_bytes(body)
                if digest == obj.sha256 and len(body) == obj.size:
                    check.passed.append(f"SHA-256 {digest[:16]}… matches the manifest")
                else:
                    check.problems.append(f"SHA-256 {digest} does not match the manifest's {obj.sha256}")
                if key.endswith(".pdf") and not check.problems:
                    _pdf_check(body, certificates.get(key.rsplit("/", 1)[0]), check)
        if check.problems:
            check.verdict = Verdict.FAIL
        report.objects.append(check)
    report.objects += _extra_findings(listing, archived)
    return report


def _extra_findings(listing: Listing, archived: dict[str, ArchivedObject]) -> list[ObjectCheck]:
    found: list[ObjectCheck] = []
    for key, versions in sorted(listing.versions.items()):
        known = archived.get(key)
        if known is None:
            found.append(
                ObjectCheck(
                    key=key,
                    version_id=versions[-1].version_id,
                    verdict=Verdict.WARN,
                    problems=[
                        "not listed in any manifest: not evidence of this cycle "
                        "(an archiving still in progress, or a stray write)"
                    ],
                )
            )
            continue
        for version in versions:
            if version.version_id != known.version_id:
                found.append(
                    ObjectCheck(
                        key=key,
                        version_id=version.version_id,
                        verdict=Verdict.FAIL,
                        problems=[
                            f"a later write under an archived key "
                            f"(version {version.version_id}, {version.size} bytes); "
                            f"the archived version {known.version_id} is intact, "
                            "but a plain download of the key "
                            "no longer returns the evidence"
                        ],
                    )
                )
    for key, markers in sorted(listing.delete_markers.items()):
        for marker in markers:
            hidden = "hides it from a plain GET" if listing.latest_is_marker(key) else "was added"
            found.append(
                ObjectCheck(
                    key=key,
                    version_id=marker.version_id,
                    verdict=Verdict.WARN,
                    problems=[
                        f"a delete marker ({marker.last_modified:%Y-%m-%d %H:%M} UTC) {hidden}; "
                        f"the archived version {archived[key].version_id if key in archived else '?'} "
                        "is still there"
                    ],
                )
            )
    return found


def _copy_files(copy: Path) -> Iterator[tuple[str, bytes]]:
    if copy.is_file() and zipfile.is_zipfile(copy):
        with zipfile.ZipFile(copy) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
        return
    if not copy.is_dir():
        raise AuditError(f"{copy} is neither a folder from `isms audit get` nor an evidence pack (.zip)")
    for path in sorted(p for p in copy.rglob("*") if p.is_file()):
        yield path.relative_to(copy).as_posix(), path.read_bytes()


def verify_copy(reader: ArchiveReader, organisation: str, year: int, copy: Path) -> VerifyReport:
    """Check a downloaded folder or an evidence pack against the manifests: a changed file FAILs by name."""
    report = VerifyReport(
        organisation=organisation, year=year, checked_at=datetime.now(UTC), source=str(copy)
    )
    manifests = reader.manifests(organisation, year)
    if not manifests:
        raise AuditError(f"nothing archived for {organisation} {year}")
    expected: dict[str, ArchivedObject] = {}
    for manifest, manifest_object in manifests:
        report.manifests.append(manifest_object.key)
        for obj in [*manifest.objects, manifest_object]:
            expected[relative_name(obj, organisation, year)] = obj
    for name, body in _copy_files(copy):
        if name in (PACK_INDEX_HTML, PACK_INDEX_JSON):
            continue
        found = expected.get(name)
        if found is None:
            report.objects.append(
                ObjectCheck(key=name, verdict=Verdict.FAIL, problems=["not an archived object of this year"])
            )
            continue
        digest = sha256_bytes(body)
        check = ObjectCheck(key=name, version_id=found.version_id, verdict=Verdict.PASS)
        if digest == found.sha256:
            check.passed.append(f"SHA-256 {digest[:16]}… matches the manifest")
        else:
            check.verdict = Verdict.FAIL
            check.problems.append(f"altered: SHA-256 {digest} does not match the manifest's {found.sha256}")
        report.objects.append(check)
    return report


def report_json(report: VerifyReport) -> str:
    """The report as the JSON ``isms audit verify --json`` prints (with the overall verdict)."""
    payload = report.model_dump(mode="json")
    payload["verdict"] = report.verdict.value
    return json.dumps(payload, indent=2)
