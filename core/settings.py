"""One settings object for every process: worker, web app, command line and tests.

Values come from ``ISMS_``-prefixed environment variables and, optionally, from a
settings file in the same ``ISMS_NAME=value`` form: the file ``ISMS_SETTINGS_FILE`` names,
else ``<data folder>/isms.env`` (the file ``isms dev up`` writes) when it exists. The data
folder is the one :func:`resolve_data_dir` gives every command. Environment variables win
over the file.

>>> settings = load_settings()          # raises SettingsError listing every problem
>>> settings.temporal_address
'localhost:7233'
"""

from __future__ import annotations

import os
import re
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "ISMS_"
SETTINGS_FILE_VARIABLE = "ISMS_SETTINGS_FILE"
DATA_DIR_VARIABLE = "ISMS_DATA_DIR"
DEFAULT_DATA_DIR = Path(".isms-data")
DEV_SETTINGS_FILENAME = "isms.env"

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOST_PORT_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:(\d{1,5})$")


class SmtpSecurity(StrEnum):
    """How the SMTP connection is protected."""

    NONE = "none"  # plain SMTP: only for a sink on localhost
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS (SMTPS, usually port 465)


def _host_port(value: str) -> str:
    match = _HOST_PORT_RE.match(value)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ValueError("must be host:port, for example localhost:7233")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _bucket_name(value: str) -> str:
    if not _BUCKET_RE.match(value) or ".." in value:
        raise ValueError("must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens")
    return value


def _mail_address(value: str) -> str:
    _, address = parseaddr(value)
    local, _, domain = address.partition("@")
    if not local or not domain or " " in address:
        raise ValueError('must be an email address, optionally with a name: "ISMS <isms@example.com>"')
    return value


