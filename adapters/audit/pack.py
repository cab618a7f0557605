"""The evidence pack: every archived object of a year, hash-checked, in one zip with an index.

The zip keeps the archive's names below ``<org>/<year>/`` and adds ``index.json`` (path,
SHA-256, size, archived version id of each file) and ``index.html`` (each file and the Clause 5
evidence item it proves).
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from adapters.audit.reader import (
    ACKNOWLEDGEMENTS,
    MANIFESTS,
    RENDER_MANIFESTS,
    ArchiveReader,
    AuditError,
    Progress,
    relative_name,
)
from core.files import publish_file
from models.archive import SEAL_CERTIFICATE_FILE
from models.audit import ArchivedCycle, PackEntry, PackIndex

PACK_INDEX_HTML = "index.html"
PACK_INDEX_JSON = "index.json"


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
    """Write the evidence pack zip: every archived object (hash-checked), its manifests and an index.

    The zip is written beside ``out`` and renamed into place once complete, so ``out`` is
    either the previous file or the whole new pack.
    """
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
                        evidence=evidence_item(path),
                        version_id=obj.version_id,
                    )
                )
            archive.writestr(PACK_INDEX_JSON, index.model_dump_json(indent=2))
            archive.writestr(PACK_INDEX_HTML, pack_index_html(index, reader.cycles(organisation, year)))
        publish_file(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return index


def pack_index_html(index: PackIndex, cycles: list[ArchivedCycle]) -> str:
    """The pack's one-page index: each file, the Clause 5 evidence item it proves, its SHA-256."""
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
