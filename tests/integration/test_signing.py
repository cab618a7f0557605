"""Sealing on real S3 (SeaweedFS) and real LibreOffice: the identity, PAdES seals, the signing activity."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from docxtpl import DocxTemplate
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.documents import INTEGRITY
from activities.signing import SHOWN_DOCUMENTS_MISMATCH, SigningActivities
from adapters.drafts import store_input
from adapters.s3 import get_file, make_s3_client
from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff
from core.seal_check import verify_pdf_signature
from core.settings import Settings, load_settings
from documents.certificate import (
    CERTIFICATE_TEMPLATE,
    CertificateContext,
    audit_trail_with_signature,
    build_certificate_context,
)
from documents.pdf_convert import PdfConverter
from documents.pipeline import DOCUMENT_NAMES, render_documents
from documents.render import undeclared_variables
from documents.sealing import seal_pdf
from documents.signing_identity import SigningIdentity, SigningIdentityError, load_or_create_signing_identity
from documents.sources import resolve_sources
from models.signing import AuditEvent, SignDocumentsInput, Signer
from tests.documents_helpers import (
    AUP_TEXT,
    AUP_TITLE,
    FOUR_NAMES,
    HOUSE_STYLE_RENDERED,
    OWN_POLICY_TITLE,
    SDP_TEXT,
    SDP_TITLE,
    FourDocuments,
    four_documents,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"
EMPTY_SETTINGS = Path(__file__).resolve().parents[1] / "data" / "empty.env"
SIGNER = Signer(name="Eleanor Marsh", title="Chief Executive Officer", email="eleanor.marsh@larkspur.example")
SIGNED_AT = datetime(2026, 11, 23, 14, 5, 9, tzinfo=UTC)
CONSENT = (
    "I have read both documents and approve them on behalf of top management. I agree that typing my "
    "name and pressing Sign is my electronic signature."
)
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"


def _offline_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for the tests that need no server (the identity, sealing)."""
    values: dict[str, Any] = {
        "archive_bucket": "test-archive",
        "drafts_bucket": "test-drafts",
        "smtp_sender": "isms-cycle tests <isms@example.test>",
        "public_base_url": "http://127.0.0.1:1",
        "link_secret": "test-link-secret-" + "x" * 32,
        "signing_dir": tmp_path / "signing",
    }
    values.update(overrides)
    return load_settings(settings_file=EMPTY_SETTINGS, **values)


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


@pytest.fixture(scope="module")
def unsigned_pdf(tmp_path_factory: pytest.TempPathFactory, pdf_converter: PdfConverter) -> Path:
    """The demo policy as LibreOffice makes it: the kind of PDF the activity seals."""
    out = tmp_path_factory.mktemp("unsigned")
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    policy = render_documents(profile, staff, out)[0].path
    return pdf_converter.convert(policy, out / "policy.pdf")


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> SigningIdentity:
    return load_or_create_signing_identity(_offline_settings(tmp_path_factory.mktemp("identity")))


# --------------------------------------------------------------------------------------------
# The signing identity


def test_self_signed_identity_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path)
    first = load_or_create_signing_identity(settings, organisation="Larkspur Analytics Ltd")
    key_file = settings.signing_dir / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.self_signed
    assert first.subject == "CN=Larkspur Analytics Ltd document sealing, O=Larkspur Analytics Ltd"
    cert = first.certificate
    assert cert.not_valid_after_utc - cert.not_valid_before_utc > timedelta(days=3640)
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature
    assert key_usage.content_commitment  # nonRepudiation

    again = load_or_create_signing_identity(settings)
    assert again.fingerprint == first.fingerprint
    assert sorted(p.name for p in settings.signing_dir.iterdir()) == ["signing-cert.pem", "signing-key.pem"]


