"""The pack's index answers checklist row 2 and evidence items 5 and 6 with the new files.

Real SeaweedFS with Object Lock: a signed version with the ISMS lead's appointment letter and
the public policy statement, then the acknowledgements' manifest with the role acceptance
register, archived with the archive writer's own keys (the workflow's archiving is tested in
the workflow tiers); the pack is built with the auditor's read-only identity and its
``index.json`` read back item by item. A second year without letter, statement or register
says plainly which parts are missing, and evidence item 5 is outside the tool's scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.audit import ArchiveReader, build_pack, read_pack, verify_archive
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.settings import Settings
from devstack.synthetic import tiny_pdf
from documents.sealing import seal_pdf
from documents.signing_identity import load_or_create_signing_identity
from models.archive import ArchiveInput, ArchiveItem, ChainRequest, ManifestFacts
from models.audit import Verdict
from models.audit_items import AuditItem, ItemStatus
from models.signing import Signer

SIGNER = Signer(name="Eleanor Marsh", title="Chief Executive Officer", email="eleanor.marsh@larkspur.example")
POLICY = "information-security-policy/v3.0"
ROLES = "isms-roles-responsibilities/v3.0"
LETTER = "isms-lead-appointment/v3.0"
REGISTER = "role-acceptance/v3.0"
STATEMENT = "public-statement/v3.0"
URL = "https://isms.larkspur.example/statement"


@dataclass
class Files:
    """What each manifest lists, by name below <org>/<year>/ (a PDF is sealed for real)."""

    signed: list[str]
    acknowledged: list[str]
    signed_facts: dict[str, object] = field(default_factory=dict)
    acknowledged_facts: dict[str, object] = field(default_factory=dict)


def _archive(settings: Settings, folder: Path, files: Files) -> str:
    organisation = f"org{uuid.uuid4().hex[:8]}"
    cycle_id = f"isms-review-{organisation}-2026"
    s3 = make_s3_client(settings)
    identity = load_or_create_signing_identity(settings)
    folder.mkdir(parents=True, exist_ok=True)

    def item(name: str) -> ArchiveItem:
        path = folder / name.replace("/", "_")
        if name.endswith(".pdf"):
            raw = path.with_suffix(".raw.pdf")
            raw.write_bytes(tiny_pdf(name))
            seal_pdf(raw, path, identity, signer=SIGNER, reason="Approved")
        else:
            path.write_text(f"{name} of {organisation}\n")
        return ArchiveItem(source=store_input(s3, settings, path), name=name)

    activities = ArchiveActivities(settings=settings, s3=s3, seal_certificate_pem=identity.certificate_pem())
    signed = ActivityEnvironment().run(
        activities.archive_objects,
        ArchiveInput(
            cycle_id=cycle_id,
            organisation=organisation,
            year=2026,
            stage="signed-v3.0",
            items=[item(name) for name in files.signed],
            facts=ManifestFacts(
                version="3.0",
                signer=f"{SIGNER.name}, {SIGNER.title} <{SIGNER.email}>",
                signed_at=datetime.now(UTC).replace(microsecond=0),
                **files.signed_facts,
            ),
            chain=ChainRequest(next_stage="acknowledgements-v3.0"),
        ),
    )
    ActivityEnvironment().run(
        activities.archive_objects,
        ArchiveInput(
            cycle_id=cycle_id,
            organisation=organisation,
            year=2026,
            stage="acknowledgements-v3.0",
            items=[item(name) for name in files.acknowledged],
            facts=ManifestFacts(
                version="3.0",
                in_scope=2,
                acknowledged=1,
                rate_text="50.0%",
                **files.acknowledged_facts,
            ),
            chain=ChainRequest(previous=signed.manifest, position=1),
        ),
    )
    return organisation


def _signed_version(*folders: str) -> list[str]:
    return [
        f"{folder}/{name}"
        for folder in folders
        for name in ("document.pdf", "document.docx", "certificate.pdf", "evidence.json")
    ]


ACKNOWLEDGEMENTS = ["acknowledgements/v3.0/register.csv", "acknowledgements/v3.0/report.html"]
ROLE_REGISTER = [f"{REGISTER}/register.csv", f"{REGISTER}/register.json", f"{REGISTER}/report.html"]


def _items(settings: Settings, tmp_path: Path, files: Files) -> tuple[dict[str, AuditItem], dict[str, str]]:
    """The pack's sixteen items by id, and each packed file's evidence line by path."""
    organisation = _archive(settings, tmp_path / "cycle", files)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    pack = tmp_path / "pack.zip"
    build_pack(reader, organisation, 2026, pack)
    index, packed = read_pack(pack.read_bytes())
    assert len(index.items) == 16
    for item in index.items:  # every file an item names is in the pack
        assert set(item.files) <= set(packed), item.id
    assert not [i.id for i in index.items if i.status is ItemStatus.NOT_YET_PRODUCED]
    assert "not yet produced" not in packed["index.html"].decode()
    assert {entry.path for entry in index.entries} <= set(packed)
    return {item.id: item for item in index.items}, {entry.path: entry.evidence for entry in index.entries}


def test_the_letter_the_register_and_the_statement_answer_their_items(
    settings: Settings, tmp_path: Path
) -> None:
    files = Files(
        signed=[*_signed_version(POLICY, ROLES, LETTER), f"{STATEMENT}/statement.html"],
        acknowledged=[*ACKNOWLEDGEMENTS, *ROLE_REGISTER],
        signed_facts={"public_statement_url": URL, "public_statement_sha256": "ab" * 32},
        acknowledged_facts={"roles_in_scope": 4, "roles_accepted": 3},
    )
    items, packed = _items(settings, tmp_path, files)
    assert {f"{LETTER}/document.pdf", f"{REGISTER}/register.json", f"{STATEMENT}/statement.html"} <= set(
        packed
    )
    assert packed[f"{REGISTER}/register.csv"].startswith(
        "5.3 (checklist row 2, evidence item 6): each role holder"
    )
    assert "acceptance report" in packed[f"{REGISTER}/report.html"]
    assert packed[f"{LETTER}/document.pdf"].endswith(
        "appointment letter, signed by top management in the same signature (sealed PDF)"
    )
    assert packed[f"{STATEMENT}/statement.html"].startswith(
        "5.2 g) (evidence item 5): the public policy statement"
    )

    evidence_5 = items["evidence-5"]
    assert (evidence_5.status, evidence_5.files) == (ItemStatus.ANSWERED, [f"{STATEMENT}/statement.html"])
    assert f"published at {URL} (SHA-256 {'ab' * 32})" in evidence_5.note

    letter = [f"{LETTER}/certificate.pdf", f"{LETTER}/document.pdf", f"{LETTER}/evidence.json"]
    evidence_6 = items["evidence-6"]
    assert evidence_6.status is ItemStatus.ANSWERED
    assert evidence_6.files == sorted(
        [*letter, *ROLE_REGISTER, f"{ROLES}/document.pdf", f"{ROLES}/evidence.json"]
    )
    checklist_2 = items["checklist-2"]
    assert checklist_2.status is ItemStatus.ANSWERED
    assert checklist_2.files == sorted([*letter, *ROLE_REGISTER, f"{ROLES}/document.pdf"])
    assert "3 of 4 named holders and deputies accepted version 3.0" in checklist_2.note
    assert "not in this pack" not in checklist_2.note


def test_without_letter_register_or_statement_the_index_says_which_part_is_missing(
    settings: Settings, tmp_path: Path
) -> None:
    items, packed = _items(
        settings, tmp_path, Files(signed=_signed_version(POLICY, ROLES), acknowledged=ACKNOWLEDGEMENTS)
    )
    assert not any(
        p.startswith(("public-statement/", "role-acceptance/", "isms-lead-appointment/")) for p in packed
    )

    evidence_5 = items["evidence-5"]
    assert (evidence_5.status, evidence_5.files) == (ItemStatus.OUTSIDE_SCOPE, [])
    assert evidence_5.note == "outside this tool's scope: the organisation publishes its policy elsewhere"
    for key in ("evidence-6", "checklist-2"):
        assert items[key].status is ItemStatus.PARTLY, key
        assert f"{ROLES}/document.pdf" in items[key].files
        assert "not in this pack: the ISMS lead's appointment letter" in items[key].note
        assert "the role acceptance register" in items[key].note


def test_verify_names_the_role_acceptance_figures_and_a_register_file_missing(
    settings: Settings, tmp_path: Path
) -> None:
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    whole = _archive(
        settings,
        tmp_path / "whole",
        Files(
            signed=_signed_version(POLICY),
            acknowledged=[*ACKNOWLEDGEMENTS, *ROLE_REGISTER],
            acknowledged_facts={"roles_in_scope": 4, "roles_accepted": 3},
        ),
    )
    report = verify_archive(reader, whole, 2026)
    manifest = next(
        o for o in report.objects if o.key == f"{whole}/2026/manifests/acknowledgements-v3.0.json"
    )
    assert (
        "role acceptance: 3 of 4 named role holders and deputies accepted version 3.0 "
        "(register and report in role-acceptance/v3.0/)"
    ) in manifest.passed
    assert not [line for line in manifest.problems if "role" in line]

    short = _archive(
        settings,
        tmp_path / "short",
        Files(
            signed=_signed_version(POLICY),
            acknowledged=[*ACKNOWLEDGEMENTS, f"{REGISTER}/register.csv"],
            acknowledged_facts={"roles_in_scope": 4, "roles_accepted": 4},
        ),
    )
    report = verify_archive(reader, short, 2026)
    manifest = next(
        o for o in report.objects if o.key == f"{short}/2026/manifests/acknowledgements-v3.0.json"
    )
    assert manifest.verdict is Verdict.FAIL
    assert [line for line in manifest.problems if "role" in line] == [
        f"it counts role holders but does not list {REGISTER}/register.json",
        f"it counts role holders but does not list {REGISTER}/report.html",
    ]
