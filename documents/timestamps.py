"""The configured RFC 3161 timestamp authority: for seals, document timestamps and manifests.

    authority = timestamp_authority(settings)          # None: no ISMS_TSA_URL, the own clock only
    response = authority.timestamp(manifest_bytes)      # a DER TimeStampResp (a .tsr file)
    authority.certificates_pem(response)                # the roots and the chain, to archive
    authority.timestamper()                              # for pyHanko's signer (documents.sealing)

The authority is asked over HTTP(S), with basic authentication when ``ISMS_TSA_USERNAME`` and
``ISMS_TSA_PASSWORD`` are set; its answer is checked (nonce, imprint, signature, chain to
``ISMS_TSA_CA_FILE``) before it is used. Blocking: call from a thread in async code.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.timestamps.common_utils import handle_tsp_response

from core.seal_check import outside_event_loop
from core.settings import Settings
from core.timestamp_check import timestamp_token, verify_timestamp_response

TIMEOUT_SECONDS = 20


class TimestampError(Exception):
    """The timestamp authority could not be reached, refused, or answered with something unusable."""


@dataclass(frozen=True)
class TimestampAuthority:
    """Where to ask for timestamps, how to log in, and the roots its certificate chains to."""

    url: str
    roots_pem: bytes = field(repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line

    def timestamper(self) -> HTTPTimeStamper:
        """A pyHanko timestamper for this authority (a new HTTP session per request)."""
        auth = (self.username, self.password) if self.username and self.password else None
        return HTTPTimeStamper(self.url, timeout=TIMEOUT_SECONDS, auth=auth)

    def roots(self) -> list[asn1_x509.Certificate]:
        return [
            asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
            for cert in x509.load_pem_x509_certificates(self.roots_pem)
        ]

    def timestamp(self, data: bytes) -> bytes:
        """An RFC 3161 response (DER) over the SHA-256 of ``data``, checked before it is returned."""
        outside_event_loop("TimestampAuthority.timestamp")
        stamper = self.timestamper()
        nonce, request = stamper.request_cms(hashlib.sha256(data).digest(), "sha256")  # type: ignore[no-untyped-call]

        async def ask() -> bytes:
            response = await stamper.async_request_tsa_response(request)
            handle_tsp_response(response, nonce)  # refused, or a replayed answer: raises
            body: bytes = response.dump()
            return body

        try:
            response = asyncio.run(ask())
        except (TimestampRequestError, OSError, ValueError) as exc:
            cause = exc.__cause__ or exc
            raise TimestampError(f"the timestamp authority {self.url} gave no timestamp: {cause}") from exc
        check = verify_timestamp_response(response, data=data, trust_pem=self.roots_pem)
        if not check.valid:
            raise TimestampError(f"the timestamp from {self.url} does not verify: {check.detail}")
        return response

    def certificates_pem(self, response: bytes) -> bytes:
        """The configured roots and every certificate the response carries, as one PEM bundle.

        What an auditor needs to check the timestamps offline (``tsa-certificates.pem``).
        """
        token = timestamp_token(response)
        pems: list[bytes] = [
            cert.public_bytes(serialization.Encoding.PEM)
            for cert in x509.load_pem_x509_certificates(self.roots_pem)
        ]
        for choice in token["content"]["certificates"] or []:
            if choice.name == "certificate":
                pem = x509.load_der_x509_certificate(choice.chosen.dump()).public_bytes(
                    serialization.Encoding.PEM
                )
                if pem not in pems:
                    pems.append(pem)
        return b"".join(pems)


def _read_roots(path: Path) -> bytes:
    try:
        body = path.read_bytes()
        x509.load_pem_x509_certificates(body)
    except OSError as exc:
        raise TimestampError(f"ISMS_TSA_CA_FILE {path} cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise TimestampError(f"ISMS_TSA_CA_FILE {path} holds no PEM certificate: {exc}") from None
    return body


def timestamp_authority(settings: Settings) -> TimestampAuthority | None:
    """The authority ``settings`` configure, or None (no ``ISMS_TSA_URL``: the own clock only)."""
    if settings.tsa_url is None:
        return None
    assert settings.tsa_ca_file is not None  # the settings refuse a URL without it
    return TimestampAuthority(
        url=settings.tsa_url,
        roots_pem=_read_roots(settings.tsa_ca_file),
        username=settings.tsa_username,
        password=settings.tsa_password.get_secret_value() if settings.tsa_password else None,
    )