def _strong_secret(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < 32:
        raise ValueError(
            "must be at least 32 characters; generate one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
BucketName = Annotated[str, AfterValidator(_bucket_name)]
MailAddress = Annotated[str, AfterValidator(_mail_address)]
StrongSecret = Annotated[SecretStr, AfterValidator(_strong_secret)]


class Settings(BaseSettings):
    """Configuration of isms-cycle. Every field maps to ``ISMS_<FIELD_NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # Temporal
    temporal_address: HostPort = "localhost:7233"
    temporal_namespace: str = Field("default", min_length=1)
    temporal_task_queue: str = Field("isms-cycle", min_length=1)
    temporal_tls: bool = False
    temporal_api_key: SecretStr | None = None
    # mutual TLS to Temporal (production): the CA that signed the server's certificate, this
    # process's client certificate and key (PEM), and the server name to verify; setting any
    # of them turns TLS on
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_ui_url: HttpUrl | None = None

    # S3 (the archive bucket must have Object Lock enabled)
    s3_endpoint_url: HttpUrl | None = None  # None means AWS S3
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None  # None means the default AWS credential chain
    s3_secret_access_key: SecretStr | None = None
    # a read-only identity for the auditor's side (portal downloads, `isms audit`); optional
    s3_auditor_access_key_id: str | None = None
    s3_auditor_secret_access_key: SecretStr | None = None
    # the identity that writes the archive (the worker's archive activity alone); None: the
    # main identity above writes it too (a single-identity install)
    s3_archive_access_key_id: str | None = None
    s3_archive_secret_access_key: SecretStr | None = None
    archive_bucket: BucketName
    drafts_bucket: BucketName
    drafts_prefix: str = "drafts/"
    retention_years: int = Field(7, ge=3, le=100)

    # Mail
    smtp_host: str = Field("localhost", min_length=1)
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: MailAddress

    # Web app
    public_base_url: HttpUrl
    web_host: str = "127.0.0.1"
    web_port: int = Field(8000, ge=1, le=65535)
    link_secret: StrongSecret
    link_ttl_days: int = Field(21, ge=1, le=365)  # how long an emailed signing or acknowledgement link works
    # who may sign in to the dashboard besides the ISMS lead and deputy of profile_file:
    # email addresses, comma-separated or a JSON list
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # the organisation profile whose ISMS lead and deputy may sign in to the dashboard
    profile_file: Path | None = None
    # a separate secret per purpose: dashboard and signer sessions (derived from link_secret
    # when not set), and the proof the web app attaches to every decision and acknowledgement
    # for the worker to check (the web app and the worker alone have it; Temporal's other
    # clients, the command line included, must not)
    session_secret: StrongSecret | None = None
    proof_secret: StrongSecret | None = None
    session_hours: int = Field(8, ge=1, le=24)  # a dashboard session's longest life
    session_idle_minutes: int = Field(60, ge=5, le=24 * 60)  # ended after this long unused
    # OpenID Connect single sign-on (dashboard and, optionally, the signer): all three or none
    oidc_issuer: HttpUrl | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # the shared dashboard password: only for a single-user install, and only with
    # dashboard_single_user=true (named sign-in is the default)
    dashboard_single_user: bool = False
    dashboard_password: SecretStr | None = None
    # addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For is believed
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # the web app's own state (server-side sessions, one-time codes, sign-in throttling)
    web_state_dir: Path = Field(default_factory=lambda: resolve_data_dir() / "web")
    # group commit of acknowledgements: the web app waits up to ack_group_window_ms for more
    # acknowledgements to the same batch and sends them as one update of at most ack_group_max
    ack_group_window_ms: int = Field(20, ge=0, le=1000)
    ack_group_max: int = Field(64, ge=1, le=250)
    # how long the web app reuses a batch's view for its pages (0: ask the batch every time);
    # the update's validator, never this view, decides what is recorded
    ack_page_cache_seconds: float = Field(2.0, ge=0, le=60)

    # Worker: how many workflows it keeps in memory between tasks (the sticky cache); one
    # evicted is replayed from its history on its next task
    worker_max_cached_workflows: int = Field(200, ge=10, le=10000)
    # how often the worker hands the memory it freed back to the system (glibc's malloc_trim;
    # 0: never), so its resident set follows what it holds, not its peak
    worker_memory_trim_seconds: float = Field(30.0, ge=0, le=3600)

    # PAdES sealing: the organisation's key and certificate (PEM), or a self-signed pair made
    # on first run and kept in signing_dir
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None
    signing_key_passphrase: SecretStr | None = None
    signing_dir: Path = Field(default_factory=lambda: resolve_data_dir() / "signing")
    # trusted time: an RFC 3161 timestamp authority (seals, document timestamps, manifests);
    # without one, every time rests on the organisation's own clock. tsa_ca_file: the PEM
    # root(s) its certificate chains to (the chain the authority sends is archived with them)
    tsa_url: str | None = None
    tsa_username: str | None = None
    tsa_password: SecretStr | None = None
    tsa_ca_file: Path | None = None

    @field_validator("admins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """``a@x.example, b@x.example`` or a JSON list, from the environment or a file."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _pairs_are_complete(self) -> Settings:
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError("ISMS_S3_ACCESS_KEY_ID and ISMS_S3_SECRET_ACCESS_KEY must be set together")
        if (self.s3_auditor_access_key_id is None) != (self.s3_auditor_secret_access_key is None):
            raise ValueError(
                "ISMS_S3_AUDITOR_ACCESS_KEY_ID and ISMS_S3_AUDITOR_SECRET_ACCESS_KEY must be set together"
            )
        if (self.smtp_user is None) != (self.smtp_password is None):
            raise ValueError("ISMS_SMTP_USER and ISMS_SMTP_PASSWORD must be set together")
        if (self.s3_archive_access_key_id is None) != (self.s3_archive_secret_access_key is None):
            raise ValueError(
                "ISMS_S3_ARCHIVE_ACCESS_KEY_ID and ISMS_S3_ARCHIVE_SECRET_ACCESS_KEY must be set together"
            )
        if (self.temporal_tls_cert_file is None) != (self.temporal_tls_key_file is None):
            raise ValueError(
                "ISMS_TEMPORAL_TLS_CERT_FILE and ISMS_TEMPORAL_TLS_KEY_FILE must be set together"
            )
        oidc = (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)
        if any(part is not None for part in oidc) and not all(part is not None for part in oidc):
            raise ValueError(
                "ISMS_OIDC_ISSUER, ISMS_OIDC_CLIENT_ID and ISMS_OIDC_CLIENT_SECRET must be set together"
            )
        if self.dashboard_single_user and self.dashboard_password is None:
            raise ValueError("ISMS_DASHBOARD_SINGLE_USER=true needs ISMS_DASHBOARD_PASSWORD")
        password = self.dashboard_password
        if self.dashboard_single_user and password is not None and len(password.get_secret_value()) < 16:
            raise ValueError("ISMS_DASHBOARD_PASSWORD: must be at least 16 characters")
        if (self.signing_key_file is None) != (self.signing_cert_file is None):
            raise ValueError("ISMS_SIGNING_KEY_FILE and ISMS_SIGNING_CERT_FILE must be set together")
        if self.archive_bucket == self.drafts_bucket:
            raise ValueError(
                "ISMS_DRAFTS_BUCKET must differ from ISMS_ARCHIVE_BUCKET: drafts are deleted, "
                "the archive is write-once"
            )
        return self

    @model_validator(mode="after")
    def _tsa_is_complete(self) -> Settings:
        if (self.tsa_username is None) != (self.tsa_password is None):
            raise ValueError("ISMS_TSA_USERNAME and ISMS_TSA_PASSWORD must be set together")
        if self.tsa_url is not None and not self.tsa_url.startswith(("http://", "https://")):
            raise ValueError(f"ISMS_TSA_URL: must be an http:// or https:// URL, not {self.tsa_url!r}")
        if self.tsa_url is None and (self.tsa_username is not None or self.tsa_ca_file is not None):
            raise ValueError("ISMS_TSA_USERNAME, ISMS_TSA_PASSWORD and ISMS_TSA_CA_FILE need ISMS_TSA_URL")
        if self.tsa_url is not None and self.tsa_ca_file is None:
            raise ValueError(
                "ISMS_TSA_URL needs ISMS_TSA_CA_FILE: the PEM root certificate the authority's certificate "
                "chains to (archived, so that an auditor can check every timestamp offline)"
            )
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    def session_key(self) -> bytes:
        """The key of dashboard and signer sessions: ``session_secret``, else derived from
        ``link_secret`` (HKDF-SHA256 with a label of its own, so neither reveals the other)."""
        if self.session_secret is not None:
            return self.session_secret.get_secret_value().encode()
        return derive_key(self.link_secret.get_secret_value(), "isms-cycle sessions v1")

    def proof_key(self) -> bytes:
        """The web-to-worker proof key; raises :class:`SettingsError` when ``proof_secret`` is unset
        (the web app and the worker refuse to start without it)."""
        if self.proof_secret is None:
            raise SettingsError(
                [
                    "ISMS_PROOF_SECRET: missing (the key the web app proves decisions and "
                    "acknowledgements to the worker with, at least 32 random characters; give it "
                    "to the web app and the worker only)"
                ],
                source="settings",
            )
        return self.proof_secret.get_secret_value().encode()


def derive_key(secret: str, label: str) -> bytes:
    """32 bytes for ``label`` from ``secret`` (HKDF-SHA256, no salt): one secret, many keys."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(secret.encode())


_FIELD_HELP: dict[str, str] = {
    "archive_bucket": "the S3 bucket with Object Lock that keeps signed evidence",
    "drafts_bucket": "the S3 bucket for drafts and working files",
    "smtp_sender": 'the From address of every email, for example "ISMS <isms@example.com>"',
    "public_base_url": "the address people open links at, for example https://isms.example.com",
    "link_secret": "the secret that signs emailed links, at least 32 random characters",
}


class SettingsError(Exception):
    """Settings are missing or invalid; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str], *, source: str) -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(problems))


