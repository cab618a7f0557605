"""Archiving into the real SeaweedFS Object Lock bucket: once per key, under COMPLIANCE retention."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive import ARCHIVE_CONFLICT, ArchiveActivities
from adapters.archive import add_years, archive_key
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from core.settings import Settings
from models.archive import ArchiveInput, ArchiveItem


def _items(settings: Settings, folder: Path, texts: dict[str, bytes]) -> list[ArchiveItem]:
    items = []
    for name, body in texts.items():
        path = folder / name.replace("/", "_")
        path.write_bytes(body)
        items.append(ArchiveItem(source=store_input(make_s3_client(settings), settings, path), name=name))
    return items


def test_archive_once_under_retention_with_the_manifest_last(settings: Settings, tmp_path: Path) -> None:
    s3 = make_s3_client(settings)
    activities = ArchiveActivities(settings=settings, s3=s3)
    org = f"org{uuid.uuid4().hex[:6]}"
    items = _items(
        settings,
        tmp_path,
        {
            "information-security-policy/v3.0/document.pdf": b"%PDF-1.4 policy",
            "information-security-policy/v3.0/evidence.json": b'{"signed": true}',
        },
    )
    data = ArchiveInput(
        cycle_id="isms-review-x-2026",
        organisation=org,
        year=2026,
        stage="signed-v3.0",
        items=items,
        retention_years=7,
    )
    first = ActivityEnvironment().run(activities.archive_objects, data)
    again = ActivityEnvironment().run(activities.archive_objects, data)  # a retry writes nothing
    assert [o.version_id for o in again.objects] == [o.version_id for o in first.objects]
    assert again.manifest.version_id == first.manifest.version_id

    bucket = settings.archive_bucket
    for archived, item in zip(first.objects, items, strict=True):
        versions = s3.list_object_versions(Bucket=bucket, Prefix=archived.key).get("Versions", [])
        assert [v["VersionId"] for v in versions if v["Key"] == archived.key] == [archived.version_id]
        head = s3.head_object(Bucket=bucket, Key=archived.key, VersionId=archived.version_id)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] >= datetime.now(UTC) + timedelta(days=365 * 7 - 2)
        assert archived.sha256 == item.source.sha256
        with pytest.raises(ClientError):  # WORM: the locked version cannot be deleted
            s3.delete_object(Bucket=bucket, Key=archived.key, VersionId=archived.version_id)

    body = s3.get_object(Bucket=bucket, Key=first.manifest.key, VersionId=first.manifest.version_id)[
        "Body"
    ].read()
    manifest = json.loads(body)
    assert first.manifest.key == archive_key(org, 2026, "manifests/signed-v3.0.json")
    assert {o["key"]: o["sha256"] for o in manifest["objects"]} == {o.key: o.sha256 for o in first.objects}
    assert all(o["version_id"] and o["retain_until"] for o in manifest["objects"])


def test_a_different_object_under_an_archived_key_is_refused(settings: Settings, tmp_path: Path) -> None:
    activities = ArchiveActivities(settings=settings, s3=make_s3_client(settings))
    org = f"org{uuid.uuid4().hex[:6]}"

    def archive(body: bytes) -> None:
        items = _items(settings, tmp_path, {"acknowledgements/register.csv": body})
        data = ArchiveInput(
            cycle_id="c",
            organisation=org,
            year=2026,
            stage="acknowledgements",
            items=items,
            retention_years=3,
        )
        ActivityEnvironment().run(activities.archive_objects, data)

    archive(b"email,status\na@x,acknowledged\n")
    with pytest.raises(ApplicationError) as refused:
        archive(b"email,status\na@x,outstanding\n")
    assert refused.value.type == ARCHIVE_CONFLICT
    assert "already holds a different object" in str(refused.value)


def test_keys_stay_inside_the_cycle_and_years_are_calendar_years() -> None:
    assert archive_key("acme", 2026, "policy/v1/document.pdf") == "acme/2026/policy/v1/document.pdf"
    for bad in ("", "/etc/passwd", "a/../b", "a//b", "./a"):
        with pytest.raises(ValueError, match="not a relative archive name"):
            archive_key("acme", 2026, bad)
    assert add_years(datetime(2028, 2, 29, tzinfo=UTC), 7) == datetime(2035, 2, 28, tzinfo=UTC)
    assert add_years(datetime(2026, 11, 23, tzinfo=UTC), 7) == datetime(2033, 11, 23, tzinfo=UTC)
