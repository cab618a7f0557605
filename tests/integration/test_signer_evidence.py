"""The signer's second factor in the evidence: ``evidence.json`` and the certificate of completion.

Real SeaweedFS, real LibreOffice and pyHanko: the signing activity seals the demo documents
for a signature made with the emailed one-time code, and both records say how the signer
proved who they were, read back from the bucket (the certificate's text through pdftotext).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.testing import ActivityEnvironment

from activities.signing import SigningActivities
from adapters.drafts import store_input
from adapters.s3 import get_file, make_s3_client
from core.profile_io import load_profile, load_staff
from core.settings import Settings
from documents.pdf_convert import PdfConverter
from documents.pipeline import render_documents
from documents.signing_identity import SigningIdentity, load_or_create_signing_identity
from models.cycle import SecondFactor, SecondFactorMethod
from models.signing import SignDocumentsInput, SignerVerification, SigningEvidence
from tests.integration.test_signing import DEMO, SIGNER, _offline_settings, _pdf_text, _request

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

VERIFIED_AT = datetime(2026, 11, 23, 14, 3, 51, tzinfo=UTC)
FACTOR = SecondFactor(
    method=SecondFactorMethod.EMAILED_CODE,
    identity=SIGNER.email,
    verified_at=VERIFIED_AT,
    detail="code sent 2026-11-23 14:02:10 UTC, 2 attempts",
)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> SigningIdentity:
    return load_or_create_signing_identity(_offline_settings(tmp_path_factory.mktemp("identity")))


async def test_evidence_and_certificate_say_how_the_signer_proved_who_they_were(
    settings: Settings, pdf_converter: PdfConverter, identity: SigningIdentity, tmp_path: Path
) -> None:
    s3: S3Client = make_s3_client(settings)
    drafts = {
        document.name: document.sha256
        for document in render_documents(
            load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv"), tmp_path / "drafts"
        )
    }
    cycle_id = f"isms-review-larkspur-2026-{uuid.uuid4().hex[:6]}"
    request = SignDocumentsInput.model_validate(
        {
            **_request(
                cycle_id=cycle_id,
                profile=store_input(s3, settings, DEMO / "profile.yaml"),
                staff=store_input(s3, settings, DEMO / "staff.csv"),
                shown=drafts,
            ).model_dump(),
            # as the workflow passes it: the decision's SecondFactor itself
            "second_factor": FACTOR,
        }
    )
    signing = SigningActivities(settings=settings, s3=s3, converter=pdf_converter, identity=identity)
    result = await asyncio.to_thread(ActivityEnvironment().run, signing.sign_documents, request)

    statement = (
        "one-time code emailed to eleanor.marsh@larkspur.example, verified 2026-11-23 14:03:51 UTC "
        "(code sent 2026-11-23 14:02:10 UTC, 2 attempts)"
    )
    assert FACTOR.describe() == statement
    evidence = json.loads(get_file(s3, result.evidence, tmp_path / "evidence.json").read_text())
    assert evidence["second_factor"] == {
        "method": "emailed_code",
        "identity": SIGNER.email,
        "verified_at": "2026-11-23T14:03:51Z",
        "detail": "code sent 2026-11-23 14:02:10 UTC, 2 attempts",
    }
    assert evidence["second_factor_statement"] == f"Second factor: {statement}"
    # and the evidence still reads back as the model (a retry reads it to return the result)
    assert SigningEvidence.model_validate(evidence).second_factor == SignerVerification.model_validate(FACTOR)
    # evidence written before the field existed still reads, and says it has none
    del evidence["second_factor"], evidence["second_factor_statement"]
    old = SigningEvidence.model_validate(evidence)
    assert old.second_factor_statement == (
        "Second factor: none recorded (signed before a second factor was required)"
    )

    certificate = get_file(s3, result.certificate, tmp_path / "certificate.pdf")
    text = _pdf_text(certificate)
    assert f"Second factor {statement}" in text, text
