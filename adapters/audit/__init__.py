"""Read the archive as an auditor does: list cycles, download, verify, build the evidence pack.

Neutral code for the command line (``isms audit``) and the web portal. Everything here only
reads, except :func:`set_legal_hold` (the ISMS lead's, with the application's credentials).

The archive holds, under ``<org>/<year>/``, each signed version's files, the acknowledgement
register and report, and ``manifests/<stage>.json``. A manifest is trusted in its *earliest*
version: that is the one written by the archiving activity under COMPLIANCE retention, and no
one can delete it; anything written later under the same key is reported, never believed.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from core.files import write_atomic
from core.hashing import sha256_bytes
from models.archive import SEAL_CERTIFICATE_FILE, ArchivedObject, ArchiveManifest, ManifestFacts
from models.audit import (
    ArchivedCycle,
    ArchivedVersion,
    ObjectCheck,
    PackEntry,
    PackIndex,
    Verdict,
    VerifyReport,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACKNOWLEDGEMENTS = "acknowledgements"
MANIFESTS = "manifests"
RENDER_MANIFESTS = "render-manifest"
PACK_INDEX_HTML = "index.html"
PACK_INDEX_JSON = "index.json"
_MIN_TIME = datetime.min.replace(tzinfo=UTC)

Progress = Callable[[str], None]


class AuditError(Exception):
    """Something an auditor asked for is not in the archive, or the archive cannot be read."""


class IntegrityMismatchError(AuditError):
    """Downloaded bytes do not match the SHA-256 the manifest recorded."""


# ------------------------------------------------------------------------------ the listing


@dataclass
class _Version:
    key: str
    version_id: str
    last_modified: datetime
    size: int


@dataclass
class _Listing:
    """Every version and delete marker under one ``<org>/<year>/`` prefix."""

    versions: dict[str, list[_Version]] = field(default_factory=dict)  # key -> oldest first
    delete_markers: dict[str, list[_Version]] = field(default_factory=dict)

    def latest_is_marker(self, key: str) -> bool:
        markers = self.delete_markers.get(key, [])
        versions = self.versions.get(key, [])
        if not markers:
            return False
        return not versions or markers[-1].last_modified >= versions[-1].last_modified


def _safe_part(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", "..") or value != value.strip():
        raise AuditError(f"not a valid {what}: {value!r}")
    return value


class ArchiveReader:
    """Reads one archive bucket. ``s3`` may be a read-only identity: nothing here writes."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def _prefixes(self, prefix: str) -> list[str]:
        found: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            found += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(found)

    def organisations(self) -> list[str]:
        return self._prefixes("")

    def years(self, organisation: str) -> list[int]:
        _safe_part(organisation, "organisation")
        return sorted(int(y) for y in self._prefixes(f"{organisation}/") if y.isdigit())

    def listing(self, organisation: str, year: int) -> _Listing:
        prefix = f"{_safe_part(organisation, 'organisation')}/{year}/"
        listing = _Listing()
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Versions", []):
                version = _Version(
                    entry["Key"], entry.get("VersionId", ""), entry["LastModified"], entry.get("Size", 0)
                )
                listing.versions.setdefault(version.key, []).append(version)
            for marker_entry in page.get("DeleteMarkers", []):
                marker = _Version(
                    marker_entry["Key"], marker_entry.get("VersionId", ""), marker_entry["LastModified"], 0
                )
                listing.delete_markers.setdefault(marker.key, []).append(marker)
        for versions in [*listing.versions.values(), *listing.delete_markers.values()]:
            versions.sort(key=lambda v: (v.last_modified, v.version_id))
        return listing

    def read(self, key: str, version_id: str) -> bytes:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            return response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise AuditError(f"cannot read s3://{self.bucket}/{key} version {version_id}: {exc}") from exc

    def read_checked(self, obj: ArchivedObject) -> bytes:
        body = self.read(obj.key, obj.version_id)
        digest = sha256_bytes(body)
        if digest != obj.sha256:
            raise IntegrityMismatchError(
                f"{obj.key} (version {obj.version_id}): SHA-256 {digest} "
                f"does not match the manifest's {obj.sha256}"
            )
        return body

    def manifests(
        self, organisation: str, year: int, listing: _Listing | None = None
    ) -> list[tuple[ArchiveManifest, ArchivedObject]]:
        """Each manifest of the year in its earliest version (the archived one), oldest first."""
        listing = listing or self.listing(organisation, year)
        prefix = f"{organisation}/{year}/{MANIFESTS}/"
        found: list[tuple[ArchiveManifest, ArchivedObject]] = []
        for key, versions in sorted(listing.versions.items()):
            if not key.startswith(prefix) or not key.endswith(".json"):
                continue
            first = versions[0]
            body = self.read(key, first.version_id)
            try:
                manifest = ArchiveManifest.model_validate_json(body)
            except ValidationError as exc:
                raise AuditError(
                    f"{key} (version {first.version_id}) is not a readable manifest: {exc}"
                ) from exc
            head = self.s3.head_object(Bucket=self.bucket, Key=key, VersionId=first.version_id)
            found.append(
                (
                    manifest,
                    ArchivedObject(
                        key=key,
                        version_id=first.version_id,
                        sha256=sha256_bytes(body),
                        size=len(body),
                        content_type=head.get("ContentType", "application/json"),
                        retain_until=(head.get("ObjectLockRetainUntilDate") or _MIN_TIME).astimezone(UTC),
                    ),
                )
            )
        found.sort(key=lambda pair: (pair[1].retain_until, pair[0].stage))
        return found

    def cycles(self, organisation: str, year: int) -> list[ArchivedCycle]:
        """The cycles archived for ``organisation`` in ``year`` (usually one; more after an ad-hoc review)."""
        by_cycle: dict[str, ArchivedCycle] = {}
        for manifest, manifest_object in self.manifests(organisation, year):
            cycle = by_cycle.setdefault(
                manifest.cycle_id,
                ArchivedCycle(
                    organisation=organisation, year=year, cycle_id=manifest.cycle_id, facts=ManifestFacts()
                ),
            )
            cycle.manifests.append(manifest_object)
            facts = manifest.facts
            if manifest.stage.startswith(ACKNOWLEDGEMENTS):
                cycle.facts = cycle.facts.model_copy(
                    update={
                        "in_scope": facts.in_scope,
                        "acknowledged": facts.acknowledged,
                        "rate_text": facts.rate_text,
                    }
                )
            else:
                update = {k: v for k, v in facts.model_dump().items() if v not in (None, "", [])}
                cycle.facts = cycle.facts.model_copy(update=update)
            versions = _versions_of(manifest)
            cycle.versions += versions
            in_versions = {f.key for v in versions for f in v.files}
            for obj in manifest.objects:
                if obj.key in in_versions:
                    continue
                if _relative(obj, organisation, year).startswith(f"{ACKNOWLEDGEMENTS}/"):
                    cycle.acknowledgements.append(obj)
                else:
                    cycle.other.append(obj)
            retain = [o.retain_until for o in [*manifest.objects, manifest_object]]
            earliest = min(retain)
            cycle.retain_until = earliest if cycle.retain_until is None else min(cycle.retain_until, earliest)
        return sorted(by_cycle.values(), key=lambda c: c.cycle_id)

    def all_cycles(self, *, organisation: str | None = None, year: int | None = None) -> list[ArchivedCycle]:
        organisations = [organisation] if organisation else self.organisations()
        found: list[ArchivedCycle] = []
        for org in organisations:
            for found_year in self.years(org):
                if year is None or found_year == year:
                    found += self.cycles(org, found_year)
        return found

    def find_cycle(self, cycle_id: str) -> ArchivedCycle:
        for cycle in self.all_cycles():
            if cycle.cycle_id == cycle_id:
                return cycle
        raise AuditError(f"no archived cycle {cycle_id!r} in s3://{self.bucket}")

    def presigned_url(self, obj: ArchivedObject, *, filename: str, expires_seconds: int = 300) -> str:
        """A short-lived download link for exactly this version (a GET; it cannot be turned into a write)."""
        disposition = f'attachment; filename="{filename.replace(chr(34), "")}"'
        return self.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": obj.key,
                "VersionId": obj.version_id,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires_seconds,
        )