def resolve_data_dir(explicit: Path | None = None) -> Path:
    """The local data folder every ``isms`` command and process agrees on.

    ``explicit`` (a command's ``--data-dir``) when given, else ``$ISMS_DATA_DIR``, else
    ``./.isms-data``. It holds the local stack and the settings file ``isms dev up`` writes.
    """
    if explicit is not None:
        return explicit
    from_environment = os.environ.get(DATA_DIR_VARIABLE)
    return Path(from_environment) if from_environment else DEFAULT_DATA_DIR


def settings_file_from_environment(*, data_dir: Path | None = None) -> Path | None:
    """The settings file to read: ``$ISMS_SETTINGS_FILE``, else ``<data folder>/isms.env`` if present.

    The data folder is :func:`resolve_data_dir` of ``data_dir``.
    """
    explicit = os.environ.get(SETTINGS_FILE_VARIABLE)
    if explicit:
        return Path(explicit)
    dev_file = resolve_data_dir(data_dir) / DEV_SETTINGS_FILENAME
    return dev_file if dev_file.is_file() else None


def _describe_error(error: Any) -> str:
    location = [str(part) for part in error["loc"]]
    if not location:  # a model-level rule: the message already names the variables
        return str(error["msg"]).removeprefix("Value error, ")
    field = location[0]
    variable = ENV_PREFIX + field.upper()
    if error["type"] == "missing":
        hint = _FIELD_HELP.get(field)
        return f"{variable}: missing" + (f" ({hint})" if hint else "")
    message = str(error["msg"]).removeprefix("Value error, ")
    # never echo the value of a secret back into a terminal or a log
    if "secret" in field or "password" in field or "api_key" in field:
        return f"{variable}: {message}"
    return f"{variable}: {message} (got {error.get('input')!r})"


def load_settings(*, settings_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings, or raise :class:`SettingsError` with one line per problem.

    ``settings_file`` defaults to :func:`settings_file_from_environment`;
    ``overrides`` take precedence over both the environment and the file.
    """
    path = settings_file if settings_file is not None else settings_file_from_environment()
    if path is not None and not path.is_file():
        raise SettingsError([f"{SETTINGS_FILE_VARIABLE}: no such file {path}"], source=str(path))
    source = str(path) if path else "environment"
    try:
        return Settings(_env_file=path, **overrides)
    except ValidationError as exc:
        raise SettingsError([_describe_error(e) for e in exc.errors()], source=source) from None
