"""The ISMS lead's appointment letter through real LibreOffice: the built-in template and a user's own."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import yaml
from docx import Document
from temporalio.testing import ActivityEnvironment

from activities.signing import SigningActivities
from adapters.drafts import store_input
from adapters.s3 import get_file, make_s3_client
from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff
from core.seal_check import verify_pdf_signature
from core.settings import Settings
from documents.context import NO_DEPUTY, build_appointment_context
from documents.pdf_convert import PdfConverter
from documents.pipeline import LETTER_TEMPLATE, render_cycle, render_documents
from documents.signing_identity import load_or_create_signing_identity
from documents.sources import resolve_sources
from documents.template_check import check_template, context_model_for, real_context
from models.profile import APPOINTMENT_LETTER, APPOINTMENT_LETTER_TITLE, DocumentEntry
from models.signing import SignDocumentsInput, Signer

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
LETTER_NAME = f"{APPOINTMENT_LETTER}.docx"
SIGNATURE = "Signed electronically by Eleanor Marsh on 2 December 2026"


def _pdf_text(path: Path) -> str:
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(text.split())  # wrapped lines joined: phrases are searched whole


def _profile_copy(tmp_path: Path, change: dict[str, object] | None = None) -> Path:
    data = yaml.safe_load((DEMO / "profile.yaml").read_text())
    data.update(change or {})
    target = tmp_path / "profile.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def test_the_demo_cycle_has_the_letter_named_for_the_lead_and_signed_in_the_same_line(
    pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    made = render_cycle(profile, staff, tmp_path, signature_line=SIGNATURE, converter=pdf_converter)
    assert [document.name for document in made.documents] == [
        "information-security-policy.docx",
        "isms-roles-responsibilities.docx",
        LETTER_NAME,
    ]
    letter = made.documents[2]
    assert letter.title == APPOINTMENT_LETTER_TITLE
    assert letter.pdf_path is not None
    text = _pdf_text(letter.pdf_path)
    assert "Appointment of the ISMS lead" in text
    assert "Dear Ravi Chandran," in text
    assert "appoints you as ISMS Lead (Chief Technology Officer)" in text
    # the role's responsibilities and authorities, the Clause 5.3 wording first
    assert (
        "Ensuring that the information security management system conforms to the requirements of ISO/IEC 27001"
        in text
    )
    assert "Maintains the risk register and the Statement of Applicability" in text
    assert "Suspends access that puts information at risk, pending review" in text
    assert "to the Chief Executive Officer (Top Management Sponsor) (Eleanor Marsh)" in text
    assert "Sofia Alvarez (Engineering Lead, sofia.alvarez@larkspur.example) deputises for you" in text
    assert "Approved by Eleanor Marsh, Chief Executive Officer" in text
    # the same signature line every signed document of the version carries
    for document in made.documents:
        assert document.pdf_path is not None
        assert SIGNATURE in _pdf_text(document.pdf_path), document.name
    assert "{{" not in text
    assert "{%" not in text


def test_the_letter_says_so_when_the_lead_has_no_deputy(pdf_converter: PdfConverter, tmp_path: Path) -> None:
    data = yaml.safe_load((DEMO / "profile.yaml").read_text())
    lead = next(role for role in data["roles"] if role["id"] == "isms-lead")
    del lead["deputy"]
    profile_path = tmp_path / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(data, sort_keys=False))
    profile, staff = load_profile(profile_path), load_staff(DEMO / "staff.csv")
    context = build_appointment_context(profile, staff)
    assert (context.has_deputy, context.deputy_name) == (False, NO_DEPUTY)
    made = render_cycle(profile, staff, tmp_path / "out", converter=pdf_converter)
    assert made.documents[2].pdf_path is not None
    text = _pdf_text(made.documents[2].pdf_path)
    assert "No deputy is named; top management names one when the role needs it." in text
    assert "deputises for you" not in text


def test_role_acceptance_off_means_no_letter(tmp_path: Path) -> None:
    profile = load_profile(_profile_copy(tmp_path, {"role_acceptance": {"appointment_letter": False}}))
    made = render_cycle(profile, load_staff(DEMO / "staff.csv"), tmp_path / "out")
    assert [document.name for document in made.documents] == [
        "information-security-policy.docx",
        "isms-roles-responsibilities.docx",
    ]


def test_a_users_own_letter_template_replaces_the_built_in_one(
    pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    own = Document()
    own.add_heading("Letter of appointment (Larkspur house style)", level=1)
    own.add_paragraph("{{ organisation_name }} names {{ lead_name }} its {{ role_title }}.")
    own.add_paragraph("{%p for duty in responsibilities %}")
    own.add_paragraph("Duty: {{ duty }}")
    own.add_paragraph("{%p endfor %}")
    own.add_paragraph("Deputy: {{ deputy_name }}. Signed: {{ signature_line }}")
    (tmp_path / "templates").mkdir()
    own.save(str(tmp_path / "templates" / "letter.docx"))
    profile_path = _profile_copy(
        tmp_path, {"documents": [{"id": APPOINTMENT_LETTER, "template": "templates/letter.docx"}]}
    )
    profile, staff = load_profile(profile_path), load_staff(DEMO / "staff.csv")

    # templates check knows the letter's placeholders and renders it with the real values
    entry = next(entry for entry in profile.cycle_documents() if entry.id == APPOINTMENT_LETTER)
    check = check_template(
        tmp_path / "templates" / "letter.docx",
        context_model_for(APPOINTMENT_LETTER),
        render_with=real_context(profile, staff, entry),
    )
    assert check.ok, [problem.describe() for problem in check.problems]
    wrong = Document(str(tmp_path / "templates" / "letter.docx"))
    wrong.add_paragraph("{{ ceo_statement }}")  # a policy placeholder: not the letter's
    wrong.save(str(tmp_path / "wrong.docx"))
    refused = check_template(tmp_path / "wrong.docx", context_model_for(APPOINTMENT_LETTER))
    assert not refused.ok
    assert any("ceo_statement" in problem.describe() for problem in refused.errors)

    sources = resolve_sources(profile, profile_path.parent).files
    made = render_cycle(
        profile, staff, tmp_path / "out", sources=sources, signature_line=SIGNATURE, converter=pdf_converter
    )
    letter = next(document for document in made.documents if document.name == LETTER_NAME)
    assert letter.title == APPOINTMENT_LETTER_TITLE  # built-in id: the title comes with it
    assert letter.pdf_path is not None
    text = _pdf_text(letter.pdf_path)
    assert "Letter of appointment (Larkspur house style)" in text
    assert "Larkspur Analytics Ltd names Ravi Chandran its ISMS Lead (Chief Technology Officer)." in text
    assert "Duty: Leads the response to information security incidents" in text
    assert f"Deputy: Sofia Alvarez. Signed: {SIGNATURE}" in text
    assert "Dear Ravi Chandran" not in text  # not the built-in letter
    assert letter.template_sha256 == sha256_file(tmp_path / "templates" / "letter.docx")


def test_the_built_in_letter_uses_only_the_letters_placeholders() -> None:
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    check = check_template(
        LETTER_TEMPLATE,
        context_model_for(APPOINTMENT_LETTER),
        render_with=real_context(profile, staff, DocumentEntry(id=APPOINTMENT_LETTER)),
    )
    assert check.ok
    assert check.problems == []


async def test_the_signing_activity_seals_the_letter_with_the_version(
    settings: Settings, pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    """The CEO's one signature covers the letter: sealed, stamped and listed on the certificate."""
    s3 = make_s3_client(settings)
    identity = load_or_create_signing_identity(
        settings.model_copy(update={"signing_dir": tmp_path / "signing"})
    )
    activities = SigningActivities(settings=settings, s3=s3, converter=pdf_converter, identity=identity)
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    drafts = {d.name: d.sha256 for d in render_documents(profile, staff, tmp_path / "drafts")}
    assert LETTER_NAME in drafts
    signed_at = datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC)
    request = SignDocumentsInput(
        cycle_id=f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}",
        version="3.0",
        profile=store_input(s3, settings, DEMO / "profile.yaml"),
        staff=store_input(s3, settings, DEMO / "staff.csv"),
        signer=Signer(
            name="Eleanor Marsh", title="Chief Executive Officer", email="eleanor.marsh@larkspur.example"
        ),
        signed_at=signed_at,
        consent_text="I approve these documents on behalf of top management.",
        ip="203.0.113.7",
        user_agent="Firefox/130",
        shown_documents=drafts,
    )
    result = await asyncio.to_thread(ActivityEnvironment().run, activities.sign_documents, request)
    letter = next(document for document in result.documents if document.name == LETTER_NAME)
    pdf = get_file(s3, letter.pdf, tmp_path / "letter.pdf")
    check = await asyncio.to_thread(verify_pdf_signature, pdf, trust=[identity.certificate])
    assert check.valid, check.detail
    assert check.intact
    text = _pdf_text(pdf)
    assert (
        "Signed electronically by Eleanor Marsh, Chief Executive Officer, on 2026-12-02 09:30:00 UTC" in text
    )
    assert "Dear Ravi Chandran," in text
    certificate = _pdf_text(get_file(s3, result.certificate, tmp_path / "certificate.pdf"))
    assert letter.pdf.sha256 in certificate
    assert drafts[LETTER_NAME] in certificate