def _relative(obj: ArchivedObject, organisation: str, year: int) -> str:
    return obj.key.removeprefix(f"{organisation}/{year}/")


def _versions_of(manifest: ArchiveManifest) -> list[ArchivedVersion]:
    grouped: dict[tuple[str, str], list[ArchivedObject]] = {}
    for obj in manifest.objects:
        parts = PurePosixPath(_relative(obj, manifest.organisation, manifest.year)).parts
        if len(parts) == 3 and parts[1].startswith("v") and parts[0] != ACKNOWLEDGEMENTS:
            grouped.setdefault((parts[0], parts[1][1:]), []).append(obj)
    return [
        ArchivedVersion(document=document, version=version, files=files)
        for (document, version), files in sorted(grouped.items())
    ]


def latest_render_manifest(
    reader: ArchiveReader, organisation: str, before_year: int
) -> ArchivedObject | None:
    """The render manifest of the organisation's last signed version before ``before_year``, if archived."""
    years = [year for year in reader.years(organisation) if year < before_year]
    for year in sorted(years, reverse=True):
        found = [
            obj
            for cycle in reader.cycles(organisation, year)
            for obj in cycle.other
            if _relative(obj, organisation, year).startswith(f"{RENDER_MANIFESTS}/")
        ]
        if found:
            return max(
                found, key=lambda obj: _version_key(_relative(obj, organisation, year).split("/v", 1)[1])
            )
    return None


