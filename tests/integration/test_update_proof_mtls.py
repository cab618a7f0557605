"""Mutual TLS to Temporal with the client certificate settings, against a real TLS handshake.

``temporal server start-dev`` serves no TLS, so the test puts a TLS terminator of its own in
front of the real dev server: it requires a client certificate signed by the test's CA
(as a production frontend with ``requireClientAuth`` does) and relays the decrypted gRPC to
the dev server. The client is ``connect_temporal`` with the ``temporal_tls_*`` settings; a
client without a certificate, or with one from another CA, is refused in the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.temporal import connect_temporal
from core.settings import Settings
from devstack.ports import find_free_ports

SERVER_NAME = "temporal.isms.test"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    signing_key = issuer[1] if issuer else key
    return builder.sign(signing_key, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Path  # server.pem + server.key
    client: Path  # client.pem + client.key, signed by the CA
    stranger: Path  # stranger.pem + stranger.key, signed by another CA


def _make_pki(folder: Path) -> Pki:
    ca_key, other_ca_key = _key(), _key()
    ca = _certificate("isms test CA", ca_key)
    other_ca = _certificate("someone else's CA", other_ca_key)
    paths = Pki(
        ca=folder / "ca.pem",
        server=folder / "server.pem",
        client=folder / "client.pem",
        stranger=folder / "stranger.pem",
    )
    _write(paths.ca, ca)
    server_key, client_key, stranger_key = _key(), _key(), _key()
    server = _certificate(SERVER_NAME, server_key, issuer=(ca, ca_key), usage=ExtendedKeyUsageOID.SERVER_AUTH)
    _write(paths.server, server, server_key)
    client = _certificate("isms-web", client_key, issuer=(ca, ca_key), usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    _write(paths.client, client, client_key)
    stranger = _certificate(
        "isms-web", stranger_key, issuer=(other_ca, other_ca_key), usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    _write(paths.stranger, stranger, stranger_key)
    return paths


class TlsFrontend:
    """Terminates TLS (client certificate required) and relays the bytes to a plain gRPC port."""

    def __init__(self, pki: Pki, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(pki.server, pki.server.with_suffix(".key"))
        context.load_verify_locations(pki.ca)
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        self._context = context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.handshakes_refused = 0
        self.port = 0

    async def start(self) -> None:
        (self.port,) = find_free_ports(1)
        # plain TCP, upgraded per connection: a refused handshake is seen (and counted) here
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                await writer.start_tls(self._context)
            except (ssl.SSLError, ConnectionError):
                self.handshakes_refused += 1
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
            try:
                await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            finally:
                upstream_writer.close()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.close()


@pytest.fixture
async def frontend(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[TlsFrontend, Pki]]:
    pki = _make_pki(tmp_path)
    server = TlsFrontend(pki, settings.temporal_address)
    await server.start()
    yield server, pki
    await server.close()


def _through(settings: Settings, server: TlsFrontend, **tls: object) -> Settings:
    return settings.model_copy(
        update={
            "temporal_address": f"127.0.0.1:{server.port}",
            "temporal_tls_server_name": SERVER_NAME,
            **tls,
        }
    )


async def test_the_client_certificate_settings_make_a_mutual_tls_connection(
    settings: Settings, frontend: tuple[TlsFrontend, Pki]
) -> None:
    server, pki = frontend
    mutual = _through(
        settings,
        server,
        temporal_tls_ca_file=pki.ca,
        temporal_tls_cert_file=pki.client,
        temporal_tls_key_file=pki.client.with_suffix(".key"),
    )
    client = await connect_temporal(mutual)
    assert await client.service_client.check_health()
    assert (await client.count_workflows()).count >= 0


async def test_without_a_client_certificate_or_with_a_stranger_s_the_handshake_is_refused(
    settings: Settings, frontend: tuple[TlsFrontend, Pki]
) -> None:
    server, pki = frontend
    no_certificate = _through(settings, server, temporal_tls_ca_file=pki.ca)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect_temporal(no_certificate), 30)
    stranger = _through(
        settings,
        server,
        temporal_tls_ca_file=pki.ca,
        temporal_tls_cert_file=pki.stranger,
        temporal_tls_key_file=pki.stranger.with_suffix(".key"),
    )
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect_temporal(stranger), 30)
    assert server.handshakes_refused >= 2
