"""The evidence pack: every archived object of a year, hash-checked, in one zip with an index.

The zip keeps the archive's names below ``<org>/<year>/`` and adds ``index.json`` (path,
SHA-256, size, archived version id of each file; each document version: id, title,
version, SHA-256 of its sealed PDF; and the sixteen audit items of ``seeds/``: the six Clause 5
evidence items and the ten rows of the Clause 5.3 audit checklist, each with the files that
answer it or a plain line saying why none does) and ``index.html`` (the same, as tables).
Only the manifests on each cycle's chain and the objects they list are packed; an entry
outside ``<org>/<year>/`` refuses the pack (AuditError naming it).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from html import escape
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from adapters.audit.chain import YearChains
from adapters.audit.reader import (
    ACKNOWLEDGEMENTS,
    MANIFESTS,
    RENDER_MANIFESTS,
    ArchiveReader,
    AuditError,
    Progress,
    in_prefix,
    relative_name,
)
from core.files import publish_file
from core.hashing import sha256_bytes
from core.timestamp_check import MANIFEST_TIMESTAMP_SUFFIX as TIMESTAMP_TOKEN_SUFFIX
from core.timestamp_check import TSA_CERTIFICATES_FILE as TSA_CERTIFICATES
from models.archive import (
    PUBLIC_STATEMENT_FOLDER,
    PUBLIC_STATEMENT_STEM,
    SEAL_CERTIFICATE_FILE,
    SEAL_PIN_FILE,
    SHOWN_DRAFT_STEM,
    ArchivedDocumentFacts,
    ArchivedObject,
    ArchiveManifest,
    SealPin,
)
from models.audit import ArchivedCycle, PackDocument, PackEntry, PackIndex
from models.audit_items import AuditItem, ItemisedPackIndex, ItemStatus
from models.check_report import CHECK_REPORT_FOLDER
from models.profile import APPOINTMENT_LETTER, POLICY_DOCUMENT, ROLES_DOCUMENT
from models.role_acceptance import (
    ROLE_ACCEPTANCE_FOLDER,
    ROLE_REGISTER_CSV,
    ROLE_REGISTER_JSON,
    ROLE_REPORT_HTML,
)

PACK_INDEX_HTML = "index.html"
PACK_INDEX_JSON = "index.json"
# at the pack's root: the organisation's pinned seal certificate as archived (<org>/seal-certificate.json,
# byte for byte), and its certificate alone as PEM, for a validator's --trust (pyhanko sign validate)
PACK_SEAL_PIN = SEAL_PIN_FILE
PACK_SEAL_CERTIFICATE = SEAL_CERTIFICATE_FILE

EVIDENCE_GUIDE = "ISO 27001 Clause 5: what evidence is required (seeds/000)"
CHECKLIST_GUIDE = "ISO 27001 Clause 5.3 Audit Checklist (seeds/001)"
OUTSIDE_SCOPE = "outside this tool's scope: "
NOT_YET_PRODUCED = "not yet produced by this tool: "

# the pack's files, by their names below <org>/<year>/
_POLICY = f"{POLICY_DOCUMENT}/v*/"
_ROLES = f"{ROLES_DOCUMENT}/v*/"
_CHECK = f"{CHECK_REPORT_FOLDER}/v*/report.*"
_REGISTER = f"{ACKNOWLEDGEMENTS}/v*/register.*"
_ACK_REPORT = f"{ACKNOWLEDGEMENTS}/v*/report.*"
_RENDER = f"{RENDER_MANIFESTS}/v*.json"
_LETTER = f"{APPOINTMENT_LETTER}/v*/"
_LETTER_FILES = (f"{_LETTER}document.pdf", f"{_LETTER}certificate.pdf", f"{_LETTER}evidence.json")
_ROLE_REGISTER = tuple(
    f"{ROLE_ACCEPTANCE_FOLDER}/v*/{name}"
    for name in (ROLE_REGISTER_CSV, ROLE_REGISTER_JSON, ROLE_REPORT_HTML)
)
_STATEMENT = (
    f"{PUBLIC_STATEMENT_FOLDER}/v*/{PUBLIC_STATEMENT_STEM}.html",
    f"{PUBLIC_STATEMENT_FOLDER}/v*/{PUBLIC_STATEMENT_STEM}.pdf",
)
# evidence item 5 when no version of the pack published a statement: the profile had none
NO_STATEMENT_NOTE = "the organisation publishes its policy elsewhere"


@dataclass(frozen=True)
class AuditQuestion:
    """An item of the guides: the files of a pack that answer it, and what lies beyond this tool."""

    id: str
    source: str
    name: str  # as the guide names it
    answered_by: tuple[str, ...] = ()  # glob patterns of pack paths
    shows: str = ""  # what those files show
    beyond: ItemStatus | None = None  # OUTSIDE_SCOPE or NOT_YET_PRODUCED: for what no file here shows
    beyond_note: str = ""
    # parts of the answer the pack may lack (a profile without the letter, acceptance still open):
    # each a few of ``answered_by``'s patterns and what they are; a part with no file makes it PARTLY
    parts: tuple[tuple[tuple[str, ...], str], ...] = ()
    # when no file answers it: this status and note instead of NOT_IN_PACK (a choice of the profile)
    absent: ItemStatus | None = None
    absent_note: str = ""
    # answered only when staff answered comprehension questions (the register records the answers)
    needs_questions: bool = False


_LETTER_PART = (_LETTER_FILES, "the ISMS lead's appointment letter (the profile had none)")
_ACCEPTANCE_PART = (_ROLE_REGISTER, "the role acceptance register (not archived yet, or not asked)")

AUDIT_QUESTIONS: tuple[AuditQuestion, ...] = (
    AuditQuestion(
        "evidence-1",
        EVIDENCE_GUIDE,
        "A documented, approved IS policy",
        (f"{_POLICY}document.pdf", f"{_POLICY}document.docx", _RENDER),
        "the information security policy as signed (sealed PDF and Word), version-controlled and dated; "
        "the render manifest records what the version is made of",
    ),
    AuditQuestion(
        "evidence-2",
        EVIDENCE_GUIDE,
        "A signed or formally approved policy document with a named signatory in a leadership role",
        (f"{_POLICY}document.pdf", f"{_POLICY}certificate.pdf", f"{_POLICY}evidence.json"),
        "the sealed policy with top management's signature block, the certificate of completion and "
        "the signature evidence (who, intent, when, where)",
    ),
    AuditQuestion(
        "evidence-3",
        EVIDENCE_GUIDE,
        "A documented assignment of ISMS responsibilities",
        (f"{_ROLES}document.pdf", f"{_ROLES}document.docx"),
        "the roles, responsibilities and authorities with the RACI matrix, naming each role's holder",
    ),
    AuditQuestion(
        "evidence-4",
        EVIDENCE_GUIDE,
        "Records showing staff have received and acknowledged the IS policy",
        (_REGISTER, _ACK_REPORT),
        "each person's acknowledgement (who, when, version) and the rate overall and by department",
    ),
    AuditQuestion(
        "evidence-5",
        EVIDENCE_GUIDE,
        "Evidence that the IS policy is accessible to interested external parties",
        _STATEMENT,
        "the public policy statement of the signed version, as published at the web app's public URL "
        "(no sign-in), with the signed policy's SHA-256",
        absent=ItemStatus.OUTSIDE_SCOPE,
        absent_note=NO_STATEMENT_NOTE,
    ),
    AuditQuestion(
        "evidence-6",
        EVIDENCE_GUIDE,
        "A formal record designating the individual responsible for the ISMS",
        (f"{_ROLES}document.pdf", f"{_ROLES}evidence.json", *_LETTER_FILES, *_ROLE_REGISTER),
        "the roles document signed by top management names the ISMS lead; the lead's appointment letter, "
        "signed by top management in the same signature; the lead's own acceptance of the role",
        parts=(_LETTER_PART, _ACCEPTANCE_PART),
    ),
    AuditQuestion(
        "checklist-1",
        CHECKLIST_GUIDE,
        "1. Role Definitions",
        (f"{_ROLES}document.pdf", _CHECK),
        "the documented roles and RACI matrix; the Clause 5 check shows both mandatory responsibilities "
        "assigned and every rule evaluated",
    ),
    AuditQuestion(
        "checklist-2",
        CHECKLIST_GUIDE,
        "2. Role Assignment",
        (f"{_ROLES}document.pdf", *_LETTER_FILES, *_ROLE_REGISTER),
        "each role assigned to a named holder (and deputy) in the signed roles document; the ISMS lead's "
        "signed appointment letter; each holder's and deputy's acceptance of their role (who, when, IP, "
        "user agent, version hash)",
        parts=(_LETTER_PART, _ACCEPTANCE_PART),
    ),
    AuditQuestion(
        "checklist-3",
        CHECKLIST_GUIDE,
        "3. Clarity of Responsibilities",
        (f"{_ROLES}document.pdf", _CHECK),
        "the RACI matrix; the Clause 5 check lists each segregation-of-duties pair with its result",
    ),
    AuditQuestion(
        "checklist-4",
        CHECKLIST_GUIDE,
        "4. Authority Alignment",
        (f"{_ROLES}document.pdf",),
        "the authorities documented for each role",
        ItemStatus.OUTSIDE_SCOPE,
        "system administration logs, MFA enforcement on privileged accounts and the mapping of privileged "
        "access to roles (IAM/PAM configuration)",
    ),
    AuditQuestion(
        "checklist-5",
        CHECKLIST_GUIDE,
        "5. Communication of Roles",
        (_REGISTER, _ACK_REPORT),
        "the acknowledgement register and the campaign report (electronic sign-offs of the documents)",
    ),
    AuditQuestion(
        "checklist-6",
        CHECKLIST_GUIDE,
        "6. Understanding and Competence",
        (f"{ACKNOWLEDGEMENTS}/v*/register.csv", f"{ACKNOWLEDGEMENTS}/v*/register.json", _ACK_REPORT),
        "each person's answers to the comprehension questions they answered before acknowledging, "
        "with how many tries it took, and the first-attempt pass rate per question in the report",
        needs_questions=True,
        beyond=ItemStatus.OUTSIDE_SCOPE,
        beyond_note="interviews with key personnel, incident response drill outcomes and the competency "
        "matrix (Clause 7.2)",
    ),
    AuditQuestion(
        "checklist-7",
        CHECKLIST_GUIDE,
        "7. ISMS Integration",
        (f"{_ROLES}document.pdf",),
        "the RACI matrix names who owns risk and incident activities",
        ItemStatus.OUTSIDE_SCOPE,
        "the information security risk register and change management approval logs",
    ),
    AuditQuestion(
        "checklist-8",
        CHECKLIST_GUIDE,
        "8. Regularity of Reviews",
        (_CHECK, _RENDER),
        "the Clause 5 check of the signed version (holders still employed, in scope and in their role's "
        "department) and the render manifest next year's review compares against",
        ItemStatus.OUTSIDE_SCOPE,
        "access review logs, offboarding checklists and revoked access records (HR and IAM systems)",
    ),
    AuditQuestion(
        "checklist-9",
        CHECKLIST_GUIDE,
        "9. Handling Performance Gaps",
        beyond=ItemStatus.OUTSIDE_SCOPE,
        beyond_note="remedial training records and corrective action logs (the CAPA process)",
    ),
    AuditQuestion(
        "checklist-10",
        CHECKLIST_GUIDE,
        "10. Organisational Structure",
        (f"{_ROLES}document.pdf", _CHECK),
        "the reporting lines of the roles document; the Clause 5 check shows the ISMS lead's line "
        "reaching top management",
        ItemStatus.OUTSIDE_SCOPE,
        "board meeting minutes detailing ISMS performance reviews (Clause 9.3)",
    ),
)


def _prefix(status: ItemStatus) -> str:
    return OUTSIDE_SCOPE if status is ItemStatus.OUTSIDE_SCOPE else NOT_YET_PRODUCED


def _matches(paths: list[str], patterns: tuple[str, ...]) -> list[str]:
    return sorted(p for p in paths if any(fnmatchcase(p, pattern) for pattern in patterns))


def _manifest_figures(question: AuditQuestion, manifests: list[ArchiveManifest]) -> str:
    """What the manifests say beyond the files: the statement's URL, the role acceptance figures."""
    if question.id == "evidence-5":
        urls = [
            f"{m.facts.public_statement_url} (SHA-256 {m.facts.public_statement_sha256})"
            if m.facts.public_statement_sha256
            else m.facts.public_statement_url
            for m in manifests
            if m.facts.public_statement_url
        ]
        return f"published at {', '.join(urls)}" if urls else ""
    if question.id in ("evidence-6", "checklist-2"):
        figures = [
            f"{m.facts.roles_accepted} of {m.facts.roles_in_scope} named holders and deputies accepted "
            f"version {m.facts.version or '?'}"
            for m in manifests
            if m.facts.roles_in_scope is not None and m.facts.roles_accepted is not None
        ]
        return "; ".join(figures)
    return ""


