"""Verify the archive, or a downloaded copy of it, against the manifests: PASS, WARN or FAIL per object.

Blocking (boto3, pyHanko): call these from a thread in async code.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from adapters.archive import certificate_fingerprint, describe_version, seal_pin_key
from adapters.audit.chain import CLOCK_TOLERANCE, SIGNED_STAGE_PREFIX, YearChains
from adapters.audit.pack import PACK_INDEX_HTML, PACK_INDEX_JSON, PACK_SEAL_CERTIFICATE, PACK_SEAL_PIN
from adapters.audit.reader import (
    MANIFESTS,
    ArchiveReader,
    AuditError,
    Listing,
    PinnedSeal,
    Progress,
    in_prefix,
    relative_name,
)
from core.hashing import sha256_bytes
from models.archive import (
    PUBLIC_STATEMENT_FOLDER,
    PUBLIC_STATEMENT_PATH,
    PUBLIC_STATEMENT_STEM,
    SEAL_CERTIFICATE_FILE,
    SHOWN_DRAFT_STEM,
    ArchivedDocumentFacts,
    ArchivedObject,
    ArchiveManifest,
)
from models.audit import ObjectCheck, Verdict, VerifyReport

# the signed version is archived minutes after the signature (sealing, then S3); an archive
# written this long after the recorded signing time says the time is not the signature's (an
# S3 outage this long would be in the cycle's audit trail: check it before believing the date)
SIGNED_ARCHIVE_WINDOW = timedelta(days=7)


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


def _pdf_check(
    body: bytes, certificate_pem: bytes | None, check: ObjectCheck, tsa_pem: bytes | None = None
) -> None:
    # imported here: pyHanko takes most of a second to import, and only verify needs it
    from core.seal_check import load_certificates, verify_pdf_signature
    from core.timestamp_check import verify_pdf_long_term

    if certificate_pem is None:
        check.problems.append(f"no {SEAL_CERTIFICATE_FILE} archived beside it to check the seal against")
        return
    if tsa_pem is not None:  # the year has trusted time: every seal must be PAdES B-LTA
        long_term = verify_pdf_long_term(body, seal_trust_pem=certificate_pem, tsa_trust_pem=tsa_pem)
        check.passed += long_term.passed
        check.problems += [f"PAdES B-LTA: {problem}" for problem in long_term.problems]
        if long_term.valid:
            check.passed.append(
                "the seal's time rests on the timestamp authority, not the organisation's clock"
            )
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


def _timestamp_findings(
    reader: ArchiveReader,
    listing: Listing,
    organisation: str,
    year: int,
    manifests: dict[str, ArchivedObject],
    now: datetime,
) -> tuple[bytes | None, dict[str, list[str]], dict[str, list[str]], list[ObjectCheck]]:
    """The manifests' RFC 3161 timestamps, checked against the archived TSA certificates.

    Returns the certificates (PEM, None when the year has none), a line per manifest for what
    its time rests on, a problem per manifest whose timestamp is missing or does not verify,
    and a check per timestamp and certificate file (so they are not "not in any manifest").
    """
    from core.timestamp_check import (
        MANIFEST_TIMESTAMP_SUFFIX,
        OWN_CLOCK,
        TSA_CERTIFICATES_FILE,
        verify_timestamp_response,
    )

    prefix = f"{organisation}/{year}/"
    stem = TSA_CERTIFICATES_FILE.removesuffix(".pem")
    certificate_keys = [
        key
        for key in listing.versions
        if key.startswith(prefix + stem) and key.endswith(".pem") and key.count("/") == prefix.count("/")
    ]
    stamp_keys = {key + MANIFEST_TIMESTAMP_SUFFIX for key in manifests} & set(listing.versions)
    notes: dict[str, list[str]] = {}
    faults: dict[str, list[str]] = {}
    checks: list[ObjectCheck] = []
    if not certificate_keys and not stamp_keys:
        for key in manifests:
            notes[key] = [OWN_CLOCK]
        return None, notes, faults, checks
    trust = b""
    for key in sorted([*certificate_keys, *stamp_keys]):
        first = listing.versions[key][0]
        obj = describe_version(reader.s3, reader.bucket, key, first.version_id)
        check = ObjectCheck(key=key, version_id=obj.version_id, verdict=Verdict.PASS)
        _retention_checks(reader, obj, check, now)
        if key in certificate_keys:
            trust += reader.read(key, obj.version_id)
            check.passed.append("the timestamp authority's certificates, to check every timestamp with")
        else:
            check.passed.append(f"the RFC 3161 timestamp of {key.removesuffix(MANIFEST_TIMESTAMP_SUFFIX)}")
        if check.problems:
            check.verdict = Verdict.FAIL
        checks.append(check)
    if not trust:
        for key in manifests:
            faults[key] = [f"timestamps archived, but no {TSA_CERTIFICATES_FILE} to check them against"]
        return None, notes, faults, checks
    for key, obj in manifests.items():
        stamp_key = key + MANIFEST_TIMESTAMP_SUFFIX
        if stamp_key not in stamp_keys:
            faults[key] = [f"no RFC 3161 timestamp beside it ({stamp_key.removeprefix(prefix)} is missing)"]
            continue
        try:
            body = reader.read(key, obj.version_id)
            stamp = reader.read(stamp_key, listing.versions[stamp_key][0].version_id)
        except AuditError as exc:
            faults[key] = [str(exc)]
            continue
        result = verify_timestamp_response(stamp, data=body, trust_pem=trust)
        if result.valid:
            notes[key] = [f"{result.detail}: its facts existed then, on the authority's time (RFC 3161)"]
        else:
            faults[key] = [f"manifest timestamp {stamp_key.removeprefix(prefix)}: {result.detail}"]
    return trust, notes, faults, checks


# an unstamped manifest of a year with trusted time, archived before the authority was configured
BEFORE_TRUSTED_TIME = (
    "made before trusted time was configured: no RFC 3161 timestamp, so its time rests on the "
    "organisation's own clock (S3's write time)"
)
SEALED_BEFORE_TRUSTED_TIME = (
    "sealed before trusted time was configured: the seal's time rests on the organisation's own clock"
)
_NO_TIMESTAMP = "no RFC 3161 timestamp beside it"
# a PDF whose seal carries trusted time has a document timestamp (PAdES B-LTA)
_DOCUMENT_TIMESTAMP = b"/ETSI.RFC3161"


def _before_trusted_time(
    reader: ArchiveReader,
    listing: Listing,
    chains: YearChains,
    organisation: str,
    year: int,
    faults: dict[str, list[str]],
) -> set[str]:
    """The manifests without a timestamp that were archived before trusted time was switched on.

    A year's timestamps start when an authority is configured; a manifest archived before has
    none, and that is a WARN, not a FAIL. A missing timestamp stays a FAIL (the timestamp was cut
    out) when the manifest comes after a timestamped one in its cycle's chain, when it was written
    after the year's first ``tsa-certificates*.pem`` (archived with the first timestamp), or when a
    PDF it lists carries a document timestamp (the authority was on when it was sealed). The
    returned manifests' "no timestamp" faults are taken out of ``faults``.
    """
    from core.timestamp_check import MANIFEST_TIMESTAMP_SUFFIX, TSA_CERTIFICATES_FILE

    prefix = f"{organisation}/{year}/"
    stem = TSA_CERTIFICATES_FILE.removesuffix(".pem")
    first_certificates = [
        versions[0].last_modified.astimezone(UTC)
        for key, versions in listing.versions.items()
        if key.startswith(prefix + stem) and key.endswith(".pem") and versions
    ]
    if not first_certificates:
        return set()  # no trusted time this year: every manifest rests on the own clock already
    trusted_since = min(first_certificates)
    before: set[str] = set()
    for chain in chains.chains:
        stamped_earlier = False
        for member in chain.members:
            key = member.object.key
            stamped = key + MANIFEST_TIMESTAMP_SUFFIX in listing.versions
            missing = [line for line in faults.get(key, []) if line.startswith(_NO_TIMESTAMP)]
            if stamped or not missing or stamped_earlier:
                stamped_earlier = stamped_earlier or stamped
                continue
            written = _written_at(listing, member.object)
            # S3 write times have whole seconds: a manifest of the same second is given the doubt
            if written is None or written > trusted_since or _lists_trusted_seal(reader, member.manifest):
                continue
            before.add(key)
            faults[key] = [line for line in faults[key] if line not in missing]
    return before


def _lists_trusted_seal(reader: ArchiveReader, manifest: ArchiveManifest) -> bool:
    for obj in manifest.objects:
        if obj.key.endswith(".pdf") and not obj.key.rsplit("/", 1)[-1].startswith(SHOWN_DRAFT_STEM):
            with contextlib.suppress(AuditError):  # an unreadable PDF FAILs on its own
                if _DOCUMENT_TIMESTAMP in reader.read(obj.key, obj.version_id):
                    return True
    return False


def _role_register_lines(manifest: ArchiveManifest) -> tuple[list[str], list[str]]:
    """The role acceptance a manifest records: its figures, and the register files it must list.

    A manifest whose facts count role holders (``roles_in_scope``) lists the register as CSV and
    JSON and its report under ``role-acceptance/v<version>/``; one missing FAILs by name.
    """
    from models.role_acceptance import (
        ROLE_ACCEPTANCE_FOLDER,
        ROLE_REGISTER_CSV,
        ROLE_REGISTER_JSON,
        ROLE_REPORT_HTML,
    )

    facts = manifest.facts
    if facts.roles_in_scope is None:
        return [], []
    folder = f"{ROLE_ACCEPTANCE_FOLDER}/v{facts.version}"
    listed = {relative_name(obj, manifest.organisation, manifest.year) for obj in manifest.objects}
    wanted = [f"{folder}/{name}" for name in (ROLE_REGISTER_CSV, ROLE_REGISTER_JSON, ROLE_REPORT_HTML)]
    missing = [name for name in wanted if name not in listed]
    accepted = facts.roles_accepted if facts.roles_accepted is not None else "?"
    passed = [
        f"role acceptance: {accepted} of {facts.roles_in_scope} named role holders and deputies "
        f"accepted version {facts.version}" + ("" if missing else f" (register and report in {folder}/)")
    ]
    problems = [f"it counts role holders but does not list {name}" for name in missing]
    return passed, problems


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
        if facts.shown_file is not None and facts.shown_sha256 is not None:
            _matches(check, listed, f"{folder}/{facts.shown_file}", facts.shown_sha256)
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


def _evidence_record(reader: ArchiveReader, obj: ArchivedObject, cache: dict[str, Any]) -> Any:
    """evidence.json as archived (hash-checked), parsed; None if it cannot be read as JSON."""
    if obj.version_id not in cache:
        try:
            cache[obj.version_id] = json.loads(reader.read_checked(obj))
        except (AuditError, ValueError):
            cache[obj.version_id] = None  # the object's own check reports it
    return cache[obj.version_id]


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown_checks(
    reader: ArchiveReader,
    manifest: ArchiveManifest,
    facts: ArchivedDocumentFacts,
    check: ObjectCheck,
    cache: dict[str, Any],
) -> None:
    """The draft shown to the signer: its archived SHA-256 is the one evidence.json records and
    (for a signed document) the one stamped into the signature line."""
    prefix = f"{manifest.organisation}/{manifest.year}/"
    listed = {obj.key.removeprefix(prefix): obj for obj in manifest.objects}
    if facts.shown_sha256 is None:
        return
    evidence = listed.get(f"{facts.id}/v{manifest.facts.version}/evidence.json")
    record = _evidence_record(reader, evidence, cache) if evidence is not None else None
    entries = record.get("documents", []) if isinstance(record, dict) else []
    entry = next(
        (e for e in entries if isinstance(e, dict) and str(e.get("name", "")).rsplit(".", 1)[0] == facts.id),
        None,
    )
    if entry is None:
        check.problems.append("evidence.json does not record the draft shown for this document")
        return
    if entry.get("draft_sha256") != facts.shown_sha256:
        check.problems.append(
            f"the draft shown has SHA-256 {facts.shown_sha256}, evidence.json records "
            f"{entry.get('draft_sha256')}"
        )
        return
    line = str(entry.get("signature_line", ""))
    if facts.signed and facts.shown_sha256[:16] not in line:
        check.problems.append("the signature line stamped into the document names another draft")
        return
    check.passed.append(
        f"the draft shown ({facts.shown_file}) is archived with the SHA-256 evidence.json records"
        + (" and the signature line carries" if facts.signed else "")
    )


def _written_at(listing: Listing, obj: ArchivedObject) -> datetime | None:
    for version in listing.versions.get(obj.key, []):
        if version.version_id == obj.version_id:
            return version.last_modified.astimezone(UTC)
    return None


def _signed_at_problems(
    reader: ArchiveReader, manifest: ArchiveManifest, listing: Listing, cache: dict[str, Any]
) -> list[str]:
    """A signed version's ``signed_at`` against the archived signed PDFs' S3 time and evidence.json."""
    signed_at = manifest.facts.signed_at
    if signed_at is None or not manifest.stage.startswith(SIGNED_STAGE_PREFIX):
        return []
    signed_at = signed_at.astimezone(UTC)
    problems: list[str] = []
    for obj in manifest.objects:
        if obj.key.endswith("/document.pdf"):
            written = _written_at(listing, obj)
            if written is None:
                continue  # the object's own check says it is gone
            if signed_at > written + CLOCK_TOLERANCE:
                problems.append(
                    f"signed_at {signed_at:%Y-%m-%d %H:%M:%S} UTC is after {obj.key} was archived "
                    f"({written:%Y-%m-%d %H:%M:%S} UTC): it was not signed then"
                )
            elif written - signed_at > SIGNED_ARCHIVE_WINDOW:
                problems.append(
                    f"signed_at {signed_at:%Y-%m-%d %H:%M:%S} UTC is {(written - signed_at).days} days "
                    "before "
                    f"{obj.key} was archived ({written:%Y-%m-%d %H:%M:%S} UTC); a signature is archived "
                    "within minutes"
                )
        elif obj.key.endswith("/evidence.json"):
            record = _evidence_record(reader, obj, cache)
            recorded = _parse_time(record.get("signed_at")) if isinstance(record, dict) else None
            if recorded is not None and recorded != signed_at:
                problems.append(
                    f"signed_at {signed_at.isoformat()} differs from {obj.key}'s {recorded.isoformat()}"
                )
    return list(dict.fromkeys(problems))


def public_statement_lines(manifest: ArchiveManifest) -> tuple[list[str], list[str]]:
    """A signed version's public statement, as its manifest's facts name it: (what held, what failed).

    The facts' SHA-256 is that of a ``public-statement/v<version>/statement.html|pdf`` the manifest
    lists (each object's bytes are checked on their own), and the URL is the web app's
    ``/statement`` page. A manifest that names no statement and lists none has nothing to check.
    """
    facts = manifest.facts
    prefix = f"{manifest.organisation}/{manifest.year}/{PUBLIC_STATEMENT_FOLDER}/"
    listed = [
        obj
        for obj in manifest.objects
        if obj.key.startswith(prefix) and obj.key.rsplit("/", 1)[-1].startswith(PUBLIC_STATEMENT_STEM + ".")
    ]
    url, sha256 = facts.public_statement_url, facts.public_statement_sha256
    if sha256 is None and url is None:
        if listed:
            return [], [f"{listed[0].key} is archived, but the manifest's facts name no public statement"]
        return [], []
    problems: list[str] = []
    if sha256 is None or url is None:
        problems.append("the manifest's facts give the public statement's URL or SHA-256, not both")
    match = next((obj for obj in listed if obj.sha256 == sha256), None)
    if sha256 is not None and match is None:
        problems.append(
            f"the public statement's SHA-256 {sha256} is not that of a statement the manifest lists"
            + (f" ({listed[0].key} has {listed[0].sha256})" if listed else " (it lists none)")
        )
    if url is not None and not (
        url.startswith(("https://", "http://")) and url.endswith(PUBLIC_STATEMENT_PATH)
    ):
        problems.append(
            f"the public statement's URL {url!r} is not the web app's {PUBLIC_STATEMENT_PATH} page"
        )
    if problems or match is None:
        return [], problems
    return [
        f"the public statement {relative_name(match, manifest.organisation, manifest.year)} (published at "
        f"{url}) is archived with the SHA-256 the facts give"
    ], []


def _pin_findings(
    organisation: str, pinned: PinnedSeal | None, chains: YearChains, archived: dict[str, ArchivedObject]
) -> list[ObjectCheck]:
    key = seal_pin_key(organisation)
    certificates = [k for k in archived if k.endswith("/" + SEAL_CERTIFICATE_FILE)]
    if pinned is None:
        if not certificates:
            return []
        chained = any(m.manifest.chain is not None for m in chains.members())
        return [
            ObjectCheck(
                key=key,
                verdict=Verdict.FAIL if chained else Verdict.WARN,
                problems=[
                    "no seal certificate is pinned for the organisation, though its manifests are chained"
                    if chained
                    else "no seal certificate pinned for the organisation (archived before pinning): "
                    "each seal is checked only against the certificate archived beside it"
                ],
            )
        ]
    found: list[ObjectCheck] = []
    if pinned.problem:
        found.append(
            ObjectCheck(
                key=key, version_id=pinned.object.version_id, verdict=Verdict.FAIL, problems=[pinned.problem]
            )
        )
    for later in pinned.later:
        found.append(
            ObjectCheck(
                key=key,
                version_id=later.version_id,
                verdict=Verdict.FAIL,
                problems=[
                    f"a later write under the pinned seal certificate (version {later.version_id}); "
                    f"the first one, {pinned.object.version_id}, is the one believed"
                ],
            )
        )
    return found


def _pin_check(pinned: PinnedSeal | None, body: bytes, check: ObjectCheck) -> None:
    if pinned is None or pinned.pin is None:
        return
    try:
        fingerprint = certificate_fingerprint(body)
    except ValueError:
        check.problems.append("not a readable certificate")
        return
    pin = pinned.pin
    if fingerprint != pin.certificate_sha256:
        check.problems.append(
            f"seal certificate fingerprint {fingerprint} differs from the one pinned for "
            f"{pin.organisation} ({pin.certificate_sha256}, first archived with {pin.cycle_id} "
            f"on {pin.pinned_at:%Y-%m-%d})"
        )
    else:
        check.passed.append(f"the seal certificate pinned for {pin.organisation} on {pin.pinned_at:%Y-%m-%d}")


def _outside_prefix(manifest_key: str, obj: ArchivedObject, organisation: str, year: int) -> ObjectCheck:
    return ObjectCheck(
        key=obj.key,
        version_id=obj.version_id,
        verdict=Verdict.FAIL,
        problems=[
            f"listed by {manifest_key} but not below {organisation}/{year}/: not evidence of this year"
        ],
    )


def verify_archive(
    reader: ArchiveReader,
    organisation: str,
    year: int,
    *,
    now: datetime | None = None,
    progress: Progress = lambda _: None,
) -> VerifyReport:
    """Check every archived object of ``organisation``/``year`` against its cycle's chain of manifests.

    The manifests: each cycle's form a closed chain (:mod:`adapters.audit.chain`); any other
    manifest FAILs by name (extra, fork, gap, after the chain closed, unreadable), and only
    the chain's are believed. A signed version's ``signed_at`` agrees with the time S3 archived
    its signed PDFs and with evidence.json; each seal certificate is the one pinned for the
    organisation the first year (``<org>/seal-certificate.json``); every entry's key is below
    ``<org>/<year>/``.
    Per object: the archived version still exists; its SHA-256 and size match the manifest;
    COMPLIANCE retention is in force and not shortened; a PDF's seal is valid and intact. Per
    document of each signed version (``report.documents``, for manifests that list them): every
    file it must have is archived, the draft shown to the signer among them (:func:`document_checks`).
    Beside them: a later version under an archived key (FAIL: the key no longer serves the
    evidence), a delete marker (WARN: the evidence is intact, a plain GET no longer finds it),
    and objects no manifest of a chain lists (WARN).
    """
    now = now or datetime.now(UTC)
    report = VerifyReport(
        organisation=organisation,
        year=year,
        checked_at=now,
        source=f"s3://{reader.bucket}/{organisation}/{year}/",
    )
    listing = reader.listing(organisation, year)
    pinned = reader.seal_pin(organisation)
    chains = reader.chains(organisation, year, listing, pinned)
    if not chains.members() and not chains.findings:
        raise AuditError(
            f"nothing archived for {organisation} {year} (no manifest under {report.source}{MANIFESTS}/)"
        )
    report.objects += chains.findings
    archived: dict[str, ArchivedObject] = {}
    notes: dict[str, list[str]] = {}  # manifest key -> what its chain and facts say
    faults: dict[str, list[str]] = {}
    evidence: dict[str, Any] = {}
    for chain in chains.chains:
        for number, member in enumerate(chain.members, start=1):
            manifest, manifest_object = member.manifest, member.object
            report.manifests.append(manifest_object.key)
            if manifest.chain is not None:
                closes = " (it closes the chain)" if manifest.chain.next_key is None else ""
                notes[manifest_object.key] = [f"manifest {number} of cycle {chain.cycle_id}'s chain{closes}"]
            faults[manifest_object.key] = _signed_at_problems(reader, manifest, listing, evidence)
            held, broken = public_statement_lines(manifest)
            notes.setdefault(manifest_object.key, []).extend(held)
            faults[manifest_object.key] += broken
            role_lines, role_problems = _role_register_lines(manifest)
            notes.setdefault(manifest_object.key, []).extend(role_lines)
            faults[manifest_object.key] += role_problems
            described = manifest.facts.document_facts
            for facts, document in zip(described, document_checks(manifest), strict=True):
                _shown_checks(reader, manifest, facts, document, evidence)
                if document.problems:
                    document.verdict = Verdict.FAIL
                report.documents.append(document)
            archived[manifest_object.key] = manifest_object
            for obj in manifest.objects:
                if in_prefix(obj.key, organisation, year):
                    archived[obj.key] = obj
                else:
                    report.objects.append(_outside_prefix(manifest_object.key, obj, organisation, year))
        last = chain.head
        if chain.awaiting is not None and last is not None:  # a cycle still running: nothing wrong
            notes.setdefault(last.key, []).append(
                f"the chain of cycle {chain.cycle_id} continues with {chain.awaiting}, not archived yet "
                "(the acknowledgement campaign may still be running)"
            )
    report.objects += _pin_findings(organisation, pinned, chains, archived)
    manifest_objects = {key: obj for key, obj in archived.items() if key in report.manifests}
    tsa_pem, clock_notes, clock_faults, timestamp_checks = _timestamp_findings(
        reader, listing, organisation, year, manifest_objects, now
    )
    for key, lines in clock_notes.items():
        notes.setdefault(key, []).extend(lines)
    for key, lines in clock_faults.items():
        faults.setdefault(key, []).extend(lines)
    report.objects += timestamp_checks
    before = _before_trusted_time(reader, listing, chains, organisation, year, faults)
    warnings: dict[str, list[str]] = {key: [BEFORE_TRUSTED_TIME] for key in before}
    # the objects those manifests list were sealed before trusted time too: a plain PAdES check
    untimed = {o.key for m in chains.members() if m.object.key in before for o in m.manifest.objects}
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
                sealed = key.endswith(".pdf") and not key.rsplit("/", 1)[-1].startswith(SHOWN_DRAFT_STEM)
                # the organisation's own public statement is published as they made it, not sealed
                sealed = sealed and f"/{PUBLIC_STATEMENT_FOLDER}/" not in key
                if sealed and not check.problems:  # the draft shown was not sealed: it is as shown
                    before_tsa = key in untimed and _DOCUMENT_TIMESTAMP not in body
                    _pdf_check(
                        body, certificates.get(key.rsplit("/", 1)[0]), check, None if before_tsa else tsa_pem
                    )
                    if before_tsa and tsa_pem is not None:
                        warnings.setdefault(key, []).append(SEALED_BEFORE_TRUSTED_TIME)
                if key.endswith("/" + SEAL_CERTIFICATE_FILE) and not check.problems:
                    _pin_check(pinned, body, check)
        check.passed += notes.get(key, [])
        check.problems += faults.get(key, [])
        if check.problems:
            check.verdict = Verdict.FAIL
        elif key in warnings:
            check.verdict = Verdict.WARN
            check.problems += warnings[key]
        report.objects.append(check)
    reported = {c.key for c in chains.findings} | {c.key for c in timestamp_checks}
    report.objects += [c for c in _extra_findings(listing, archived) if c.key not in reported]
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
    chains = reader.chains(organisation, year)
    if not chains.members():
        raise AuditError(f"nothing archived for {organisation} {year}")
    report.objects += [c for c in chains.findings if c.verdict is Verdict.FAIL]
    expected: dict[str, ArchivedObject] = {}
    for member in chains.members():
        report.manifests.append(member.object.key)
        expected[relative_name(member.object, organisation, year)] = member.object
        for obj in member.manifest.objects:
            if in_prefix(obj.key, organisation, year):
                expected[relative_name(obj, organisation, year)] = obj
            else:
                report.objects.append(_outside_prefix(member.object.key, obj, organisation, year))
    for name, body in _copy_files(copy):
        if name in (PACK_INDEX_HTML, PACK_INDEX_JSON, PACK_SEAL_PIN, PACK_SEAL_CERTIFICATE):
            continue  # the pin: the offline verifier (adapters.audit.offline) checks the pack against it
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