def test_processes_racing_on_first_run_share_one_identity(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        identities = list(pool.map(lambda _: load_or_create_signing_identity(settings), range(16)))
    assert len({identity.fingerprint for identity in identities}) == 1
    assert sorted(p.name for p in settings.signing_dir.iterdir()) == ["signing-cert.pem", "signing-key.pem"]


def test_a_key_left_without_its_certificate_gets_one(tmp_path: Path) -> None:
    settings = _offline_settings(tmp_path)
    first = load_or_create_signing_identity(settings)
    (settings.signing_dir / "signing-cert.pem").unlink()
    repaired = load_or_create_signing_identity(settings)
    assert repaired.certificate.public_key() == first.certificate.public_key()


def test_the_generated_key_is_encrypted_with_the_passphrase_when_one_is_set(tmp_path: Path) -> None:
    """Production sets ISMS_SIGNING_KEY_PASSPHRASE: the key on the volume is then useless alone."""
    settings = _offline_settings(tmp_path, signing_key_passphrase="a passphrase from a secret")
    made = load_or_create_signing_identity(settings)
    key_file = settings.signing_dir / "signing-key.pem"
    assert key_file.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # no passphrase: cannot be read
        serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert load_or_create_signing_identity(settings).fingerprint == made.fingerprint
    wrong = _offline_settings(tmp_path, signing_key_passphrase="another passphrase")
    with pytest.raises(SigningIdentityError, match="wrong passphrase"):
        load_or_create_signing_identity(wrong)


def test_configured_key_and_certificate_are_loaded_with_a_passphrase(tmp_path: Path) -> None:
    made = load_or_create_signing_identity(_offline_settings(tmp_path / "made"))
    key_file = tmp_path / "org-key.pem"
    key_file.write_bytes(
        made.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse battery staple"),
        )
    )
    cert_file = tmp_path / "org-cert.pem"
    cert_file.write_text(made.certificate_pem())
    configured = _offline_settings(
        tmp_path,
        signing_key_file=key_file,
        signing_cert_file=cert_file,
        signing_key_passphrase="correct horse battery staple",
    )
    assert load_or_create_signing_identity(configured).fingerprint == made.fingerprint
    assert not (tmp_path / "signing").exists()  # nothing generated when files are configured

    wrong = configured.model_copy(update={"signing_key_passphrase": None})
    with pytest.raises(SigningIdentityError, match=r"org-key\.pem"):
        load_or_create_signing_identity(wrong)


