"""Verify an evidence pack with nothing but the pack: no settings, no S3, no Temporal.

What is checked, from the pack's own files:

- every file against the SHA-256 and size the manifests list (a changed file FAILs by name; a
  listed file missing from the pack, or a file no manifest lists, FAILs too);
- the manifest chain, from the pack's manifests only (:func:`adapters.audit.chain.link_chains`:
  a gap, a fork, an extra manifest FAIL naming it), and that the chains are the ones the pack
  was built from (``index.json``'s ``chain_state``);
- every seal, trusting only the seal certificate pinned in the pack (``seal-certificate.json``,
  the organisation's pin as first archived; its certificate is ``seal-certificate.pem``): each
  ``seal-certificate.pem`` beside the PDFs and each manifest's ``seal_certificate_sha256`` must
  be the pinned one;
- which clock each time rests on (:class:`TimeFact`): a seal's time is the sealing computer's
  clock unless an RFC 3161 token verifies against the timestamp authority's certificates in the
  pack (``tsa-certificates.pem``); a manifest's time is the organisation's clock (its own
  ``signed_at``) unless :func:`manifest_time` finds a verified token beside it.

    report = verify_pack(Path("evidence-larkspur-2026.zip"))
    report.verdict, [t.clock for t in report.times]

Blocking (pyHanko): call it from a thread in async code.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from cryptography import x509
from pydantic import BaseModel, Field, ValidationError

from adapters.archive import certificate_fingerprint
from adapters.audit.chain import ReadManifest, YearChains, link_chains
from adapters.audit.pack import PACK_INDEX_HTML, PACK_INDEX_JSON, PACK_SEAL_CERTIFICATE, PACK_SEAL_PIN
from adapters.audit.reader import MANIFESTS, AuditError, in_prefix, relative_name
from core.hashing import sha256_bytes
from core.timestamp_check import verify_timestamp_response
from models.archive import (
    PUBLIC_STATEMENT_FOLDER,
    SEAL_CERTIFICATE_FILE,
    SHOWN_DRAFT_STEM,
    ArchivedObject,
    ArchiveManifest,
    SealPin,
)
from models.audit import ObjectCheck, PackIndex, Verdict, VerifyReport

# where a timestamp authority's certificates are archived, below <org>/<year>/ (once per cycle)
TSA_CERTIFICATES = "tsa-certificates.pem"
TIMESTAMP_TOKEN_SUFFIX = ".tsr"  # noqa: S105 (a file suffix, not a password); beside a manifest: manifests/<stage>.json.tsr
ORGANISATION_CLOCK = "the organisation's own clock"
# a manifest carries no write time of its own in a pack: the chain's order is its positions
_NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class TimeFact(BaseModel):
    """One fact with a time, and the clock that time rests on."""

    fact: str  # "information-security-policy/v3.0/document.pdf was sealed"
    at: datetime | None
    clock: str  # ORGANISATION_CLOCK..., or "an RFC 3161 timestamp from <authority>"
    trusted_time: bool = False  # True: an independent timestamp authority vouches for it


class PackReport(VerifyReport):
    """A pack's verification: the object checks, and which clock each time rests on."""

    times: list[TimeFact] = Field(default_factory=list)
    seal_certificate_sha256: str = ""  # the pinned certificate's fingerprint: compare it out of band