def select_version(cycles: list[ArchivedCycle], document: str, version: str | None) -> ArchivedVersion:
    """The archived ``document`` in ``version`` (the latest signed one when None)."""
    candidates = [v for c in cycles for v in c.versions if v.document == document]
    if not candidates:
        known = sorted({v.document for c in cycles for v in c.versions})
        raise AuditError(
            f"no document {document!r} archived; archived documents: {', '.join(known) or 'none'}"
        )
    if version is None:
        return max(candidates, key=lambda v: _version_key(v.version))
    for candidate in candidates:
        if candidate.version == version.removeprefix("v"):
            return candidate
    versions = ", ".join(sorted({c.version for c in candidates}, key=_version_key))
    raise AuditError(f"{document} has no archived version {version!r}; archived versions: {versions}")


def _version_key(version: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def download_version(
    reader: ArchiveReader, chosen: ArchivedVersion, organisation: str, year: int, out: Path
) -> list[Path]:
    """Write every file of one version under ``out`` (same relative names as the archive), hash-checked."""
    written: list[Path] = []
    for obj in chosen.files:
        body = reader.read_checked(obj)
        target = out / _relative(obj, organisation, year)
        write_atomic(target, body)
        written.append(target)
    return written


# ---------------------------------------------------------------------------------- verify


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
    COMPLIANCE retention is in force and not shortened; a PDF's seal is valid and intact.
    Beside them: a later version under an archived key (FAIL: the key no longer serves the
    evidence), a delete marker (WARN: the evidence is intact, a plain GET no longer finds it),
    and objects no manifest lists (WARN). Blocking (boto3, pyHanko): call it from a thread.
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


def _extra_findings(listing: _Listing, archived: dict[str, ArchivedObject]) -> list[ObjectCheck]:
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
            expected[_relative(obj, organisation, year)] = obj
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


# ----------------------------------------------------------------------------- evidence pack


def evidence_item(name: str) -> str:
    """The Clause 5 evidence item an archived file proves (``name`` relative to ``<org>/<year>/``)."""
    parts = PurePosixPath(name).parts
    filename = parts[-1]
    if parts[0] == MANIFESTS:
        return (
            "7.5.3 control of documented information: the archive manifest "
            "(SHA-256, version id, retention of each object)"
        )
    if parts[0] == RENDER_MANIFESTS:
        return (
            "5.2 and 5.3: what the signed version is made of (template, text and role hashes); "
            "next year's change summary is made against it"
        )
    if parts[0] == ACKNOWLEDGEMENTS:
        if filename.startswith("register"):
            return (
                "5.2 f) and 5.3: the policy and the roles communicated within the organisation: "
                "each person's acknowledgement"
            )
        return "5.2 f) and 5.3: the communication outcome: acknowledgement rate overall and by department"
    policy = "policy" in parts[0]
    if filename == "document.pdf":
        return (
            "5.2: the information security policy, approved by top management (sealed PDF)"
            if policy
            else "5.3: roles, responsibilities and authorities with the RACI matrix, "
            "assigned by top management (sealed PDF)"
        )
    if filename == "document.docx":
        return (
            "5.2" if policy else "5.3"
        ) + ": the approved text as a Word document, signature block stamped in"
    if filename == "certificate.pdf":
        return (
            "5.1: top management's approval: the certificate of completion (sent, opened, reminded, signed)"
        )
    if filename == "evidence.json":
        return "5.1: the signature evidence: who, intent, when, where, and the SHA-256 of each version shown"
    if filename == SEAL_CERTIFICATE_FILE:
        return "7.5.3: the certificate that checks the PAdES seals of the PDFs beside it"
    return "supporting evidence"


def build_pack(
    reader: ArchiveReader, organisation: str, year: int, out: Path, *, progress: Progress = lambda _: None
) -> PackIndex:
    """Write the evidence pack zip: every archived object (hash-checked), its manifests and an index."""
    manifests = reader.manifests(organisation, year)
    if not manifests:
        raise AuditError(f"nothing archived for {organisation} {year}")
    index = PackIndex(organisation=organisation, year=year, built_at=datetime.now(UTC), entries=[])
    objects = sorted(
        {o.key: o for manifest, mo in manifests for o in [*manifest.objects, mo]}.values(),
        key=lambda o: o.key,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".part")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, obj in enumerate(objects, start=1):
            progress(f"[{number}/{len(objects)}] {obj.key}")
            body = reader.read_checked(obj)
            path = _relative(obj, organisation, year)
            archive.writestr(path, body)
            index.entries.append(
                PackEntry(
                    path=path,
                    sha256=obj.sha256,
                    size=obj.size,
                    evidence=evidence_item(path),
                    version_id=obj.version_id,
                )
            )
        archive.writestr(PACK_INDEX_JSON, index.model_dump_json(indent=2))
        archive.writestr(PACK_INDEX_HTML, pack_index_html(index, reader.cycles(organisation, year)))
    temporary.replace(out)
    return index


def pack_index_html(index: PackIndex, cycles: list[ArchivedCycle]) -> str:
    """The pack's one-page index: each file, the Clause 5 evidence item it proves, its SHA-256."""
    from html import escape

    summary = "".join(
        f"<li>{escape(c.cycle_id)}: version {escape(c.facts.version)}, signed by {escape(c.facts.signer)}"
        f" on {c.facts.signed_at:%d %B %Y}"
        * (c.facts.signed_at is not None)
        + (
            f"; acknowledged by {c.facts.acknowledged} of {c.facts.in_scope} ({escape(c.facts.rate_text)})"
            if c.facts.in_scope
            else ""
        )
        + "</li>"
        for c in cycles
    )
    rows = "".join(
        f"<tr><td><code>{escape(e.path)}</code></td><td>{escape(e.evidence)}</td>"
        f"<td><code>{e.sha256}</code></td><td>{e.size}</td></tr>"
        for e in index.entries
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Evidence pack {escape(index.organisation)} {index.year}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left;vertical-align:top}table{border-collapse:collapse}code{font-size:12px}</style></head><body>"
        f"<h1>ISO 27001 Clause 5 evidence: {escape(index.organisation)}, {index.year}</h1>"
        f"<p>Built {index.built_at:%Y-%m-%d %H:%M} UTC from the Object Lock archive. "
        "Each file below is a byte-exact "
        "copy of the archived version named in <code>index.json</code>; its SHA-256 is the manifest's.</p>"
        f"<ul>{summary}</ul>"
        "<table><thead><tr><th>File</th><th>Evidence for</th><th>SHA-256</th><th>Bytes</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>\n"
    )


def read_pack(data: bytes) -> tuple[PackIndex, dict[str, bytes]]:
    """The index and files of a pack (for checks): raises AuditError if it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
        index = PackIndex.model_validate_json(files[PACK_INDEX_JSON])
    except (zipfile.BadZipFile, KeyError, ValidationError) as exc:
        raise AuditError(f"not an evidence pack: {exc}") from exc
    return index, files


def report_json(report: VerifyReport) -> str:
    payload = report.model_dump(mode="json")
    payload["verdict"] = report.verdict.value
    return json.dumps(payload, indent=2)
