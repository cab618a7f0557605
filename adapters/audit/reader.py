"""Read the archive as an auditor does: organisations, years, cycles, versions, one download.

Nothing here writes to S3, so ``s3`` may be the read-only auditor identity. A manifest is
trusted in its *earliest* version: that is the one the archiving activity wrote under
COMPLIANCE retention, and no one can delete it; anything written later under the same key is
reported by the verifier, never believed. And only the manifests on each cycle's chain are
read as evidence (:mod:`adapters.audit.chain`): a manifest someone added beside them changes
no figure, no listing and no pack. Objects a manifest lists outside its ``<org>/<year>/``
are never offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from adapters.archive import describe_version, seal_pin_key
from adapters.audit.chain import ReadManifest, YearChains, link_chains
from core.files import write_atomic
from core.hashing import sha256_bytes
from models.archive import PUBLIC_STATEMENT_FOLDER, ArchivedObject, ArchiveManifest, ManifestFacts, SealPin
from models.audit import ArchivedCycle, ArchivedVersion, ObjectCheck, Verdict
from models.check_report import CHECK_REPORT_FOLDER
from models.role_acceptance import ROLE_ACCEPTANCE_FOLDER

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACKNOWLEDGEMENTS = "acknowledgements"
MANIFESTS = "manifests"
RENDER_MANIFESTS = "render-manifest"

Progress = Callable[[str], None]


class AuditError(Exception):
    """Something an auditor asked for is not in the archive, or the archive cannot be read."""


class IntegrityMismatchError(AuditError):
    """Downloaded bytes do not match the SHA-256 the manifest recorded."""


@dataclass
class ListedVersion:
    key: str
    version_id: str
    last_modified: datetime
    size: int


@dataclass
class Listing:
    """Every version and delete marker under one ``<org>/<year>/`` prefix."""

    versions: dict[str, list[ListedVersion]] = field(default_factory=dict)  # key -> oldest first
    delete_markers: dict[str, list[ListedVersion]] = field(default_factory=dict)

    def latest_is_marker(self, key: str) -> bool:
        markers = self.delete_markers.get(key, [])
        versions = self.versions.get(key, [])
        if not markers:
            return False
        return not versions or markers[-1].last_modified >= versions[-1].last_modified


@dataclass
class PinnedSeal:
    """The organisation's pinned seal certificate (``<org>/seal-certificate.json``), first version."""

    pin: SealPin | None  # None: the first version is not a readable pin
    object: ArchivedObject
    written_at: datetime
    later: list[ListedVersion] = field(default_factory=list)  # versions written after it: never believed
    problem: str = ""


def in_prefix(key: str, organisation: str, year: int) -> bool:
    """``key`` is below ``<org>/<year>/`` and climbs nowhere (no empty, ``.`` or ``..`` part)."""
    prefix = f"{organisation}/{year}/"
    if not key.startswith(prefix):
        return False
    return all(part not in ("", ".", "..") for part in key[len(prefix) :].split("/"))


