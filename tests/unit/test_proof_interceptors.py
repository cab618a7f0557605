"""The proof interceptors' rules, the Temporal TLS settings and who refuses to start without a key.

No servers: the black-box checks against the real worker are in
tests/integration/test_update_proof.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import BaseModel
from temporalio.client import Client, Interceptor
from temporalio.service import TLSConfig
from temporalio.workflow import _Definition

from adapters.temporal import TemporalTlsError, client_interceptors, temporal_tls
from adapters.update_proof import UpdateProofSigner, carries_proof, proving_client, unproven
from core.contract import Signal, Update
from core.proof import with_proof
from core.settings import Settings, SettingsError, load_settings
from models.campaign import Acknowledgement
from models.cycle import DecisionKind, DocumentsViewed, SignatureDecision
from tests.conftest import TEST_PROOF_KEY
from web.services import Services
from worker import WORKFLOWS, build_worker

EMPTY = Path(__file__).parents[1] / "data" / "empty.env"
CYCLE = "isms-review-larkspur-2026-0001"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "public_base_url": "http://127.0.0.1:1",
        "link_secret": "unit-link-secret-" + "x" * 32,
        "proof_secret": TEST_PROOF_KEY.decode(),
        "web_state_dir": tmp_path / "state",
        "smtp_sender": "isms <isms@example.test>",
        "archive_bucket": "unit-archive",
        "drafts_bucket": "unit-drafts",
    }
    values.update(overrides)
    return load_settings(settings_file=EMPTY, **values)


def _decision(**changes: object) -> SignatureDecision:
    values: dict[str, object] = {
        "kind": DecisionKind.SIGN,
        "person": "eleanor.marsh@larkspur.example",
        "version_hash": "a" * 64,
        "link_id": uuid.uuid4().hex,
        "typed_name": "Eleanor Marsh",
        "consent": True,
        "ip": "203.0.113.7",
    }
    values.update(changes)
    return SignatureDecision.model_validate(values)


def _proven(
    decision: SignatureDecision, *, key: bytes = TEST_PROOF_KEY, workflow_id: str = CYCLE
) -> SignatureDecision:
    return with_proof(key, workflow_id=workflow_id, update=Update.DECIDE, payload=decision)


# ------------------------------------------------------------------ what must be proven


def _proven_messages() -> tuple[dict[str, bool], set[str]]:
    """Each update whose argument carries a proof (and whether it has a validator); each such signal."""
    updates: dict[str, bool] = {}
    signals: set[str] = set()
    for cls in WORKFLOWS:
        definition = _Definition.must_from_class(cls)
        for name, update in definition.updates.items():
            if any(
                isinstance(t, type) and issubclass(t, BaseModel) and "proof" in t.model_fields
                for t in update.arg_types or []
            ):
                updates[str(name)] = update.validator is not None
        for name, signal in definition.signals.items():
            if any(
                isinstance(t, type) and issubclass(t, BaseModel) and "proof" in t.model_fields
                for t in signal.arg_types or []
            ):
                signals.add(str(name))
    return updates, signals


def test_every_person_s_action_must_be_proven_and_each_such_update_has_a_validator() -> None:
    # the worker checks an update's proof in the validator step, which the SDK runs only for an
    # update with a validator: an update of a proven argument without one would go unchecked
    updates, signals = _proven_messages()
    assert updates == {
        Update.DECIDE.value: True,
        Update.ACKNOWLEDGE.value: True,
        Update.ACKNOWLEDGE_GROUP.value: True,
        Update.ANSWER_ROLE.value: True,
    }
    assert signals == {Signal.DOCUMENTS_VIEWED.value}


def test_the_arguments_that_carry_a_proof() -> None:
    assert carries_proof(_decision())
    assert carries_proof(Acknowledgement(person="p@example.test", version_hash="v", link_id="l"))
    assert carries_proof(DocumentsViewed(person="p@example.test", version_hash="v", document="d"))
    assert not carries_proof("decide")
    assert not carries_proof({"proof": "v1.00"})


# ------------------------------------------------------------------ the worker's rule


def test_a_proof_verifies_only_for_its_key_workflow_update_and_payload() -> None:
    decision = _decision()
    proven = _proven(decision)

    def refused(args: list[object], *, workflow_id: str = CYCLE, name: str = Update.DECIDE) -> bool:
        return unproven(TEST_PROOF_KEY, workflow_id=workflow_id, name=name, args=args)

    assert not refused([proven])
    assert refused([decision])  # no proof at all
    assert refused([_proven(decision, key=b"another-key-" + b"k" * 32)])
    assert refused([proven], workflow_id="isms-review-larkspur-2026-0002")
    assert refused([proven], name=Update.SUBMIT_REVISION)
    assert refused([proven.model_copy(update={"ip": "198.51.100.1"})])
    assert refused([proven.model_copy(update={"user_agent": "curl"})])
    assert refused([proven.model_copy(update={"kind": DecisionKind.REQUEST_CHANGES, "comment": "x"})])
    assert refused([proven.model_copy(update={"proof": proven.proof.upper()})])
    assert refused([proven, "a second argument the proof does not cover"])
    # a message whose argument has no proof field is not the check's business
    assert not refused(["anything"], name="staff_changed")
    assert not refused([], name="anything")


# ------------------------------------------------------------------ the clients


async def test_the_signer_is_installed_where_the_settings_hold_the_key(tmp_path: Path) -> None:
    with_key = client_interceptors(_settings(tmp_path))
    assert len(with_key) == 1
    assert isinstance(with_key[0], UpdateProofSigner)
    assert with_key[0].signs_with(TEST_PROOF_KEY)
    # the command line's settings (no proof key): a plain client
    assert client_interceptors(_settings(tmp_path, proof_secret=None)) == []


async def test_proving_client_keeps_the_connection_and_other_interceptors() -> None:
    other = Interceptor()
    client = await Client.connect("127.0.0.1:1", lazy=True, interceptors=[other])
    proving = proving_client(client, TEST_PROOF_KEY)
    assert proving is not client
    assert proving.service_client is client.service_client
    interceptors = list(proving.config()["interceptors"])
    assert interceptors[0] is other
    assert isinstance(interceptors[1], UpdateProofSigner)
    # once is enough: a client that already proves with the key is returned as it is
    assert proving_client(proving, TEST_PROOF_KEY) is proving


def test_the_web_app_and_the_worker_are_not_made_without_the_proof_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, proof_secret=None)
    with pytest.raises(SettingsError) as web:
        Services(settings)
    assert "ISMS_PROOF_SECRET" in web.value.problems[0]
    with pytest.raises(SettingsError) as worker:
        build_worker(Client.__new__(Client), settings, converter=None)  # type: ignore[arg-type]
    assert "ISMS_PROOF_SECRET" in worker.value.problems[0]


def test_the_worker_process_exits_with_a_clear_message_without_the_proof_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import worker

    monkeypatch.setenv("ISMS_SETTINGS_FILE", str(EMPTY))
    monkeypatch.setenv("ISMS_PUBLIC_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("ISMS_LINK_SECRET", "unit-link-secret-" + "x" * 32)
    monkeypatch.setenv("ISMS_SMTP_SENDER", "isms <isms@example.test>")
    monkeypatch.setenv("ISMS_WEB_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ISMS_ARCHIVE_BUCKET", "unit-archive")
    monkeypatch.setenv("ISMS_DRAFTS_BUCKET", "unit-drafts")
    monkeypatch.delenv("ISMS_PROOF_SECRET", raising=False)
    with pytest.raises(SystemExit) as exited:
        worker.main()
    assert exited.value.code == 2
    assert "ISMS_PROOF_SECRET: missing" in caplog.text


# ------------------------------------------------------------------ Temporal TLS


def test_no_tls_settings_keep_the_plain_switch(tmp_path: Path) -> None:
    assert temporal_tls(_settings(tmp_path)) is False
    assert temporal_tls(_settings(tmp_path, temporal_tls=True)) is True
    assert temporal_tls(_settings(tmp_path, temporal_api_key="an-api-key")) is True


def test_client_certificates_are_read_from_the_settings(tmp_path: Path) -> None:
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "client.pem", "client-key.pem"))
    ca.write_bytes(PEM)
    cert.write_bytes(PEM.replace(b"MIIB", b"MIIC"))
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    config = temporal_tls(
        _settings(
            tmp_path,
            temporal_tls_ca_file=ca,
            temporal_tls_cert_file=cert,
            temporal_tls_key_file=key,
            temporal_tls_server_name="temporal.internal",
        )
    )
    assert config == TLSConfig(
        server_root_ca_cert=ca.read_bytes(),
        domain="temporal.internal",
        client_cert=cert.read_bytes(),
        client_private_key=key.read_bytes(),
    )
    # the CA alone turns TLS on (a server certificate from a private CA, no client certificate)
    only_ca = temporal_tls(_settings(tmp_path, temporal_tls_ca_file=ca))
    assert only_ca == TLSConfig(server_root_ca_cert=PEM)


def test_an_unusable_tls_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ca.pem"
    with pytest.raises(TemporalTlsError) as unreadable:
        temporal_tls(_settings(tmp_path, temporal_tls_ca_file=missing))
    assert (
        str(unreadable.value)
        == f"ISMS_TEMPORAL_TLS_CA_FILE: cannot read {missing}: No such file or directory"
    )

    not_pem = tmp_path / "client.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a")
    key = tmp_path / "key.pem"
    key.write_bytes(PEM)
    with pytest.raises(
        TemporalTlsError, match=r"ISMS_TEMPORAL_TLS_CERT_FILE: .*client\.der is not a PEM file"
    ):
        temporal_tls(_settings(tmp_path, temporal_tls_cert_file=not_pem, temporal_tls_key_file=key))

    with pytest.raises(SettingsError, match="must be set together"):
        _settings(tmp_path, temporal_tls_cert_file=key)
