"""The organisation's sealing key and certificate: loaded from settings, or made once, self-signed.

With ``settings.signing_key_file`` and ``signing_cert_file`` the organisation's own pair is used;
without them a self-signed pair is made on first run and kept in ``settings.signing_dir``::

    identity = load_or_create_signing_identity(settings, organisation="Larkspur Analytics Ltd")
    identity.fingerprint      # hex SHA-256 of the certificate: how an auditor recognises the seal
    identity.signer()         # a pyHanko signer, for documents.sealing.seal_pdf
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.seal_check import asn1_certificate, describe_name
from core.settings import Settings
from documents.timestamps import TimestampAuthority, TimestampError, timestamp_authority

KEY_FILENAME = "signing-key.pem"
CERT_FILENAME = "signing-cert.pem"
SELF_SIGNED_YEARS = 10

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class SigningIdentityError(Exception):
    """The signing key or certificate is missing, unreadable, expired, or the two do not match."""


@dataclass(frozen=True)
class SigningIdentity:
    """The organisation's sealing key and its certificate."""

    key: SigningKey
    certificate: x509.Certificate
    self_signed: bool
    # the configured RFC 3161 authority: seals carry its timestamp and are archived as PAdES
    # B-LTA; None, the seal's time is the worker's own clock
    timestamps: TimestampAuthority | None = None

    @property
    def subject(self) -> str:
        return describe_name(self.certificate.subject)

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the certificate (DER): how an auditor recognises the seal."""
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def signer(self) -> SimpleSigner:
        """A pyHanko signer for this key (the certificate is embedded in every signature)."""
        der_key = self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        cert = asn1_certificate(self.certificate)
        return SimpleSigner(
            signing_cert=cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs([cert]),  # type: ignore[no-untyped-call]
        )


def _public_der(key: SigningKey | x509.Certificate) -> bytes:
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningIdentityError(f"the signing {what} {path} does not exist") from None
    except OSError as exc:
        raise SigningIdentityError(f"cannot read the signing {what} {path}: {exc.strerror}") from None


def _load_key(path: Path, passphrase: str | None) -> SigningKey:
    data = _read(path, "key")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except TypeError as exc:  # a passphrase for a plain key, or none for an encrypted one
        raise SigningIdentityError(f"cannot load the signing key {path}: {exc}") from None
    except ValueError as exc:
        raise SigningIdentityError(
            f"cannot load the signing key {path} (not a PEM private key, or a wrong passphrase): {exc}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise SigningIdentityError(
            f"the signing key {path} is a {type(key).__name__}: use RSA, EC or Ed25519"
        )
    return key


def _load_certificate(path: Path) -> x509.Certificate:
    data = _read(path, "certificate")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise SigningIdentityError(f"cannot load the signing certificate {path}: {exc}") from None


def _checked_identity(
    key: SigningKey, certificate: x509.Certificate, *, key_file: Path, cert_file: Path
) -> SigningIdentity:
    if _public_der(key) != _public_der(certificate):
        raise SigningIdentityError(
            f"the signing key {key_file} does not belong to the certificate {cert_file}"
        )
    now = dt.datetime.now(dt.UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SigningIdentityError(
            f"the signing certificate {cert_file} is valid from {certificate.not_valid_before_utc:%Y-%m-%d} "
            f"to {certificate.not_valid_after_utc:%Y-%m-%d}, not now"
        )
    return SigningIdentity(
        key=key, certificate=certificate, self_signed=certificate.issuer == certificate.subject
    )


def _self_signed_certificate(key: SigningKey, organisation: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} document sealing"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate a verifier's clock running behind
        .not_valid_after(now + dt.timedelta(days=365 * SELF_SIGNED_YEARS + SELF_SIGNED_YEARS // 4))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def _publish_once(path: Path, data: bytes, *, mode: int) -> None:
    """Give ``path`` the content ``data`` unless it already exists; never a partial file.

    The bytes go to a private temporary file first, then ``os.link`` names it: the link fails
    if another process published ``path`` first, and theirs is kept.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_or_create_signing_identity(
    settings: Settings, *, organisation: str = "isms-cycle"
) -> SigningIdentity:
    """The configured key and certificate, or the self-signed pair in ``settings.signing_dir``,
    with the timestamp authority of ``settings`` (``ISMS_TSA_URL``) when one is configured.

    With ``signing_key_file`` and ``signing_cert_file`` set, both are loaded (PEM; the key may be
    encrypted with ``signing_key_passphrase``). Otherwise ``signing_dir`` keeps
    ``signing-key.pem`` (mode 0600; encrypted with ``signing_key_passphrase`` when one is set,
    as production should) and ``signing-cert.pem``; the first run makes them: an EC P-256 key
    and a ten-year self-signed certificate, CN "<organisation> document sealing".
    Processes racing on the first run end up with the same pair. Raises
    :class:`SigningIdentityError` when the files (or ``ISMS_TSA_CA_FILE``) cannot be used.
    """
    return replace(_key_pair(settings, organisation=organisation), timestamps=_authority(settings))


def _authority(settings: Settings) -> TimestampAuthority | None:
    try:
        return timestamp_authority(settings)
    except TimestampError as exc:
        raise SigningIdentityError(str(exc)) from None


def _key_pair(settings: Settings, *, organisation: str) -> SigningIdentity:
    passphrase = (
        settings.signing_key_passphrase.get_secret_value() if settings.signing_key_passphrase else None
    )
    if settings.signing_key_file is not None and settings.signing_cert_file is not None:
        key = _load_key(settings.signing_key_file, passphrase)
        certificate = _load_certificate(settings.signing_cert_file)
        return _checked_identity(
            key, certificate, key_file=settings.signing_key_file, cert_file=settings.signing_cert_file
        )

    directory = settings.signing_dir
    key_file, cert_file = directory / KEY_FILENAME, directory / CERT_FILENAME
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not key_file.exists():
            new_key = ec.generate_private_key(ec.SECP256R1())
            protection: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(passphrase.encode())
                if passphrase
                else serialization.NoEncryption()
            )
            _publish_once(
                key_file,
                new_key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, protection
                ),
                mode=0o600,
            )
        # whichever process published the key first, everyone uses that key from here on
        key = _load_key(key_file, passphrase)
        if not cert_file.exists():
            # also repairs a key left without its certificate by a process that died in between
            certificate = _self_signed_certificate(key, organisation)
            _publish_once(cert_file, certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    except OSError as exc:
        raise SigningIdentityError(f"cannot create the signing key pair in {directory}: {exc}") from None
    return _checked_identity(key, _load_certificate(cert_file), key_file=key_file, cert_file=cert_file)