@pytest.mark.parametrize("problem", ["missing key", "missing certificate", "not a key", "other key"])
def test_unusable_configured_files_raise_a_named_error(tmp_path: Path, problem: str) -> None:
    made = load_or_create_signing_identity(_offline_settings(tmp_path / "made"))
    key_file, cert_file = tmp_path / "made" / "signing" / "signing-key.pem", tmp_path / "org-cert.pem"
    cert_file.write_text(made.certificate_pem())
    if problem == "missing key":
        key_file = tmp_path / "nowhere.pem"
    elif problem == "missing certificate":
        cert_file = tmp_path / "nowhere.pem"
    elif problem == "not a key":
        key_file = cert_file
    else:
        key_file = tmp_path / "other-key.pem"
        key_file.write_bytes(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    settings = _offline_settings(tmp_path, signing_key_file=key_file, signing_cert_file=cert_file)
    with pytest.raises(SigningIdentityError) as raised:
        load_or_create_signing_identity(settings)
    expected = {
        "missing key": "does not exist",
        "missing certificate": "does not exist",
        "not a key": "not a PEM private key",
        "other key": "does not belong to the certificate",
    }[problem]
    assert expected in str(raised.value)


# --------------------------------------------------------------------------------------------
# Sealing and verifying


def test_sealed_pdf_verifies_valid_and_intact(
    identity: SigningIdentity, unsigned_pdf: Path, tmp_path: Path
) -> None:
    sealed = seal_pdf(unsigned_pdf, tmp_path / "sealed.pdf", identity, signer=SIGNER, reason="Approved")
    check = verify_pdf_signature(sealed, trust=[identity.certificate])
    assert check.valid, check.detail
    assert check.intact
    assert check.signer_subject == identity.subject
    assert check.signing_time is not None
    assert abs(check.signing_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert sealed.read_bytes().startswith(unsigned_pdf.read_bytes())  # an incremental update
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_one_flipped_byte_in_the_signed_range_fails(
    identity: SigningIdentity, unsigned_pdf: Path, tmp_path: Path
) -> None:
    sealed = seal_pdf(unsigned_pdf, tmp_path / "sealed.pdf", identity, signer=SIGNER, reason="Approved")
    data = bytearray(sealed.read_bytes())
    # a byte inside the original document (covered by the first part of /ByteRange), in a stream
    position = data.index(b"stream", len(data) // 4) + 20
    data[position] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    check = verify_pdf_signature(tampered, trust=[identity.certificate])
    assert not check.valid
    assert not check.intact
    assert "modified" in check.detail


def test_a_seal_from_an_untrusted_key_is_not_valid(
    identity: SigningIdentity, unsigned_pdf: Path, tmp_path: Path
) -> None:
    stranger = load_or_create_signing_identity(_offline_settings(tmp_path, signing_dir=tmp_path / "stranger"))
    sealed = seal_pdf(unsigned_pdf, tmp_path / "sealed.pdf", stranger, signer=SIGNER, reason="Approved")
    check = verify_pdf_signature(sealed, trust=[identity.certificate])
    assert check.intact
    assert not check.valid
    assert "not trusted" in check.detail


def test_an_unsigned_pdf_is_not_valid(identity: SigningIdentity, unsigned_pdf: Path) -> None:
    check = verify_pdf_signature(unsigned_pdf, trust=[identity.certificate])
    assert not check.valid
    assert not check.intact
    assert "no embedded signature" in check.detail
    assert check.signing_time is None


# --------------------------------------------------------------------------------------------
# The certificate template


def test_certificate_template_declares_every_placeholder(identity: SigningIdentity) -> None:
    data = _request(cycle_id="c", profile=None, staff=None, shown={"a.docx": "0" * 64})
    context: CertificateContext = build_certificate_context(
        data=data,
        organisation="Org",
        documents=[],
        audit_trail=audit_trail_with_signature(data),
        identity=identity,
    )
    assert undeclared_variables(CERTIFICATE_TEMPLATE, context) == set()


# --------------------------------------------------------------------------------------------
# The signing activity


def _request(*, cycle_id: str, profile: Any, staff: Any, shown: dict[str, str]) -> SignDocumentsInput:
    return SignDocumentsInput.model_construct(
        cycle_id=cycle_id,
        version="3.0",
        profile=profile,
        staff=staff,
        signer=SIGNER,
        signed_at=SIGNED_AT,
        consent_text=CONSENT,
        ip="203.0.113.7",
        user_agent=BROWSER,
        shown_documents=shown,
        audit_trail=[
            AuditEvent(
                at=SIGNED_AT - timedelta(days=3),
                event="sent",
                actor="isms-cycle",
                detail="Signing invitation emailed to eleanor.marsh@larkspur.example",
            ),
            AuditEvent(
                at=SIGNED_AT - timedelta(days=1),
                event="reminded",
                actor="isms-cycle",
                detail="First reminder emailed",
            ),
            AuditEvent(
                at=SIGNED_AT - timedelta(minutes=12),
                event="opened",
                actor=SIGNER.email,
                detail="Both documents loaded",
                ip="203.0.113.7",
                user_agent=BROWSER,
            ),
        ],
    )


@pytest.fixture
def s3(settings: Settings) -> S3Client:
    return make_s3_client(settings)


@pytest.fixture
def signing(
    settings: Settings, s3: S3Client, pdf_converter: PdfConverter, identity: SigningIdentity
) -> SigningActivities:
    return SigningActivities(settings=settings, s3=s3, converter=pdf_converter, identity=identity)


@pytest.fixture
def drafts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The SHA-256 of each unsigned draft, as the signer was shown them."""
    out = tmp_path_factory.mktemp("drafts")
    rendered = render_documents(load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv"), out)
    return {document.name: document.sha256 for document in rendered}


async def test_sign_documents_seals_stamps_certifies_and_is_idempotent(
    signing: SigningActivities,
    settings: Settings,
    s3: S3Client,
    identity: SigningIdentity,
    drafts: dict[str, str],
    tmp_path: Path,
) -> None:
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}"
    request = SignDocumentsInput.model_validate(
        _request(
            cycle_id=cycle_id,
            profile=store_input(s3, settings, DEMO / "profile.yaml"),
            staff=store_input(s3, settings, DEMO / "staff.csv"),
            shown=drafts,
        ).model_dump()
    )
    env = ActivityEnvironment()
    result = await asyncio.to_thread(env.run, signing.sign_documents, request)

    prefix = f"{settings.drafts_prefix}{cycle_id}/signed/v3.0/"
    assert [d.name for d in result.documents] == list(drafts)
    for document in result.documents:
        assert document.draft_sha256 == drafts[document.name]
        stem = Path(document.name).stem
        assert document.docx is not None  # the built-in pair: both .docx
        assert document.docx.key == f"{prefix}{stem}.docx"
        assert document.pdf.key == f"{prefix}{stem}.pdf"
        pdf = get_file(s3, document.pdf, tmp_path / f"{stem}.pdf")  # checks the SHA-256
        check = await asyncio.to_thread(verify_pdf_signature, pdf, trust=[identity.certificate])
        assert check.valid, check.detail
        assert check.intact
        text = _pdf_text(pdf)
        assert (
            "Signed electronically by Eleanor Marsh, Chief Executive Officer, on 2026-11-23 14:05:09 UTC"
            in text
        )
        assert drafts[document.name][:16] in text
        assert "23 November 2026" in text  # the approval date
        get_file(s3, document.docx, tmp_path / f"{stem}.docx")
    assert result.certificate.key == f"{prefix}certificate.pdf"
    assert result.evidence.key == f"{prefix}evidence.json"

    certificate = get_file(s3, result.certificate, tmp_path / "certificate.pdf")
    check = await asyncio.to_thread(verify_pdf_signature, certificate, trust=[identity.certificate])
    assert check.valid, check.detail
    assert check.intact
    text = _pdf_text(certificate)
    assert "Certificate of Completion" in text
    assert cycle_id in text
    assert " ".join(CONSENT.split()) in text
    for event in [
        *request.audit_trail,
        AuditEvent(at=SIGNED_AT, event="signed", actor=SIGNER.email, detail="Typed name"),
    ]:
        assert f"{event.at:%Y-%m-%d %H:%M:%S}" in text
        assert event.event in text
        assert event.detail.split()[0] in text
    for document in result.documents:
        assert document.draft_sha256 in text
        assert document.pdf.sha256 in text
    assert identity.fingerprint in text

    evidence = json.loads(get_file(s3, result.evidence, tmp_path / "evidence.json").read_text())
    assert evidence["signer"] == SIGNER.model_dump()
    assert evidence["consent_text"] == CONSENT
    assert evidence["ip"] == "203.0.113.7"
    assert evidence["user_agent"] == BROWSER
    assert evidence["shown_documents"] == drafts
    assert evidence["seal"]["certificate_sha256"] == identity.fingerprint
    assert evidence["certificate"]["sha256"] == sha256_file(certificate)
    assert [e["event"] for e in evidence["audit_trail"]] == ["sent", "reminded", "opened", "signed"]
    for stored, document in zip(evidence["documents"], result.documents, strict=True):
        assert stored["draft_sha256"] == drafts[document.name]
        assert stored["docx"]["sha256"] == sha256_file(tmp_path / f"{Path(document.name).stem}.docx")
        assert stored["pdf"]["sha256"] == sha256_file(tmp_path / f"{Path(document.name).stem}.pdf")

    # a retry after the uploads finished: the stored result, nothing re-signed or re-uploaded
    versions_before = {
        key: s3.head_object(Bucket=settings.drafts_bucket, Key=key)["LastModified"]
        for key in [result.certificate.key, result.evidence.key, *(d.pdf.key for d in result.documents)]
    }
    again = await asyncio.to_thread(env.run, signing.sign_documents, request)
    assert again == result
    for key, modified in versions_before.items():
        assert s3.head_object(Bucket=settings.drafts_bucket, Key=key)["LastModified"] == modified


async def test_sign_documents_refuses_a_different_set_of_shown_documents(
    signing: SigningActivities, settings: Settings, s3: S3Client, drafts: dict[str, str]
) -> None:
    shown = {**drafts, "something-else.docx": "0" * 64}
    request = SignDocumentsInput.model_validate(
        _request(
            cycle_id=f"shown-{uuid.uuid4().hex[:6]}",
            profile=store_input(s3, settings, DEMO / "profile.yaml"),
            staff=store_input(s3, settings, DEMO / "staff.csv"),
            shown=shown,
        ).model_dump()
    )
    with pytest.raises(ApplicationError) as raised:
        await asyncio.to_thread(ActivityEnvironment().run, signing.sign_documents, request)
    assert raised.value.type == SHOWN_DOCUMENTS_MISMATCH
    assert raised.value.non_retryable


async def test_sign_documents_renders_each_document_once(
    signing: SigningActivities,
    settings: Settings,
    s3: S3Client,
    drafts: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two documents and the certificate: three renders, each template once (it was five)."""
    rendered: list[str] = []
    real_render = DocxTemplate.render

    def counting_render(self: DocxTemplate, *args: Any, **kwargs: Any) -> None:
        rendered.append(Path(str(self.template_file)).name)
        real_render(self, *args, **kwargs)

    monkeypatch.setattr(DocxTemplate, "render", counting_render)
    request = SignDocumentsInput.model_validate(
        _request(
            cycle_id=f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}",
            profile=store_input(s3, settings, DEMO / "profile.yaml"),
            staff=store_input(s3, settings, DEMO / "staff.csv"),
            shown=drafts,
        ).model_dump()
    )
    await asyncio.to_thread(ActivityEnvironment().run, signing.sign_documents, request)
    assert sorted(rendered) == [
        "certificate_of_completion.docx",
        "information_security_policy.docx",
        "isms_lead_appointment.docx",
        "isms_roles_responsibilities.docx",
    ]


# --------------------------------------------------------------------------------------------
# Signing a profile's four documents


@dataclass(frozen=True)
class _Four:
    files: FourDocuments
    request: SignDocumentsInput
    drafts: dict[str, str]  # name -> SHA-256 shown


def _four_request(
    tmp_path: Path, s3: S3Client, settings: Settings, converter: PdfConverter, *, sdp_signs: bool = False
) -> _Four:
    four = four_documents(tmp_path / "org", make_pdf=converter.convert, sdp_signs=sdp_signs)
    profile = load_profile(four.profile)
    sources = resolve_sources(profile, four.profile.parent).files
    rendered = render_documents(profile, load_staff(DEMO / "staff.csv"), tmp_path / "drafts", sources=sources)
    drafts = {d.name: d.sha256 for d in rendered}  # the .docx, or the static PDF itself
    request = SignDocumentsInput.model_validate(
        {
            **_request(
                cycle_id=f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}",
                profile=store_input(s3, settings, four.profile),
                staff=store_input(s3, settings, DEMO / "staff.csv"),
                shown=drafts,
            ).model_dump(),
            "document_files": {doc_id: store_input(s3, settings, path) for doc_id, path in sources.items()},
        }
    )
    return _Four(files=four, request=request, drafts=drafts)


async def test_four_documents_are_sealed_certified_and_listed_in_the_evidence(
    signing: SigningActivities,
    settings: Settings,
    s3: S3Client,
    identity: SigningIdentity,
    pdf_converter: PdfConverter,
    tmp_path: Path,
) -> None:
    four = _four_request(tmp_path, s3, settings, pdf_converter)
    env = ActivityEnvironment()
    result = await asyncio.to_thread(env.run, signing.sign_documents, four.request)
    by_name = {d.name: d for d in result.documents}
    assert [d.name for d in result.documents] == list(four.drafts)
    assert sorted(by_name) == sorted(FOUR_NAMES)

    texts: dict[str, str] = {}
    for document in result.documents:
        assert document.draft_sha256 == four.drafts[document.name]
        pdf = get_file(s3, document.pdf, tmp_path / "signed" / f"{Path(document.name).stem}.pdf")
        check = await asyncio.to_thread(verify_pdf_signature, pdf, trust=[identity.certificate])
        assert check.valid, (document.name, check.detail)
        assert check.intact
        texts[document.name] = _pdf_text(pdf)
    statement = "Signed electronically by Eleanor Marsh, Chief Executive Officer, on 2026-11-23 14:05:09 UTC"
    policy = texts["information-security-policy.docx"]
    assert statement in policy
    assert four.drafts["information-security-policy.docx"][:16] in policy
    assert HOUSE_STYLE_RENDERED in policy  # the organisation's own template, stamped
    assert statement in texts["isms-roles-responsibilities.docx"]

    # the static PDF is sealed as it is: its original bytes are the start of the sealed file
    aup = by_name["acceptable-use-policy.pdf"]
    assert aup.docx is None
    sealed_aup = (tmp_path / "signed" / "acceptable-use-policy.pdf").read_bytes()
    assert sealed_aup.startswith(four.files.aup_pdf.read_bytes())
    assert len(sealed_aup) > four.files.aup_pdf.stat().st_size
    assert AUP_TEXT in texts["acceptable-use-policy.pdf"]

    # the static .docx is carried unchanged, converted and sealed, but not signed (signs: false)
    sdp = by_name["secure-development-policy.docx"]
    assert (sdp.signed, aup.signed) == (False, True)
    assert sdp.docx is not None
    stored_sdp = get_file(s3, sdp.docx, tmp_path / "signed" / "secure-development-policy.docx")
    assert stored_sdp.read_bytes() == four.files.sdp_docx.read_bytes()
    assert SDP_TEXT in texts["secure-development-policy.docx"]
    assert "Signed electronically" not in texts["secure-development-policy.docx"]

    certificate = _pdf_text(get_file(s3, result.certificate, tmp_path / "certificate.pdf"))
    for document in result.documents:
        assert document.title in certificate
        assert f"{document.id} · version {document.version} · {document.kind.value}" in certificate
        assert document.draft_sha256 in certificate
        assert document.pdf.sha256 in certificate
    assert certificate.count("Signed by Eleanor Marsh, Chief Executive Officer") == 3
    assert certificate.count("Distributed, not signed by Eleanor Marsh, Chief Executive Officer") == 1

    evidence = json.loads(get_file(s3, result.evidence, tmp_path / "evidence.json").read_text())
    assert evidence["shown_documents"] == four.drafts
    assert [(d["id"], d["version"], d["kind"], d["signed"]) for d in evidence["documents"]] == [
        ("information-security-policy", "3.0", "generated", True),
        ("isms-roles-responsibilities", "3.0", "generated", True),
        ("acceptable-use-policy", "2.1", "static", True),
        ("secure-development-policy", sha256_file(four.files.sdp_docx)[:12], "static", False),
    ]
    assert [d["title"] for d in evidence["documents"]] == [
        OWN_POLICY_TITLE,
        "ISMS Roles and Responsibilities",
        AUP_TITLE,
        SDP_TITLE,
    ]
    unsigned = evidence["documents"][3]
    assert unsigned["signature_line"].startswith("Distributed, not signed by Eleanor Marsh")
    assert evidence["documents"][2]["docx"] is None

    again = await asyncio.to_thread(env.run, signing.sign_documents, four.request)
    assert again == result  # the stored result, read back from evidence.json


async def test_a_signed_static_docx_is_sealed_under_the_signature(
    signing: SigningActivities,
    settings: Settings,
    s3: S3Client,
    identity: SigningIdentity,
    pdf_converter: PdfConverter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """signs: true on the static .docx: all four under the signature; only the templates rendered."""
    rendered: list[str] = []
    real_render = DocxTemplate.render

    def counting_render(self: DocxTemplate, *args: Any, **kwargs: Any) -> None:
        rendered.append(Path(str(self.template_file)).name)
        real_render(self, *args, **kwargs)

    four = _four_request(tmp_path, s3, settings, pdf_converter, sdp_signs=True)
    monkeypatch.setattr(DocxTemplate, "render", counting_render)
    result = await asyncio.to_thread(ActivityEnvironment().run, signing.sign_documents, four.request)
    # the two templates (the policy's as the activity stored it) and the certificate; the static
    # documents are never rendered
    assert sorted(rendered) == [
        "certificate_of_completion.docx",
        "information-security-policy.docx",
        "isms_roles_responsibilities.docx",
    ]
    assert all(d.signed for d in result.documents)
    sdp = next(d for d in result.documents if d.id == "secure-development-policy")
    pdf = get_file(s3, sdp.pdf, tmp_path / "sdp.pdf")
    check = await asyncio.to_thread(verify_pdf_signature, pdf, trust=[identity.certificate])
    assert check.valid, check.detail


async def test_a_static_file_other_than_the_one_shown_is_refused(
    signing: SigningActivities, settings: Settings, s3: S3Client, pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    four = _four_request(tmp_path, s3, settings, pdf_converter)
    shown = {**four.drafts, "acceptable-use-policy.pdf": "1" * 64}
    request = four.request.model_copy(update={"shown_documents": shown})
    with pytest.raises(ApplicationError) as raised:
        await asyncio.to_thread(ActivityEnvironment().run, signing.sign_documents, request)
    assert raised.value.type == SHOWN_DOCUMENTS_MISMATCH
    assert raised.value.non_retryable
    assert raised.value.message.startswith(
        "acceptable-use-policy: the signer was shown a file with SHA-256 1111"
    )

    # the profile's four documents, not the built-in pair, are the set to sign
    pair = {k: v for k, v in four.drafts.items() if k in DOCUMENT_NAMES}
    with pytest.raises(ApplicationError) as raised:
        await asyncio.to_thread(
            ActivityEnvironment().run,
            signing.sign_documents,
            four.request.model_copy(update={"shown_documents": pair}),
        )
    assert raised.value.type == SHOWN_DOCUMENTS_MISMATCH


async def test_a_tampered_document_file_is_refused_before_anything_is_sealed(
    signing: SigningActivities, settings: Settings, s3: S3Client, pdf_converter: PdfConverter, tmp_path: Path
) -> None:
    four = _four_request(tmp_path, s3, settings, pdf_converter)
    stored = four.request.document_files["secure-development-policy"]
    s3.put_object(Bucket=stored.bucket, Key=stored.key, Body=b"PK\x03\x04 someone else's policy")
    with pytest.raises(ApplicationError) as raised:
        await asyncio.to_thread(ActivityEnvironment().run, signing.sign_documents, four.request)
    assert (raised.value.type, raised.value.non_retryable) == (INTEGRITY, True)
    assert raised.value.message == (
        "the stored file of secure-development-policy does not match the SHA-256 recorded at the start"
    )
    prefix = f"{settings.drafts_prefix}{four.request.cycle_id}/signed/"
    assert s3.list_objects_v2(Bucket=settings.drafts_bucket, Prefix=prefix).get("KeyCount", 0) == 0
