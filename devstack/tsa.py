"""A real RFC 3161 timestamp authority for the local stack and the tests: certomancer's ``animate``.

certomancer (pyHanko's own test PKI tool) serves a small PKI over HTTP: a root CA, a TSA
certificate it issued, the root's CRL and certificate repository, and the time stamping
service itself. :func:`write_tsa_config` makes its keys and configuration once in a folder;
:func:`tsa_argv` is the command that serves it::

    config = write_tsa_config(data_dir / "tsa", port=8090)
    spawn("tsa", tsa_argv(config, port=8090), log_file=...)
    tsa_url(8090)          # ISMS_TSA_URL
    fetch_tsa_root(8090)   # the PEM for ISMS_TSA_CA_FILE

Not a production authority: its keys sit in the folder, unencrypted. Production points
``ISMS_TSA_URL`` at a qualified authority instead.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.files import write_atomic

HOST = "127.0.0.1"
ARCHITECTURE = "isms-local"
CONFIG_NAME = "certomancer.yml"
_KEYS = ("root", "tsa")


def tsa_url(port: int) -> str:
    """The time stamping endpoint (POST an RFC 3161 request)."""
    return f"http://{HOST}:{port}/{ARCHITECTURE}/tsa/tsa"


def tsa_root_url(port: int) -> str:
    """The authority's root certificate (PEM), from its certificate repository."""
    return f"http://{HOST}:{port}/{ARCHITECTURE}/certs/root/ca.cert.pem"


def _config(port: int) -> dict[str, object]:
    crl_point = {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
    }
    return {
        "external-url-prefix": f"http://{HOST}:{port}",
        "keysets": {
            "local": {"path-prefix": "keys", "keys": {name: {"path": f"{name}.key.pem"} for name in _KEYS}}
        },
        "pki-architectures": {
            ARCHITECTURE: {
                "keyset": "local",
                "entity-defaults": {"country-name": "GB", "organization-name": "isms-cycle local stack"},
                "entities": {
                    "root": {"common-name": "isms-cycle local timestamp root"},
                    "tsa": {"common-name": "isms-cycle local timestamp authority"},
                },
                "certs": {
                    "root": {
                        "subject": "root",
                        "subject-key": "root",
                        "issuer": "root",
                        "authority-key": "root",
                        "validity": {
                            "valid-from": "2020-01-01T00:00:00+0000",
                            "valid-to": "2300-01-01T00:00:00+0000",
                        },
                        "extensions": [
                            {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                            {
                                "id": "key_usage",
                                "critical": True,
                                "smart-value": {
                                    "schema": "key-usage",
                                    "params": ["digital_signature", "key_cert_sign", "crl_sign"],
                                },
                            },
                        ],
                    },
                    "tsa": {
                        "issuer": "root",
                        "validity": {
                            "valid-from": "2020-01-01T00:00:00+0000",
                            "valid-to": "2200-01-01T00:00:00+0000",
                        },
                        "extensions": [
                            {
                                "id": "key_usage",
                                "critical": True,
                                "smart-value": {"schema": "key-usage", "params": ["digital_signature"]},
                            },
                            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                            # the revocation data a B-LT archive embeds: the root's CRL
                            crl_point,
                        ],
                    },
                },
                "services": {
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P90D",
                        }
                    },
                    "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True}},
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


def write_tsa_config(folder: Path, *, port: int) -> Path:
    """certomancer's configuration and keys in ``folder`` (keys made once, kept); the config's path."""
    keys = folder / "keys"
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in _KEYS:
        path = keys / f"{name}.key.pem"
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_atomic(path, pem)
            path.chmod(0o600)
    config = folder / CONFIG_NAME
    write_atomic(config, yaml.safe_dump(_config(port), sort_keys=False).encode())
    return config


def tsa_argv(config: Path, *, port: int) -> list[str]:
    """The command that serves the authority on ``127.0.0.1:port`` (no web UI, no fake-time header)."""
    return [
        sys.executable,
        "-m",
        "certomancer",
        "--config",
        str(config),
        "animate",
        "--port",
        str(port),
        "--no-web-ui",
        "--no-time-override",
    ]


def fetch_tsa_root(port: int, *, timeout: float = 5) -> bytes:
    """The root certificate (PEM) the running authority publishes."""
    with urllib.request.urlopen(tsa_root_url(port), timeout=timeout) as response:  # noqa: S310 (our local URL)
        body: bytes = response.read()
    return body


def tsa_health(port: int) -> tuple[bool, str]:
    """Whether the authority answers (its root certificate is served)."""
    try:
        body = fetch_tsa_root(port, timeout=2)
    except OSError as exc:
        return False, str(exc)
    if b"BEGIN CERTIFICATE" not in body:
        return False, "the root certificate URL does not serve a PEM certificate"
    return True, f"serving on {tsa_url(port)}"
