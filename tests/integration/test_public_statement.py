"""The public policy statement archived with the signed version and served at ``/statement``.

Real SeaweedFS with Object Lock: the archive activity builds the statement from the stored
profile (or takes the organisation's PDF), archives it with the version and records its URL
and SHA-256 in the manifest; the real web app (httpx ASGITransport) reads it back with the
read-only auditor identity and serves exactly those bytes, cacheable, without a cookie; verify
checks the statement against the manifest's facts.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.audit import ArchiveReader, verify_archive
from adapters.audit.verify import public_statement_lines
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.hashing import sha256_bytes
from core.settings import Settings
from devstack.synthetic import tiny_pdf
from documents.sealing import seal_pdf
from documents.signing_identity import load_or_create_signing_identity
from models.archive import (
    ArchiveInput,
    ArchiveItem,
    ArchiveManifest,
    ArchiveResult,
    ChainRequest,
    ManifestFacts,
    PublicStatementRequest,
)
from models.audit import Verdict
from tests.audit_helpers import SIGNER
from tests.template_helpers import PROFILE, make_pdf
from web.app import create_app

VERSION = "3.0"
POLICY = f"information-security-policy/v{VERSION}/document.pdf"


@dataclass
class Published:
    organisation: str
    settings: Settings  # the web app's: ISMS_PROFILE_FILE names the organisation's profile
    result: ArchiveResult
    manifest: ArchiveManifest
    policy_sha256: str


def _archive_signed_version(settings: Settings, folder: Path, statement: dict[str, object]) -> Published:
    """A signed version of one sealed policy PDF, archived with its public statement."""
    organisation = f"org{uuid.uuid4().hex[:8]}"
    data = yaml.safe_load(PROFILE.read_text())
    data["organisation"]["short_name"] = organisation
    data["public_statement"] = statement
    folder.mkdir(parents=True, exist_ok=True)
    profile = folder / "profile.yaml"
    profile.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    s3 = make_s3_client(settings)
    identity = load_or_create_signing_identity(settings)
    raw = folder / "policy.raw.pdf"
    raw.write_bytes(tiny_pdf(f"Information Security Policy version {VERSION}"))
    policy = store_input(
        s3, settings, seal_pdf(raw, folder / "policy.pdf", identity, signer=SIGNER, reason="Approved")
    )
    own = statement.get("file")
    signed_at = datetime.now(UTC).replace(microsecond=0)
    activities = ArchiveActivities(settings=settings, s3=s3, seal_certificate_pem=identity.certificate_pem())
    result = ActivityEnvironment().run(
        activities.archive_objects,
        ArchiveInput(
            cycle_id=f"isms-review-{organisation}-2026",
            organisation=organisation,
            year=2026,
            stage=f"signed-v{VERSION}",
            items=[ArchiveItem(source=policy, name=POLICY)],
            seal_certificate_in=[f"information-security-policy/v{VERSION}"],
            facts=ManifestFacts(
                version=VERSION,
                documents=["information-security-policy"],
                signer=f"{SIGNER.name}, {SIGNER.title} <{SIGNER.email}>",
                signed_at=signed_at,
                reason="annual review 2026",
            ),
            chain=ChainRequest(next_stage=f"acknowledgements-v{VERSION}"),
            public_statement=PublicStatementRequest(
                profile=store_input(s3, settings, profile),
                file=store_input(s3, settings, folder / str(own)) if own else None,
                version=VERSION,
                signed_at=signed_at,
                signer=f"{SIGNER.name}, {SIGNER.title}",
                policy_sha256=policy.sha256,
            ),
        ),
    )
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    manifest = reader.manifests(organisation, 2026)[0][0]
    web = settings.model_copy(update={"profile_file": profile})
    return Published(organisation, web, result, manifest, policy.sha256)


def _key(published: Published, name: str) -> str:
    return f"{published.organisation}/2026/{name}"


async def test_the_generated_statement_is_archived_with_url_and_hash_and_served_exactly(
    settings: Settings, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://isms.test"
    ) as http:
        before = await http.get("/statement")
    assert before.status_code == 404
    assert "No statement has been published yet" in before.text

    published = await asyncio.to_thread(_archive_signed_version, settings, tmp_path / "v3", {"enabled": True})
    archived = {o.key: o for o in published.result.objects}
    statement = archived[_key(published, f"public-statement/v{VERSION}/statement.html")]
    assert statement.content_type == "text/html; charset=utf-8"
    facts = published.manifest.facts
    assert facts.public_statement_url == "http://127.0.0.1:1/statement"
    assert facts.public_statement_sha256 == statement.sha256

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(published.settings)), base_url="http://isms.test"
    ) as http:
        response = await http.get("/statement")
        assert response.status_code == 200, response.text[:300]
        assert sha256_bytes(response.content) == facts.public_statement_sha256
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=300"
        assert response.headers["etag"] == f'"{statement.sha256}"'
        assert "set-cookie" not in response.headers
        assert (
            response.headers["x-content-type-options"] == "nosniff"
        )  # the middleware's, as on every response
        assert "script-src" not in response.headers["content-security-policy"]
        assert "default-src 'none'" in response.headers["content-security-policy"]
        page = response.text
        assert "approved by Eleanor Marsh, Chief Executive Officer on" in page
        assert published.policy_sha256 in page
        assert 'href="http://127.0.0.1:1/statement"' in page
        assert "<script" not in page

        again = await http.get("/statement", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == response.headers["etag"]
        weak = await http.get(
            "/statement", headers={"If-None-Match": f'"other", W/{response.headers["etag"]}'}
        )
        assert weak.status_code == 304
        other = await http.get("/statement", headers={"If-None-Match": '"' + "0" * 64 + '"'})
        assert other.status_code == 200

    # a later write under the archived key is not what the manifest records: never served
    make_s3_client(settings).put_object(
        Bucket=settings.archive_bucket, Key=statement.key, Body=b"<h1>We never sign anything</h1>"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(published.settings)), base_url="http://isms.test"
    ) as http:
        served = await http.get("/statement")
    assert served.status_code == 200
    assert sha256_bytes(served.content) == statement.sha256


async def test_the_organisations_own_pdf_is_published_instead_and_verify_checks_it(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "own"
    pdf = make_pdf(folder / "public" / "statement.pdf")
    own = pdf.read_bytes()
    published = await asyncio.to_thread(
        _archive_signed_version, settings, folder, {"enabled": True, "file": "public/statement.pdf"}
    )
    archived = {o.key: o for o in published.result.objects}
    statement = archived[_key(published, f"public-statement/v{VERSION}/statement.pdf")]
    assert statement.sha256 == sha256_bytes(own)
    assert not any(key.endswith("statement.html") for key in archived)
    assert published.manifest.facts.public_statement_sha256 == sha256_bytes(own)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(published.settings)), base_url="http://isms.test"
    ) as http:
        response = await http.get("/statement")
    assert response.status_code == 200
    assert response.content == own
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="statement.pdf"'
    assert response.headers["cache-control"] == "public, max-age=300"

    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = await asyncio.to_thread(verify_archive, reader, published.organisation, 2026)
    checks = {c.key: c for c in report.objects}
    assert checks[statement.key].verdict is Verdict.PASS, checks[
        statement.key
    ]  # its hash; no seal asked of it
    manifest_key = _key(published, f"manifests/signed-v{VERSION}.json")
    line = (
        f"the public statement public-statement/v{VERSION}/statement.pdf (published at "
        "http://127.0.0.1:1/statement) is archived with the SHA-256 the facts give"
    )
    assert line in checks[manifest_key].passed
    assert report.verdict is not Verdict.FAIL, [c for c in report.objects if c.verdict is Verdict.FAIL]

    # facts naming another statement than the one archived, or another page: FAIL, naming what broke
    forged = published.manifest.model_copy(
        update={"facts": published.manifest.facts.model_copy(update={"public_statement_sha256": "e" * 64})}
    )
    assert public_statement_lines(forged) == (
        [],
        [
            f"the public statement's SHA-256 {'e' * 64} is not that of a statement the manifest lists "
            f"({statement.key} has {statement.sha256})"
        ],
    )
    elsewhere = published.manifest.model_copy(
        update={
            "facts": published.manifest.facts.model_copy(
                update={"public_statement_url": "https://attacker.example/policy"}
            )
        }
    )
    assert public_statement_lines(elsewhere)[1] == [
        "the public statement's URL 'https://attacker.example/policy' is not the web app's /statement page"
    ]
    unnamed = published.manifest.model_copy(
        update={
            "facts": published.manifest.facts.model_copy(
                update={"public_statement_url": None, "public_statement_sha256": None}
            )
        }
    )
    assert public_statement_lines(unnamed)[1] == [
        f"{statement.key} is archived, but the manifest's facts name no public statement"
    ]
