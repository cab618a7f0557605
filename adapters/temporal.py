"""The one way to get a Temporal client: always with the pydantic data converter.

>>> client = await connect_temporal(load_settings())

In production every client (the worker, the web app, the command line) reaches Temporal over
mutual TLS: ``ISMS_TEMPORAL_TLS_CA_FILE`` (the CA that signed the server's certificate),
``ISMS_TEMPORAL_TLS_CERT_FILE`` / ``ISMS_TEMPORAL_TLS_KEY_FILE`` (this process's own client
certificate, by which namespace authorisation knows who is calling) and
``ISMS_TEMPORAL_TLS_SERVER_NAME`` (the name to verify the server's certificate for, when it
differs from the address's host); see docs/production-security.md.

A process whose settings hold the proof key (the web app and the worker) proves every
decision, acknowledgement and opened document it sends (:mod:`adapters.update_proof`).
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from adapters.update_proof import UpdateProofSigner
from core.settings import Settings

DATA_CONVERTER: DataConverter = pydantic_data_converter

_PEM_START = b"-----BEGIN "


class TemporalTlsError(RuntimeError):
    """A TLS file the settings name cannot be used: which setting, which file, why."""


def _read_pem(path: Path, setting: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TemporalTlsError(f"{setting}: cannot read {path}: {reason}") from None
    if _PEM_START not in data:
        raise TemporalTlsError(f"{setting}: {path} is not a PEM file (no '-----BEGIN' line)")
    return data


def temporal_tls(settings: Settings) -> TLSConfig | bool:
    """How to reach Temporal: a ``TLSConfig`` when any TLS file or the server name is set, else
    whether to use TLS with the system's CAs (``temporal_tls``, or an API key, which needs TLS).

    Raises :class:`TemporalTlsError` for a file that is unreadable or not PEM.
    """
    files = (settings.temporal_tls_ca_file, settings.temporal_tls_cert_file, settings.temporal_tls_key_file)
    if all(path is None for path in files) and settings.temporal_tls_server_name is None:
        return settings.temporal_tls or settings.temporal_api_key is not None
    ca, cert, key = (
        _read_pem(path, setting) if path is not None else None
        for path, setting in zip(
            files,
            ("ISMS_TEMPORAL_TLS_CA_FILE", "ISMS_TEMPORAL_TLS_CERT_FILE", "ISMS_TEMPORAL_TLS_KEY_FILE"),
            strict=True,
        )
    )
    return TLSConfig(
        server_root_ca_cert=ca,
        domain=settings.temporal_tls_server_name,
        client_cert=cert,
        client_private_key=key,
    )


def client_interceptors(settings: Settings) -> list[Interceptor]:
    """The proof signer when the settings hold the proof key (the web app, the worker); else none."""
    if settings.proof_secret is None:
        return []
    return [UpdateProofSigner(settings.proof_key())]


async def connect_temporal(settings: Settings, *, identity: str | None = None) -> Client:
    """Connect to the namespace the settings name, with the project's data converter.

    Raises :class:`TemporalTlsError` (a ``RuntimeError``, as a failed connection is) when a
    TLS file cannot be used.
    """
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        tls=temporal_tls(settings),
        api_key=api_key,
        identity=identity,
        interceptors=client_interceptors(settings),
    )