class PackFiles:
    """The files of a pack: a zip from ``isms audit pack``, or the folder it was unzipped into."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.files: dict[str, bytes] = {}
        if source.is_file():
            try:
                with zipfile.ZipFile(source) as archive:
                    self.files = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
            except (zipfile.BadZipFile, OSError) as exc:
                raise AuditError(f"{source} is not an evidence pack: not a readable zip ({exc})") from exc
        elif source.is_dir():
            self.files = {
                p.relative_to(source).as_posix(): p.read_bytes()
                for p in sorted(source.rglob("*"))
                if p.is_file()
            }
        else:
            raise AuditError(f"{source} is not an evidence pack: no such file or folder")
        body = self.files.get(PACK_INDEX_JSON)
        if body is None:
            raise AuditError(
                f"{source} is not an evidence pack: it has no {PACK_INDEX_JSON} "
                "(make one with `isms audit pack`)"
            )
        try:
            self.index = PackIndex.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the file"
            raise AuditError(
                f"{source} is not an evidence pack: {PACK_INDEX_JSON} {where}: {first['msg']}"
            ) from exc

    def __getitem__(self, name: str) -> bytes:
        return self.files[name]


def is_pack(copy: Path) -> bool:
    """A zip, or a folder with an ``index.json``: a pack (a folder from ``isms audit get`` is not)."""
    if copy.is_dir():
        return (copy / PACK_INDEX_JSON).is_file()
    return copy.is_file()


def _read_manifests(
    pack: PackFiles, organisation: str, year: int
) -> tuple[list[ReadManifest], list[ObjectCheck]]:
    # a manifest's version id: the one its successor's link gives with these very bytes' SHA-256
    # (the binding that counts), else the one index.json records
    versions = {entry.path: entry.version_id for entry in pack.index.entries}
    linked: dict[tuple[str, str], str] = {}
    for name, body in pack.files.items():
        if name.startswith(f"{MANIFESTS}/") and name.endswith(".json"):
            try:
                chain = ArchiveManifest.model_validate_json(body).chain
            except ValidationError:
                continue
            if chain is not None and chain.previous is not None:
                linked[(chain.previous.key, chain.previous.sha256)] = chain.previous.version_id
    found: list[ReadManifest] = []
    unreadable: list[ObjectCheck] = []
    for name, body in sorted(pack.files.items()):
        if not name.startswith(f"{MANIFESTS}/") or not name.endswith(".json"):
            continue
        try:
            manifest = ArchiveManifest.model_validate_json(body)
        except ValidationError as exc:
            unreadable.append(
                ObjectCheck(
                    key=name,
                    verdict=Verdict.FAIL,
                    problems=[f"not a readable manifest: {exc.errors()[0]['msg']}"],
                )
            )
            continue
        retain = min((o.retain_until for o in manifest.objects), default=_NO_TIME)
        key, digest = f"{organisation}/{year}/{name}", sha256_bytes(body)
        described = ArchivedObject(
            key=key,
            version_id=linked.get((key, digest)) or versions.get(name, ""),
            sha256=digest,
            size=len(body),
            content_type="application/json",
            retain_until=retain,
        )
        found.append(ReadManifest(manifest, described, _NO_TIME))
    return found, unreadable


def _pinned(pack: PackFiles, organisation: str, report: PackReport) -> bytes | None:
    """The pinned certificate's PEM (None: no usable pin, reported)."""
    body = pack.files.get(PACK_SEAL_PIN)
    if body is None:
        report.objects.append(
            ObjectCheck(
                key=PACK_SEAL_PIN,
                verdict=Verdict.WARN,
                problems=[
                    "the pack carries no pinned seal certificate (built before packs did, or the "
                    "organisation archived before pinning): each seal is checked only against the "
                    f"{SEAL_CERTIFICATE_FILE} archived beside it"
                ],
            )
        )
        return None
    check = ObjectCheck(key=PACK_SEAL_PIN, verdict=Verdict.PASS)
    report.objects.append(check)
    try:
        pin = SealPin.model_validate_json(body)
        fingerprint = certificate_fingerprint(pin.certificate_pem.encode())
    except (ValidationError, ValueError) as exc:
        check.verdict = Verdict.FAIL
        check.problems.append(f"not a readable seal certificate pin: {str(exc).splitlines()[0]}")
        return None
    if pin.organisation != organisation:
        check.problems.append(
            f"the pin is for organisation {pin.organisation!r}, the pack for {organisation!r}"
        )
    if fingerprint != pin.certificate_sha256:
        check.problems.append(
            f"its certificate has fingerprint {fingerprint}, the pin says {pin.certificate_sha256}"
        )
    pem = pack.files.get(PACK_SEAL_CERTIFICATE)
    if pem is not None and pem != pin.certificate_pem.encode():
        check.problems.append(f"{PACK_SEAL_CERTIFICATE} at the pack's root is not the pinned certificate")
    if check.problems:
        check.verdict = Verdict.FAIL
        return None
    report.seal_certificate_sha256 = fingerprint
    check.passed.append(
        f"seal certificate pinned for {organisation} with {pin.cycle_id} on {pin.pinned_at:%Y-%m-%d}: "
        f"fingerprint {fingerprint} (compare it with the one the organisation gave you)"
    )
    report.times.append(
        TimeFact(
            fact=f"the seal certificate was pinned ({PACK_SEAL_PIN})",
            at=pin.pinned_at,
            clock=ORGANISATION_CLOCK,
        )
    )
    return pin.certificate_pem.encode()