def audit_items(
    paths: list[str], *, manifests: list[ArchiveManifest] | None = None, questions_asked: bool = False
) -> list[AuditItem]:
    """The sixteen items, each with the pack paths (of ``paths``) that answer it.

    An item this tool answers whose files the pack lacks (a cycle not yet acknowledged, an
    archive written before the check report existed) says so: no item is left out. ``manifests``
    (the chain's) add what their facts say: where the statement is published, how many holders
    accepted their roles. ``questions_asked``: staff answered comprehension questions (the
    acknowledgement register holds their answers), so the register answers checklist row 6 in part.
    """
    items = []
    for question in AUDIT_QUESTIONS:
        files = (
            [] if question.needs_questions and not questions_asked else _matches(paths, question.answered_by)
        )
        beyond = f"{_prefix(question.beyond)}{question.beyond_note}" if question.beyond else ""
        missing = [what for patterns, what in question.parts if not _matches(paths, patterns)]
        if files:
            status = ItemStatus.PARTLY if question.beyond or missing else ItemStatus.ANSWERED
            figures = _manifest_figures(question, manifests or [])
            note = "; ".join(
                part
                for part in (
                    question.shows,
                    figures,
                    f"not in this pack: {', '.join(missing)}" if missing else "",
                    beyond,
                )
                if part
            )
        elif question.absent is not None:
            status, note = question.absent, f"{_prefix(question.absent)}{question.absent_note}"
        elif question.answered_by and not question.needs_questions:
            status = ItemStatus.NOT_IN_PACK
            note = f"this pack holds no file for it yet ({question.shows})" + (
                f"; {beyond}" if beyond else ""
            )
        else:  # no file of this tool answers it (or no questions were asked)
            assert question.beyond is not None
            status, note = question.beyond, beyond
        items.append(
            AuditItem(
                id=question.id,
                source=question.source,
                name=question.name,
                status=status,
                files=files,
                note=note,
            )
        )
    return items


