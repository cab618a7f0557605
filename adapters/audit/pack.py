"""The evidence pack: every archived object of a year, hash-checked, in one zip with an index.

The zip keeps the archive's names below ``<org>/<year>/`` and adds ``index.json`` (path,
SHA-256, size, archived version id of each file; and each document version: id, title,
version, SHA-256 of its sealed PDF) and ``index.html`` (the documents, then each file and the
Clause 5 evidence item it proves). Only the manifests on each cycle's chain and the objects
they list are packed; an entry outside ``<org>/<year>/`` refuses the pack (AuditError naming it).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
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
from models.archive import (
    SEAL_CERTIFICATE_FILE,
    SEAL_PIN_FILE,
    SHOWN_DRAFT_STEM,
    ArchivedDocumentFacts,
    SealPin,
)
from models.audit import ArchivedCycle, PackDocument, PackEntry, PackIndex
from models.profile import POLICY_DOCUMENT, ROLES_DOCUMENT

PACK_INDEX_HTML = "index.html"
PACK_INDEX_JSON = "index.json"
# at the pack's root: the organisation's pinned seal certificate as archived (<org>/seal-certificate.json,
# byte for byte), and its certificate alone as PEM, for a validator's --trust (pyhanko sign validate)
PACK_SEAL_PIN = SEAL_PIN_FILE
PACK_SEAL_CERTIFICATE = SEAL_CERTIFICATE_FILE


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
    index = PackIndex(
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
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for number, obj in enumerate(objects, start=1):
                progress(f"[{number}/{len(objects)}] {obj.key}")
                body = reader.read_checked(obj)
                path = relative_name(obj, organisation, year)
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
            archive.writestr(PACK_INDEX_JSON, index.model_dump_json(indent=2))
            archive.writestr(PACK_INDEX_HTML, pack_index_html(index, cycles))
        publish_file(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return index


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
        "<h2>Files</h2><table><thead><tr><th>File</th><th>Evidence for</th><th>SHA-256</th>"
        "<th>Bytes</th></tr></thead>"
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