def manifest_time(name: str, manifest: ArchiveManifest, pack: PackFiles) -> tuple[TimeFact, str | None]:
    """When a manifest's facts were recorded, on which clock, and what is wrong with its timestamp.

    With an RFC 3161 token beside it (``<name>.tsr``), checked against the pack's
    ``tsa-certificates*.pem``: the authority's time (or a problem naming the token). Without
    one: the ``signed_at`` it states, on the organisation's own clock.
    """
    at = manifest.facts.signed_at if manifest.stage.startswith("signed-") else None
    what = "signed" if at is not None else "archived"
    fact = f"{name}: the version was {what} ({manifest.stage})"
    token = pack.files.get(name + TIMESTAMP_TOKEN_SUFFIX)
    if token is None:
        return TimeFact(fact=fact, at=at, clock=ORGANISATION_CLOCK + " (the time the manifest states)"), None
    trust = b"".join(body for path, body in sorted(pack.files.items()) if _is_tsa_certificates(path))
    if not trust:
        problem = f"{name}{TIMESTAMP_TOKEN_SUFFIX}: the pack has no tsa-certificates.pem to check it with"
        return TimeFact(fact=fact, at=at, clock=ORGANISATION_CLOCK), problem
    checked = verify_timestamp_response(token, data=pack.files[name], trust_pem=trust)
    if not checked.valid:
        problem = f"{name}{TIMESTAMP_TOKEN_SUFFIX} does not prove this manifest: {checked.detail}"
        return TimeFact(fact=fact, at=at, clock=ORGANISATION_CLOCK), problem
    facts_at = checked.time
    return (
        TimeFact(
            fact=f"{fact}; its manifest existed by then",
            at=facts_at,
            clock=f"an RFC 3161 timestamp from {checked.authority}",
            trusted_time=True,
        ),
        None,
    )


# a manifest without a timestamp in a pack with trusted time, archived before it was configured
_BEFORE = (
    "made before trusted time was configured: no RFC 3161 timestamp, so its time rests on the "
    "organisation's own clock"
)


def _missing_timestamp(
    name: str, manifest: ArchiveManifest, pack: PackFiles, *, stamped_earlier: bool
) -> str:
    """Why a manifest of a pack with trusted time has no timestamp: :data:`_BEFORE`, or the FAIL.

    The authority was on when it was archived, so the timestamp was cut out, when a manifest
    before it in its chain has one, or when a PDF it lists carries a document timestamp (sealed
    with trusted time). Otherwise it was archived before trusted time was configured.
    """
    if stamped_earlier:
        return (
            f"no RFC 3161 timestamp beside it ({name}{TIMESTAMP_TOKEN_SUFFIX} is missing), though a "
            "manifest before it in its chain has one: the timestamp was cut out"
        )
    for obj in manifest.objects:
        body = pack.files.get(relative_name(obj, manifest.organisation, manifest.year))
        if obj.key.endswith(".pdf") and body is not None and b"/ETSI.RFC3161" in body:
            return (
                f"no RFC 3161 timestamp beside it ({name}{TIMESTAMP_TOKEN_SUFFIX} is missing), though "
                "the seals it lists carry trusted time: the timestamp was cut out"
            )
    return _BEFORE


