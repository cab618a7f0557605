"""The auditor's portal reads the chain: its figures, and one evidence pack per archive state.

Through the real web app (httpx ASGITransport) on a cycle archived in the real SeaweedFS, with a
grant issued as ``isms audit grant`` does.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.archive import archive_bytes, archive_key, manifest_bytes
from adapters.audit import read_pack
from adapters.audit_access import issue_grant
from adapters.drafts import store_input
from adapters.s3 import make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from models.archive import ArchiveInput, ArchiveItem, ArchiveManifest, ChainRequest, ManifestFacts
from models.audit import PackIndex
from tests.audit_helpers import archive_cycle
from web.app import create_app


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with grants of their own: the drafts bucket is shared by every test."""
    return settings.model_copy(update={"drafts_prefix": f"drafts-{secrets.token_hex(4)}/"})


async def test_the_pack_is_built_once_per_chain_state_and_a_manifest_beside_the_chain_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    year = await asyncio.to_thread(archive_cycle, settings, tmp_path / "cycle", with_acknowledgements=False)
    s3 = make_s3_client(settings)
    _, link = issue_grant(
        s3,
        settings,
        email="auditor@certifier.example",
        organisation=year.organisation,
        days=30,
        issued_by="ravi.chandran@larkspur.example",
        now=datetime.now(UTC),
    )
    year_path = f"{urlsplit(link).path}/{year.year}"
    temporal = await connect_temporal(settings)
    app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isms.test") as http:

        async def pack() -> tuple[PackIndex, dict[str, bytes]]:
            response = await http.get(f"{year_path}/pack")
            assert response.status_code == 200, response.text[:300]
            return read_pack(response.content)

        first, _ = await pack()
        again, _ = await pack()
        assert again.built_at == first.built_at  # the same build, not a second one
        assert again.chain_state == first.chain_state != ""

        # a register and a manifest written beside the chain with the worker's keys
        register = archive_bytes(
            s3,
            bucket=settings.archive_bucket,
            key=archive_key(year.organisation, year.year, "acknowledgements/v3.0/register-forged.csv"),
            body=b"email\nana@larkspur.example\nben@larkspur.example\n",
            content_type="text/csv",
            retain_until=year.results[0].manifest.retain_until,
        )
        forged = ArchiveManifest(
            cycle_id=year.cycle_id,
            organisation=year.organisation,
            year=year.year,
            stage="acknowledgements-v3.0-forged",
            facts=ManifestFacts(version="3.0", in_scope=2, acknowledged=2, rate_text="100.0%"),
            objects=[register],
        )
        archive_bytes(
            s3,
            bucket=settings.archive_bucket,
            key=archive_key(year.organisation, year.year, "manifests/acknowledgements-v3.0-forged.json"),
            body=manifest_bytes(forged),
            content_type="application/json",
            retain_until=register.retain_until,
        )
        page = await http.get(year_path)
        assert page.status_code == 200
        assert "100.0%" not in page.text  # its figures are not the cycle's
        beside, files = await pack()
        assert beside.built_at == first.built_at  # nothing on the chain changed: the same pack
        assert "acknowledgements/v3.0/register-forged.csv" not in files

        # the campaign closes: its register is archived on the chain, and the next GET packs it
        csv = tmp_path / "register.csv"
        csv.write_text("email,name,acknowledged_at\nana@larkspur.example,Ana,2026-12-02T10:00:00Z\n")
        await asyncio.to_thread(
            ActivityEnvironment().run,
            ArchiveActivities(settings=settings, s3=s3).archive_objects,
            ArchiveInput(
                cycle_id=year.cycle_id,
                organisation=year.organisation,
                year=year.year,
                stage="acknowledgements-v3.0",
                items=[
                    ArchiveItem(
                        source=store_input(s3, settings, csv), name="acknowledgements/v3.0/register.csv"
                    )
                ],
                facts=ManifestFacts(version="3.0", in_scope=2, acknowledged=1, rate_text="50.0%"),
                chain=ChainRequest(previous=year.results[0].manifest, position=1),
            ),
        )
        closed, files = await pack()
        assert closed.built_at > first.built_at
        assert closed.chain_state != first.chain_state
        assert "acknowledgements/v3.0/register.csv" in files
        assert "manifests/acknowledgements-v3.0.json" in files
        page = await http.get(year_path)
        assert "1 of 2 (50.0%)" in page.text
        assert "100.0%" not in page.text
    # one pack kept per organisation and year (an older one goes once no response can still need it)
    packs = sorted((settings.web_state_dir / "packs").glob(f"evidence-{year.organisation}-{year.year}-*.zip"))
    assert len(packs) == 2