def _answers_recorded(path: str, body: bytes) -> bool:
    """Whether ``body`` is an acknowledgement register (JSON) in which someone answered questions."""
    if not fnmatchcase(path, f"{ACKNOWLEDGEMENTS}/v*/register.json"):
        return False
    try:
        people = json.loads(body).get("people", [])
    except (ValueError, AttributeError):
        return False
    return any(isinstance(person, dict) and person.get("attempts") for person in people)


def _other_document(filename: str, document: str, facts: ArchivedDocumentFacts | None) -> str:
    """What a document beyond the two Clause 5 requires proves (an organisation's own policy)."""
    title = facts.title if facts and facts.title else document
    signed = facts.signed if facts else True
    if filename == "document.pdf":
        if signed:
            return (
                f"A.5.1 policies for information security: {title}, approved by top management (sealed PDF)"
            )
        return (
            f"A.5.1 policies for information security: {title}, communicated to relevant personnel; sealed "
            "by the organisation, not under top management's signature (sealed PDF)"
        )
    stamped = (
        "signature block stamped in" if signed and (facts is None or facts.kind != "static") else "as issued"
    )
    return f"A.5.1: {title} as a Word document, {stamped}"


def evidence_item(name: str, facts: ArchivedDocumentFacts | None = None) -> str:
    """The Clause 5 evidence item an archived file proves (``name`` relative to ``<org>/<year>/``).

    ``facts`` is what the manifest says of the file's document (its title, whether top
    management signed it), for the documents beyond the policy (5.2) and the roles (5.3).
    """
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
    if parts[0] == CHECK_REPORT_FOLDER:
        return (
            "5.3 (checklist rows 1, 3, 8, 10): the Clause 5 check of the signed version: every rule "
            "evaluated, its findings, the segregation-of-duties pairs and the ISMS lead's reporting line"
        )
    if parts[0] == ROLE_ACCEPTANCE_FOLDER:
        if filename == ROLE_REPORT_HTML:
            return (
                "5.3 (checklist row 2, evidence item 6): the role acceptance report: who accepted which "
                "role and when, who did not, the declines with their reasons"
            )
        return (
            "5.3 (checklist row 2, evidence item 6): each role holder's and deputy's acceptance of "
            "their role (who, when, IP, user agent, version hash, the appointment letter's hash)"
        )
    if parts[0] == PUBLIC_STATEMENT_FOLDER:
        return (
            "5.2 g) (evidence item 5): the public policy statement of the signed version, as published "
            "at the web app's public URL"
        )
    if parts[0] == APPOINTMENT_LETTER and filename in ("document.pdf", "document.docx"):
        form = "sealed PDF" if filename == "document.pdf" else "Word, signature block stamped in"
        return (
            "5.3 (checklist row 2, evidence item 6): the ISMS lead's appointment letter, signed by top "
            f"management in the same signature ({form})"
        )
    if parts[0] == ACKNOWLEDGEMENTS:
        if filename.startswith("register"):
            return (
                "5.2 f) and 5.3: the policy and the roles communicated within the organisation: "
                "each person's acknowledgement"
            )
        return "5.2 f) and 5.3: the communication outcome: acknowledgement rate overall and by department"
    if filename in ("document.pdf", "document.docx") and parts[0] not in (POLICY_DOCUMENT, ROLES_DOCUMENT):
        return _other_document(filename, parts[0], facts)
    policy = parts[0] == POLICY_DOCUMENT
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
    if filename.startswith(SHOWN_DRAFT_STEM + "."):
        return "5.1: the draft shown to top management when signing, whose SHA-256 the signature carries"
    return "supporting evidence"