def _is_tsa_certificates(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.startswith(TSA_CERTIFICATES.removesuffix(".pem")) and name.endswith(".pem")


def _timestamp_trust(pack: PackFiles) -> list[x509.Certificate]:
    """The timestamp authority's certificates the pack carries (``tsa-certificates.pem``)."""
    found: list[x509.Certificate] = []
    for name, body in pack.files.items():
        if _is_tsa_certificates(name):
            try:
                found += x509.load_pem_x509_certificates(body)
            except ValueError:
                continue  # a timestamp then does not verify, and says so
    return found


def _seal_check(
    name: str,
    body: bytes,
    pinned_pem: bytes | None,
    beside: bytes | None,
    timestamp_trust: list[x509.Certificate],
    check: ObjectCheck,
    report: PackReport,
) -> None:
    # imported here: pyHanko takes most of a second to import
    from core.seal_check import check_seal, load_certificates

    trusted = pinned_pem or beside
    if trusted is None:
        check.problems.append(
            f"no pinned seal certificate and no {SEAL_CERTIFICATE_FILE} beside it to check the seal"
        )
        return
    with tempfile.TemporaryDirectory(prefix="isms-verify-") as folder:
        path = Path(folder) / PurePosixPath(name).name
        path.write_bytes(body)
        result, time = check_seal(
            path,
            trust=load_certificates(trusted),
            timestamp_trust=timestamp_trust,
        )
    against = "the pinned seal certificate" if pinned_pem else f"the {SEAL_CERTIFICATE_FILE} beside it"
    if result.valid and result.intact:
        check.passed.append(f"PAdES seal valid and intact against {against} ({result.signer_subject})")
    else:
        check.problems.append(f"PAdES seal not valid against {against}: {result.detail}")
    check.problems += list(time.problems)
    report.times.append(
        TimeFact(fact=f"{name} was sealed", at=time.at, clock=time.clock, trusted_time=bool(time.authority))
    )


def verify_pack(copy: Path, *, organisation: str | None = None, year: int | None = None) -> PackReport:
    """Check the evidence pack ``copy`` (zip or unzipped folder) from its own files alone.

    ``organisation``/``year``: what the caller expects the pack to be (AuditError if it is
    another one's). Raises AuditError when ``copy`` is not an evidence pack.
    """
    pack = PackFiles(copy)
    index = pack.index
    expected_names = (organisation or index.organisation, year or index.year)
    if expected_names != (index.organisation, index.year):
        raise AuditError(
            f"{copy} is the evidence pack of {index.organisation} {index.year}, "
            f"not of {expected_names[0]} {expected_names[1]}"
        )
    organisation, year = index.organisation, index.year
    report = PackReport(organisation=organisation, year=year, checked_at=datetime.now(UTC), source=str(copy))
    read, unreadable = _read_manifests(pack, organisation, year)
    chains = link_chains(read, organisation=organisation, year=year)
    chains.findings = unreadable + chains.findings
    for finding in chains.findings:  # named as in the pack
        finding.key = finding.key.removeprefix(f"{organisation}/{year}/")
    report.objects += chains.findings
    _chain_state(chains, index, report)
    pinned_pem = _pinned(pack, organisation, report)
    pinned_fingerprint = report.seal_certificate_sha256
    expected: dict[str, ArchivedObject] = {}
    notes: dict[str, list[str]] = {}
    faults: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    trusted_year = any(_is_tsa_certificates(path) for path in pack.files)
    for chain in chains.chains:
        stamped_earlier = False  # a manifest before this one in its chain has a timestamp
        for number, member in enumerate(chain.members, start=1):
            name = relative_name(member.object, organisation, year)
            report.manifests.append(name)
            expected[name] = member.object
            manifest = member.manifest
            if manifest.chain is not None:
                closes = " (it closes the chain)" if manifest.chain.next_key is None else ""
                notes[name] = [f"manifest {number} of cycle {chain.cycle_id}'s chain{closes}"]
            sealed_with = manifest.seal_certificate_sha256
            if pinned_fingerprint and sealed_with and sealed_with != pinned_fingerprint:
                faults.setdefault(name, []).append(
                    f"it was archived with seal certificate {sealed_with}, "
                    f"not the pinned {pinned_fingerprint}"
                )
            time_fact, timestamp_problem = manifest_time(name, manifest, pack)
            report.times.append(time_fact)
            if timestamp_problem is not None:
                faults.setdefault(name, []).append(timestamp_problem)
            stamped = name + TIMESTAMP_TOKEN_SUFFIX in pack.files
            if trusted_year and not stamped:
                missing = _missing_timestamp(name, manifest, pack, stamped_earlier=stamped_earlier)
                (faults if missing != _BEFORE else warnings).setdefault(name, []).append(missing)
            stamped_earlier = stamped_earlier or stamped
            for obj in manifest.objects:
                if in_prefix(obj.key, organisation, year):
                    expected[relative_name(obj, organisation, year)] = obj
                else:
                    report.objects.append(
                        ObjectCheck(
                            key=obj.key,
                            verdict=Verdict.FAIL,
                            problems=[
                                f"{name} lists it outside {organisation}/{year}/: not evidence of this year"
                            ],
                        )
                    )
        if chain.awaiting is not None and chain.head is not None:
            head = relative_name(chain.head.object, organisation, year)
            notes.setdefault(head, []).append(
                f"the chain of cycle {chain.cycle_id} continues with "
                f"{chain.awaiting.removeprefix(f'{organisation}/{year}/')}, not in this pack "
                "(it was built while the acknowledgement campaign was running)"
            )
    timestamp_trust = _timestamp_trust(pack)
    for name, obj in sorted(expected.items()):
        body = pack.files.get(name)
        check = ObjectCheck(key=name, version_id=obj.version_id, verdict=Verdict.PASS)
        if body is None:
            check.problems.append("listed in the manifests, but missing from the pack")
        elif sha256_bytes(body) != obj.sha256 or len(body) != obj.size:
            check.problems.append(
                f"altered: SHA-256 {sha256_bytes(body)} ({len(body)} bytes) does not match the manifest's "
                f"{obj.sha256} ({obj.size} bytes)"
            )
        else:
            check.passed.append(f"SHA-256 {obj.sha256[:16]}… matches the manifest")
            filename = PurePosixPath(name).name
            folder = name.rsplit("/", 1)[0] if "/" in name else ""
            if filename == SEAL_CERTIFICATE_FILE and pinned_fingerprint:
                _certificate_check(body, pinned_fingerprint, check)
            # the draft shown and the organisation's own public statement were not sealed
            sealed = (
                filename.endswith(".pdf")
                and not filename.startswith(SHOWN_DRAFT_STEM)
                and not name.startswith(f"{PUBLIC_STATEMENT_FOLDER}/")
            )
            if sealed and folder:  # the draft shown was not sealed: it is as shown
                beside = pack.files.get(f"{folder}/{SEAL_CERTIFICATE_FILE}")
                _seal_check(name, body, pinned_pem, beside, timestamp_trust, check, report)
        check.passed += notes.get(name, [])
        check.problems += faults.get(name, [])
        if check.problems:
            check.verdict = Verdict.FAIL
        elif name in warnings:
            check.verdict = Verdict.WARN
            check.problems += warnings[name]
        report.objects.append(check)
    known = {*expected, PACK_INDEX_HTML, PACK_INDEX_JSON, PACK_SEAL_PIN, PACK_SEAL_CERTIFICATE}
    listed_tokens = {f"{n}{TIMESTAMP_TOKEN_SUFFIX}" for n in report.manifests}
    known |= {path for path in pack.files if _is_tsa_certificates(path) and "/" not in path}
    for name in sorted(set(pack.files) - known - listed_tokens):
        if any(c.key == name for c in chains.findings):
            continue  # an extra or unreadable manifest: its finding says so
        report.objects.append(
            ObjectCheck(
                key=name,
                verdict=Verdict.FAIL,
                problems=["not listed in any manifest of the pack's chains: not evidence of this year"],
            )
        )
    report.documents = _document_checks(chains)
    return report


def _certificate_check(body: bytes, pinned: str, check: ObjectCheck) -> None:
    try:
        fingerprint = certificate_fingerprint(body)
    except ValueError:
        check.problems.append("not a readable certificate")
        return
    if fingerprint != pinned:
        check.problems.append(
            f"seal certificate fingerprint {fingerprint} differs from the pinned one ({pinned}): "
            "the seal certificate was swapped"
        )
    else:
        check.passed.append("the pinned seal certificate")


def _chain_state(chains: YearChains, index: PackIndex, report: PackReport) -> None:
    if not chains.members():
        report.objects.append(
            ObjectCheck(
                key=f"{MANIFESTS}/",
                verdict=Verdict.FAIL,
                problems=["the pack holds no manifest on a chain: nothing in it can be checked"],
            )
        )
        return
    if index.chain_state and index.chain_state != chains.state():
        report.objects.append(
            ObjectCheck(
                key=PACK_INDEX_JSON,
                verdict=Verdict.FAIL,
                problems=[
                    f"the pack was built from the chains whose heads hash to {index.chain_state}; the "
                    f"manifests in it now give {chains.state()}: a manifest was removed or added"
                ],
            )
        )


def _document_checks(chains: YearChains) -> list[ObjectCheck]:
    from adapters.audit.verify import document_checks

    return [check for member in chains.members() for check in document_checks(member.manifest)]


def pack_report_json(report: PackReport) -> str:
    payload = report.model_dump(mode="json")
    payload["verdict"] = report.verdict.value
    return json.dumps(payload, indent=2)