def _safe_part(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", "..") or value != value.strip():
        raise AuditError(f"not a valid {what}: {value!r}")
    return value


def relative_name(obj: ArchivedObject, organisation: str, year: int) -> str:
    """The object's key below ``<org>/<year>/``: its name in a download and in the pack."""
    return obj.key.removeprefix(f"{organisation}/{year}/")


def version_key(version: str) -> tuple[int | str, ...]:
    """Sort key for versions like ``3.0`` and ``10.1`` (numerically, part by part)."""
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


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

    def require_organisation(self, organisation: str) -> None:
        """Raise :class:`AuditError` naming the archived organisations when ``organisation`` is not one."""
        known = self.organisations()
        if organisation not in known:
            raise AuditError(
                f"no organisation {organisation!r} in s3://{self.bucket}; "
                f"archived organisations: {', '.join(known) or 'none yet'}"
            )

    def require_year(self, organisation: str, year: int) -> None:
        """Raise :class:`AuditError` naming what is archived when ``organisation``/``year`` is not."""
        self.require_organisation(organisation)
        years = self.years(organisation)
        if year not in years:
            raise AuditError(
                f"nothing archived for {organisation} in {year}; "
                f"archived years: {', '.join(str(y) for y in years) or 'none'}"
            )

    def listing(self, organisation: str, year: int) -> Listing:
        prefix = f"{_safe_part(organisation, 'organisation')}/{year}/"
        listing = Listing()
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Versions", []):
                version = ListedVersion(
                    entry["Key"], entry.get("VersionId", ""), entry["LastModified"], entry.get("Size", 0)
                )
                listing.versions.setdefault(version.key, []).append(version)
            for marker_entry in page.get("DeleteMarkers", []):
                marker = ListedVersion(
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

    def read_manifests(
        self, organisation: str, year: int, listing: Listing | None = None
    ) -> tuple[list[ReadManifest], list[ObjectCheck]]:
        """Every ``*.json`` under the year's ``manifests/`` in its earliest version; the unreadable
        ones as FAIL findings (a stray file stops nothing)."""
        listing = listing or self.listing(organisation, year)
        prefix = f"{organisation}/{year}/{MANIFESTS}/"
        found: list[ReadManifest] = []
        unreadable: list[ObjectCheck] = []
        for key, versions in sorted(listing.versions.items()):
            if not key.startswith(prefix) or not key.endswith(".json"):
                continue
            first = versions[0]
            body = self.read(key, first.version_id)
            try:
                manifest = ArchiveManifest.model_validate_json(body)
            except ValidationError as exc:
                unreadable.append(
                    ObjectCheck(
                        key=key,
                        version_id=first.version_id,
                        verdict=Verdict.FAIL,
                        problems=[
                            f"an extra manifest: not a readable manifest ({exc.error_count()} problem(s), "
                            f"the first: {exc.errors()[0]['msg']})"
                        ],
                    )
                )
                continue
            # the hash and size of the bytes just read, not the metadata the server keeps
            described = describe_version(self.s3, self.bucket, key, first.version_id)
            found.append(
                ReadManifest(
                    manifest,
                    described.model_copy(update={"sha256": sha256_bytes(body), "size": len(body)}),
                    first.last_modified,
                )
            )
        return found, unreadable

    def seal_pin(self, organisation: str) -> PinnedSeal | None:
        """The organisation's pinned seal certificate, or None if none was ever pinned."""
        key = seal_pin_key(_safe_part(organisation, "organisation"))
        versions: list[ListedVersion] = []
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            versions += [
                ListedVersion(v["Key"], v.get("VersionId", ""), v["LastModified"], v.get("Size", 0))
                for v in page.get("Versions", [])
                if v["Key"] == key
            ]
        if not versions:
            return None
        versions.sort(key=lambda v: (v.last_modified, v.version_id))
        first = versions[0]
        body = self.read(key, first.version_id)
        described = describe_version(self.s3, self.bucket, key, first.version_id)
        described = described.model_copy(update={"sha256": sha256_bytes(body), "size": len(body)})
        try:
            pin: SealPin | None = SealPin.model_validate_json(body)
        except ValidationError as exc:
            pin, problem = None, f"not a readable seal certificate pin: {exc.errors()[0]['msg']}"
        else:
            problem = ""
        return PinnedSeal(pin, described, first.last_modified, later=versions[1:], problem=problem)

    def chains(
        self,
        organisation: str,
        year: int,
        listing: Listing | None = None,
        pinned: PinnedSeal | bool | None = True,
    ) -> YearChains:
        """The year's chains of manifests (and the findings about any other manifest).

        ``pinned``: the organisation's pin when the caller read it already (None: none), or
        True to read it here; an unchained manifest written after the pin is an extra.
        """
        read, unreadable = self.read_manifests(organisation, year, listing)
        pin = self.seal_pin(organisation) if pinned is True else pinned
        chains = link_chains(
            read,
            organisation=organisation,
            year=year,
            chained_since=pin.written_at if isinstance(pin, PinnedSeal) else None,
        )
        chains.findings = unreadable + chains.findings
        return chains

    def manifests(
        self, organisation: str, year: int, listing: Listing | None = None
    ) -> list[tuple[ArchiveManifest, ArchivedObject]]:
        """The manifests on the year's chains in their earliest version, each cycle's first to last."""
        return [(m.manifest, m.object) for m in self.chains(organisation, year, listing).members()]

    def cycles(self, organisation: str, year: int, chains: YearChains | None = None) -> list[ArchivedCycle]:
        """The cycles archived for ``organisation`` in ``year`` (usually one; more after an ad-hoc review).

        Read from each cycle's chain of manifests only, first to last: the signed version's facts,
        then the acknowledgement figures of the manifest that closes the chain. Objects a manifest
        lists outside ``<org>/<year>/`` are left out (verify FAILs them).
        """
        chains = chains or self.chains(organisation, year)
        by_cycle: dict[str, ArchivedCycle] = {}
        for chain in chains.chains:
            for member in chain.members:
                _add_manifest(by_cycle, member.manifest, member.object, organisation, year)
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


def _add_manifest(
    by_cycle: dict[str, ArchivedCycle],
    manifest: ArchiveManifest,
    manifest_object: ArchivedObject,
    organisation: str,
    year: int,
) -> None:
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
        # the values themselves (model_copy does not validate: dumped dicts would stay dicts)
        values = {name: getattr(facts, name) for name in ManifestFacts.model_fields}
        update = {k: v for k, v in values.items() if v not in (None, "", [])}
        cycle.facts = cycle.facts.model_copy(update=update)
    inside = [obj for obj in manifest.objects if in_prefix(obj.key, organisation, year)]
    versions = _versions_of(manifest.model_copy(update={"objects": inside}))
    cycle.versions += versions
    in_versions = {f.key for v in versions for f in v.files}
    for obj in inside:
        if obj.key in in_versions:
            continue
        if relative_name(obj, organisation, year).startswith(f"{ACKNOWLEDGEMENTS}/"):
            cycle.acknowledgements.append(obj)
        else:
            cycle.other.append(obj)
    retain = [o.retain_until for o in [*inside, manifest_object]]
    earliest = min(retain)
    cycle.retain_until = earliest if cycle.retain_until is None else min(cycle.retain_until, earliest)


_NOT_DOCUMENTS = (ACKNOWLEDGEMENTS, CHECK_REPORT_FOLDER, PUBLIC_STATEMENT_FOLDER, ROLE_ACCEPTANCE_FOLDER)


def _versions_of(manifest: ArchiveManifest) -> list[ArchivedVersion]:
    grouped: dict[tuple[str, str], list[ArchivedObject]] = {}
    for obj in manifest.objects:
        parts = PurePosixPath(relative_name(obj, manifest.organisation, manifest.year)).parts
        # <document>/v<version>/<file>; the registers, the Clause 5 check report and the public
        # statement are not documents of the version
        if len(parts) == 3 and parts[1].startswith("v") and parts[0] not in _NOT_DOCUMENTS:
            grouped.setdefault((parts[0], parts[1][1:]), []).append(obj)
    described = {facts.id: facts for facts in manifest.facts.document_facts}
    return [
        ArchivedVersion(document=document, version=version, files=files, facts=described.get(document))
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
            if relative_name(obj, organisation, year).startswith(f"{RENDER_MANIFESTS}/")
        ]
        if found:
            return max(
                found, key=lambda obj: version_key(relative_name(obj, organisation, year).split("/v", 1)[1])
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
        return max(candidates, key=lambda v: version_key(v.version))
    for candidate in candidates:
        if candidate.version == version.removeprefix("v"):
            return candidate
    versions = ", ".join(sorted({c.version for c in candidates}, key=version_key))
    raise AuditError(f"{document} has no archived version {version!r}; archived versions: {versions}")


def download_version(
    reader: ArchiveReader, chosen: ArchivedVersion, organisation: str, year: int, out: Path
) -> list[Path]:
    """Write every file of one version under ``out`` (same relative names as the archive), hash-checked."""
    written: list[Path] = []
    for obj in chosen.files:
        body = reader.read_checked(obj)
        target = out / relative_name(obj, organisation, year)
        write_atomic(target, body)
        written.append(target)
    return written
