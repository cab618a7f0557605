"""Trusted time against a real RFC 3161 authority (certomancer, started by ``tests.tsa_fixtures``).

Seals carry the authority's signature timestamp and are archived as PAdES B-LTA; a timestamp
over some bytes (a manifest's) verifies against the authority's certificates and FAILs once
the bytes change; a seal whose document timestamp and DSS were cut off FAILs naming them.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from core.settings import Settings, SettingsError, load_settings
from core.timestamp_check import verify_pdf_long_term, verify_timestamp_response
from documents.sealing import seal_verified
from documents.signing_identity import SigningIdentity, load_or_create_signing_identity
from documents.timestamps import timestamp_authority
from tests.template_helpers import make_pdf
from tests.tsa_fixtures import TsaServer
from tests.tsa_fixtures import tsa_server as tsa_server  # the fixture

EMPTY_SETTINGS = Path(__file__).resolve().parents[1] / "data" / "empty.env"


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
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


def _identity(tmp_path: Path, tsa: TsaServer) -> SigningIdentity:
    return load_or_create_signing_identity(_settings(tmp_path, tsa_url=tsa.url, tsa_ca_file=tsa.ca_file))


async def test_a_sealed_pdf_is_pades_b_lta(tmp_path: Path, tsa_server: TsaServer) -> None:
    identity = _identity(tmp_path, tsa_server)
    sealed = await asyncio.to_thread(
        seal_verified,
        make_pdf(tmp_path / "policy.pdf"),
        tmp_path / "sealed.pdf",
        identity,
        signer=None,
        reason="Approved",
    )
    body = sealed.read_bytes()
    reader = PdfFileReader(io.BytesIO(body))
    assert len(reader.embedded_regular_signatures) == 1
    assert len(reader.embedded_timestamp_signatures) == 1  # the B-LTA document timestamp
    check = await asyncio.to_thread(
        verify_pdf_long_term,
        body,
        seal_trust_pem=identity.certificate_pem().encode(),
        tsa_trust_pem=tsa_server.root_pem,
    )
    assert check.valid, check.problems
    assert check.signature_time is not None
    assert check.archive_time is not None
    assert check.signature_time <= check.archive_time
    assert any("CRL" in line and "B-LT" in line for line in check.passed), check.passed


async def test_a_seal_with_its_timestamps_cut_out_fails_naming_them(
    tmp_path: Path, tsa_server: TsaServer
) -> None:
    identity = _identity(tmp_path, tsa_server)
    sealed = await asyncio.to_thread(
        seal_verified,
        make_pdf(tmp_path / "policy.pdf"),
        tmp_path / "sealed.pdf",
        identity,
        signer=None,
        reason="Approved",
    )
    body = sealed.read_bytes()
    _start, _length, after, rest = PdfFileReader(io.BytesIO(body)).embedded_regular_signatures[0].byte_range
    cut = body[: after + rest]  # the seal's own revision: the DSS and the document timestamp gone
    check = await asyncio.to_thread(
        verify_pdf_long_term,
        cut,
        seal_trust_pem=identity.certificate_pem().encode(),
        tsa_trust_pem=tsa_server.root_pem,
    )
    assert not check.valid
    assert any("no document timestamp" in problem for problem in check.problems), check.problems
    assert any("document security store" in problem for problem in check.problems), check.problems


async def test_a_seal_checked_against_another_authority_fails(tmp_path: Path, tsa_server: TsaServer) -> None:
    identity = _identity(tmp_path, tsa_server)
    sealed = await asyncio.to_thread(
        seal_verified,
        make_pdf(tmp_path / "policy.pdf"),
        tmp_path / "sealed.pdf",
        identity,
        signer=None,
        reason="Approved",
    )
    stranger = load_or_create_signing_identity(_settings(tmp_path / "other"))  # any other root
    check = await asyncio.to_thread(
        verify_pdf_long_term,
        sealed.read_bytes(),
        seal_trust_pem=identity.certificate_pem().encode(),
        tsa_trust_pem=stranger.certificate_pem().encode(),
    )
    assert not check.valid
    assert any("signature timestamp does not verify" in problem for problem in check.problems), check.problems


async def test_a_manifest_timestamp_verifies_and_fails_once_the_bytes_change(
    tmp_path: Path, tsa_server: TsaServer
) -> None:
    authority = timestamp_authority(
        _settings(tmp_path, tsa_url=tsa_server.url, tsa_ca_file=tsa_server.ca_file)
    )
    assert authority is not None
    manifest = b'{"format": "isms-cycle/archive-manifest", "stage": "signed-v1"}\n'
    response = await asyncio.to_thread(authority.timestamp, manifest)
    chain = authority.certificates_pem(response)
    assert chain.count(b"BEGIN CERTIFICATE") >= 2  # the root and the authority's own certificate
    good = await asyncio.to_thread(verify_timestamp_response, response, data=manifest, trust_pem=chain)
    assert good.valid, good.detail
    assert "local timestamp authority" in good.authority
    changed = await asyncio.to_thread(
        verify_timestamp_response, response, data=manifest.replace(b"v1", b"v2"), trust_pem=chain
    )
    assert not changed.valid
    assert "changed after it was taken" in changed.detail


def test_a_tsa_url_needs_its_ca_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ISMS_TSA_CA_FILE"):
        _settings(tmp_path, tsa_url="http://127.0.0.1:1/tsa")
    with pytest.raises(SettingsError, match="ISMS_TSA_USERNAME and ISMS_TSA_PASSWORD"):
        _settings(
            tmp_path, tsa_url="http://127.0.0.1:1/tsa", tsa_ca_file=tmp_path / "x.pem", tsa_username="u"
        )


def test_without_an_authority_the_seal_is_b_b(tmp_path: Path) -> None:
    assert load_or_create_signing_identity(_settings(tmp_path)).timestamps is None
