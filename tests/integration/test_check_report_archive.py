"""The Clause 5 check report archived beside the signed version, and the pack index read back.

Real SeaweedFS with Object Lock: the archive activity writes the report from the stored demo
profile and directory; verify checks it with every other object; the pack's index.json maps
each of the sixteen audit items to the files that answer it (or says why none does).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from adapters.audit import ArchiveReader, build_pack, read_pack, verify_archive
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.settings import Settings
from models.audit import Verdict
from models.audit_items import ItemStatus
from models.check_report import CheckReportRequest
from tests.audit_helpers import archive_cycle

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
POLICY = "information-security-policy/v3.0"
ROLES = "isms-roles-responsibilities/v3.0"
CHECK = "clause5-check/v3.0"


def test_the_check_report_is_archived_verified_and_answers_its_rows(
    settings: Settings, tmp_path: Path
) -> None:
    s3 = make_s3_client(settings)
    request = CheckReportRequest(
        profile=store_input(s3, settings, DEMO / "profile.yaml"),
        staff=store_input(s3, settings, DEMO / "staff.csv"),
        as_of=date(2026, 11, 23),
    )
    year = archive_cycle(settings, tmp_path / "cycle", check_report=request)
    signed = year.results[0]
    keys = {o.key.split(f"{year.organisation}/{year.year}/", 1)[1]: o for o in signed.objects}
    assert {f"{CHECK}/report.json", f"{CHECK}/report.html"} <= set(keys)

    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS
    checked = {o.key for o in report.objects if o.verdict is Verdict.PASS}
    assert keys[f"{CHECK}/report.json"].key in checked

    pack = tmp_path / "pack.zip"
    build_pack(reader, year.organisation, year.year, pack)
    index, files = read_pack(pack.read_bytes())
    body = json.loads(files[f"{CHECK}/report.json"])
    assert body["blocking"] is False
    assert body["segregation_of_duties"][0]["result"] == "no conflict"
    assert {r["outcome"] for r in body["rules"]} == {"passed"}
    assert any(r["rule"] == "5.3.isms-lead-reports-to-top-management" for r in body["rules"])
    page = files[f"{CHECK}/report.html"].decode()
    assert "no conflict" in page
    assert "Chief Executive Officer (Top Management Sponsor)" in page

    items = {item.id: item for item in index.items}
    assert len(items) == 16
    assert [i.name for i in index.items][:1] == ["A documented, approved IS policy"]
    assert items["checklist-10"].name == "10. Organisational Structure"
    expected = {
        "evidence-1": (ItemStatus.ANSWERED, [f"{POLICY}/document.docx", f"{POLICY}/document.pdf"]),
        "evidence-2": (
            ItemStatus.ANSWERED,
            [f"{POLICY}/certificate.pdf", f"{POLICY}/document.pdf", f"{POLICY}/evidence.json"],
        ),
        "evidence-3": (ItemStatus.ANSWERED, [f"{ROLES}/document.docx", f"{ROLES}/document.pdf"]),
        "evidence-4": (ItemStatus.ANSWERED, ["acknowledgements/v3.0/register.csv", "acknowledgements/v3.0/report.html"]),
        "evidence-5": (ItemStatus.OUTSIDE_SCOPE, []),
        "evidence-6": (ItemStatus.PARTLY, [f"{ROLES}/document.pdf", f"{ROLES}/evidence.json"]),
        "checklist-1": (ItemStatus.ANSWERED, [f"{CHECK}/report.html", f"{CHECK}/report.json", f"{ROLES}/document.pdf"]),
        "checklist-2": (ItemStatus.PARTLY, [f"{ROLES}/document.pdf"]),
        "checklist-3": (ItemStatus.ANSWERED, [f"{CHECK}/report.html", f"{CHECK}/report.json", f"{ROLES}/document.pdf"]),
        "checklist-4": (ItemStatus.PARTLY, [f"{ROLES}/document.pdf"]),
        "checklist-5": (ItemStatus.ANSWERED, ["acknowledgements/v3.0/register.csv", "acknowledgements/v3.0/report.html"]),
        "checklist-6": (ItemStatus.OUTSIDE_SCOPE, []),
        "checklist-7": (ItemStatus.PARTLY, [f"{ROLES}/document.pdf"]),
        "checklist-8": (ItemStatus.PARTLY, [f"{CHECK}/report.html", f"{CHECK}/report.json"]),
        "checklist-9": (ItemStatus.OUTSIDE_SCOPE, []),
        "checklist-10": (ItemStatus.PARTLY, [f"{CHECK}/report.html", f"{CHECK}/report.json", f"{ROLES}/document.pdf"]),
    }  # fmt: skip
    assert {key: (item.status, item.files) for key, item in items.items()} == expected
    # no public statement in this profile: the organisation publishes its policy elsewhere
    assert (
        items["evidence-5"].note
        == "outside this tool's scope: the organisation publishes its policy elsewhere"
    )
    assert items["checklist-4"].note.count("outside this tool's scope: ") == 1
    assert "IAM/PAM" in items["checklist-4"].note
    for item in index.items:  # every file an item names is in the pack
        assert set(item.files) <= set(files), item.id
    html = files["index.html"].decode()
    assert html.count('<tr id="evidence-') == 6
    assert html.count('<tr id="checklist-') == 10
    entry = next(e for e in index.entries if e.path == f"{CHECK}/report.json")
    assert "checklist rows 1, 3, 8, 10" in entry.evidence


def test_an_archive_without_the_report_says_so_in_the_index(settings: Settings, tmp_path: Path) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", with_acknowledgements=False)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    pack = tmp_path / "pack.zip"
    build_pack(reader, year.organisation, year.year, pack)
    index, _ = read_pack(pack.read_bytes())
    items = {item.id: item for item in index.items}
    assert len(items) == 16
    assert items["evidence-4"].status is ItemStatus.NOT_IN_PACK
    assert items["evidence-4"].note.startswith("this pack holds no file for it yet")
    assert items["checklist-8"].status is ItemStatus.NOT_IN_PACK
    assert items["checklist-1"].files == [f"{ROLES}/document.pdf"]