def build_pack(
    reader: ArchiveReader,
    organisation: str,
    year: int,
    out: Path,
    *,
    progress: Progress = lambda _: None,
    chains: YearChains | None = None,
) -> PackIndex:
    """Write the evidence pack zip: every archived object (hash-checked), its manifests and an index.

    From the manifests on each cycle's chain (``chains``, read here when None); an entry outside
    ``<org>/<year>/`` refuses the pack. The zip is written beside ``out`` and renamed into place
    once complete, so ``out`` is either the previous file or the whole new pack.
    """
    pinned = reader.seal_pin(organisation)
    chains = chains or reader.chains(organisation, year, pinned=pinned)
    manifests = [(m.manifest, m.object) for m in chains.members()]
    if not manifests:
        raise AuditError(f"nothing archived for {organisation} {year}")
    outside = [
        f"{o.key} (listed by {mo.key})"
        for manifest, mo in manifests
        for o in manifest.objects
        if not in_prefix(o.key, organisation, year)
    ]
    if outside:
        raise AuditError(
            f"the manifests of {organisation} {year} list objects outside {organisation}/{year}/: "
            f"{'; '.join(outside)}; no pack is built from them (run verify)"
        )
    cycles = reader.cycles(organisation, year, chains)
    index = ItemisedPackIndex(
        organisation=organisation,
        year=year,
        built_at=datetime.now(UTC),
        entries=[],
        documents=pack_documents(cycles),
        chain_state=chains.state(),
    )
    described = {
        f"{v.document}/v{v.version}": v.facts for c in cycles for v in c.versions if v.facts is not None
    }
    objects = sorted(
        {o.key: o for manifest, mo in manifests for o in [*manifest.objects, mo]}.values(),
        key=lambda o: o.key,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".part")
    try:
        questions_asked = False
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for number, obj in enumerate(objects, start=1):
                progress(f"[{number}/{len(objects)}] {obj.key}")
                body = reader.read_checked(obj)
                path = relative_name(obj, organisation, year)
                questions_asked = questions_asked or _answers_recorded(path, body)
                archive.writestr(path, body)
                index.entries.append(
                    PackEntry(
                        path=path,
                        sha256=obj.sha256,
                        size=obj.size,
                        evidence=evidence_item(path, described.get(path.rsplit("/", 1)[0])),
                        version_id=obj.version_id,
                    )
                )
            if pinned is not None:
                _write_pin(archive, index, reader.read_checked(pinned.object), pinned.object.version_id)
            _write_timestamps(archive, index, reader, organisation, year, [mo for _, mo in manifests])
            index.items = audit_items(
                [entry.path for entry in index.entries],
                manifests=[m for m, _ in manifests],
                questions_asked=questions_asked,
            )
            archive.writestr(PACK_INDEX_JSON, index.model_dump_json(indent=2))
            archive.writestr(PACK_INDEX_HTML, pack_index_html(index, cycles))
        publish_file(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return index


def _write_timestamps(
    archive: zipfile.ZipFile,
    index: PackIndex,
    reader: ArchiveReader,
    organisation: str,
    year: int,
    manifest_objects: list[ArchivedObject],
) -> None:
    """Each chain manifest's RFC 3161 timestamp (``<manifest>.tsr``, its first version) and the
    authority's certificates (``tsa-certificates*.pem``), so the pack alone proves when.

    They are archived after the manifest they vouch for, so no manifest lists them: the offline
    verifier checks each token against the manifest's bytes and these certificates.
    """
    listing = reader.listing(organisation, year)
    prefix = f"{organisation}/{year}/"
    wanted = [mo.key + TIMESTAMP_TOKEN_SUFFIX for mo in manifest_objects]
    wanted += sorted(
        key
        for key in listing.versions
        if key.removeprefix(prefix).startswith(TSA_CERTIFICATES.removesuffix(".pem"))
    )
    for key in wanted:
        versions = listing.versions.get(key)
        if not versions:
            continue
        first = versions[0]  # the one written first: a later one is not the evidence
        body = reader.read(key, first.version_id)
        path = key.removeprefix(prefix)
        archive.writestr(path, body)
        what = (
            "the timestamp authority's certificates, to check the timestamps"
            if path.endswith(".pem")
            else f"an RFC 3161 timestamp over {path.removesuffix(TIMESTAMP_TOKEN_SUFFIX)}: "
            "when its facts existed"
        )
        index.entries.append(
            PackEntry(
                path=path,
                sha256=sha256_bytes(body),
                size=len(body),
                evidence=f"7.5.3: {what}",
                version_id=first.version_id,
            )
        )


def _write_pin(archive: zipfile.ZipFile, index: PackIndex, body: bytes, version_id: str) -> None:
    """The pin as first archived (the version the verifier believes), and its certificate as PEM."""
    archive.writestr(PACK_SEAL_PIN, body)
    index.entries.append(
        PackEntry(
            path=PACK_SEAL_PIN,
            sha256=sha256_bytes(body),
            size=len(body),
            evidence="7.5.3: the organisation's seal certificate, pinned when it was first archived: "
            "every seal in the pack is checked against it",
            version_id=version_id,
        )
    )
    try:
        pem = SealPin.model_validate_json(body).certificate_pem.encode()
    except ValidationError:
        return  # the verifier reports the unreadable pin
    archive.writestr(PACK_SEAL_CERTIFICATE, pem)
    index.entries.append(
        PackEntry(
            path=PACK_SEAL_CERTIFICATE,
            sha256=sha256_bytes(pem),
            size=len(pem),
            evidence=f"7.5.3: the pinned seal certificate alone (from {PACK_SEAL_PIN}), to check the seals "
            "with any PAdES validator",
        )
    )


def pack_documents(cycles: list[ArchivedCycle]) -> list[PackDocument]:
    """Every archived document version: id, title, its version, the SHA-256 of its sealed PDF.

    From what each manifest says of its documents; a manifest written before it listed them
    gives the folder's id and the signed version, and the title stays empty.
    """
    found: list[PackDocument] = []
    for cycle in cycles:
        for version in cycle.versions:
            pdf = next((f for f in version.files if f.key.endswith("/document.pdf")), None)
            if pdf is None:
                continue
            facts = version.facts
            found.append(
                PackDocument(
                    id=version.document,
                    title=facts.title if facts else "",
                    version=(facts.version if facts and facts.version else version.version),
                    sha256=pdf.sha256,
                    path=relative_name(pdf, cycle.organisation, cycle.year),
                    kind=("static" if facts.docx_sha256 is None else facts.kind) if facts else "generated",
                    signed=facts.signed if facts else True,
                    acknowledges=facts.acknowledges if facts else True,
                    audience=facts.audience if facts else "everyone in scope",
                )
            )
    return found


def _cycle_line(cycle: ArchivedCycle) -> str:
    facts = cycle.facts
    signed = f" on {facts.signed_at:%d %B %Y}" if facts.signed_at is not None else ""
    acknowledged = (
        f"; acknowledged by {facts.acknowledged} of {facts.in_scope} ({escape(facts.rate_text)})"
        if facts.in_scope
        else ""
    )
    return (
        f"<li>{escape(cycle.cycle_id)}: version {escape(facts.version)}, signed by {escape(facts.signer)}"
        f"{signed}{acknowledged}</li>"
    )


def pack_index_html(index: PackIndex, cycles: list[ArchivedCycle]) -> str:
    """The pack's one-page index: each file, the Clause 5 evidence item it proves, its SHA-256."""
    summary = "".join(_cycle_line(c) for c in cycles)
    documents = "".join(
        f"<tr><td><code>{escape(d.id)}</code></td><td>{escape(d.title or d.id)}</td>"
        f"<td>{escape(d.version)}</td>"
        f"<td>{'signed by top management' if d.signed else 'sealed, not signed'}</td>"
        f"<td>{escape(d.audience) if d.acknowledges else 'not acknowledged by staff'}</td>"
        f"<td><code>{escape(d.path)}</code><br><code>{d.sha256}</code></td></tr>"
        for d in index.documents
    )
    questions = "".join(_item_row(item) for item in getattr(index, "items", []))
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
        "<h2>Documents</h2><table class=documents><thead><tr><th>Id</th><th>Title</th><th>Version</th>"
        "<th>Approval</th><th>Acknowledged by</th><th>Sealed PDF and its SHA-256</th></tr></thead>"
        f"<tbody>{documents}</tbody></table>"
        "<h2>Audit questions</h2><p>The six Clause 5 evidence items and the ten rows of the Clause 5.3 "
        "audit checklist, each with the files of this pack that answer it, or why none does.</p>"
        "<table class=items><thead><tr><th>Item</th><th>Answer</th><th>Files</th></tr></thead>"
        f"<tbody>{questions}</tbody></table>"
        "<h2>Files</h2><table><thead><tr><th>File</th><th>Evidence for</th><th>SHA-256</th>"
        "<th>Bytes</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>\n"
    )


_STATUS_TEXT = {
    ItemStatus.ANSWERED: "answered",
    ItemStatus.PARTLY: "partly answered",
    ItemStatus.OUTSIDE_SCOPE: "outside this tool's scope",
    ItemStatus.NOT_YET_PRODUCED: "not yet produced by this tool",  # no item of this version
    ItemStatus.NOT_IN_PACK: "not in this pack",
}


def _item_row(item: AuditItem) -> str:
    files = "<br>".join(f'<a href="{escape(f)}"><code>{escape(f)}</code></a>' for f in item.files) or "none"
    return (
        f'<tr id="{escape(item.id)}"><td>{escape(item.name)}<br><small>{escape(item.source)}</small></td>'
        f"<td><strong>{_STATUS_TEXT[item.status]}</strong>: {escape(item.note)}</td><td>{files}</td></tr>"
    )


def read_pack(data: bytes) -> tuple[ItemisedPackIndex, dict[str, bytes]]:
    """The index and files of a pack (for checks): raises AuditError if it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
        index = ItemisedPackIndex.model_validate_json(files[PACK_INDEX_JSON])
    except (zipfile.BadZipFile, KeyError, ValidationError) as exc:
        raise AuditError(f"not an evidence pack: {exc}") from exc
    return index, files
