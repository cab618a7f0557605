"""The auditor's portal through the real web app, on a real archived cycle.

Each test archives a cycle the way the workflow does (tests/audit_helpers.py: sealed PDFs,
manifests, COMPLIANCE retention in SeaweedFS, a bucket of the test's own), grants access as
``isms audit grant`` does, and opens the emailed link. The portal lists, downloads (through a
presigned link of the read-only identity), verifies and packs one organisation's archive;
every way the link can be wrong gets a plain page and nothing else; the auditor's link works
nowhere that changes anything.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from temporalio.client import Client

from adapters.audit import read_pack
from adapters.audit_access import issue_grant, revoke_grants
from adapters.s3 import make_auditor_s3_client, make_s3_client
from adapters.temporal import connect_temporal
from core.settings import Settings
from core.tokens import issue_link
from models.archive import ArchivedObject
from models.audit import AuditGrant
from models.links import LinkRole
from tests.audit_helpers import OWN_DOCUMENTS, SIGNER, ArchivedYear, archive_cycle
from web.app import create_app

POLICY_PDF = "information-security-policy/v3.0/document.pdf"
AUDITOR = "auditor@certifier.example"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with grants of their own: the drafts bucket is shared by every test."""
    return settings.model_copy(update={"drafts_prefix": f"drafts-{secrets.token_hex(4)}/"})


@dataclass
class Portal:
    settings: Settings
    temporal: Client
    http: httpx.AsyncClient
    archived: ArchivedYear
    grant: AuditGrant
    path: str  # the emailed link's path: /audit/<token>

    @property
    def token(self) -> str:
        return unquote(self.path.rsplit("/", 1)[1])

    @property
    def year_path(self) -> str:
        return f"{self.path}/{self.archived.year}"


def _objects(archived: ArchivedYear) -> list[ArchivedObject]:
    return [o for result in archived.results for o in [*result.objects, result.manifest]]


def _grant(
    settings: Settings, organisation: str, *, email: str = AUDITOR, **changes: Any
) -> tuple[AuditGrant, str]:
    values: dict[str, Any] = {"days": 30, "issued_by": "Ravi Chandran (ISMS lead)", "now": datetime.now(UTC)}
    values.update(changes)
    return issue_grant(make_s3_client(settings), settings, email=email, organisation=organisation, **values)


@pytest.fixture
async def portal(settings: Settings, tmp_path: Path) -> AsyncIterator[Portal]:
    archived = await asyncio.to_thread(archive_cycle, settings, tmp_path / "cycle")
    grant, link = _grant(settings, archived.organisation)
    assert link.startswith(f"{settings.public_base_url}/audit/")
    temporal = await connect_temporal(settings)
    app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isms.test") as http:
        yield Portal(settings, temporal, http, archived, grant, urlsplit(link).path)


class _Page(HTMLParser):
    """A page's table rows (the text of each cell) and its links (aria-label, else text -> href)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: dict[str, str] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._link: tuple[str, str | None, list[str]] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a":
            self._link = (found.get("href") or "", found.get("aria-label"), [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "a" and self._link is not None:
            href, label, text = self._link
            self.links[label or " ".join("".join(text).split())] = href
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._link is not None:
            self._link[2].append(data)


def _archive_state(settings: Settings) -> set[tuple[str, ...]]:
    """Every version and delete marker in the test's archive bucket, and its grant records."""
    s3 = make_s3_client(settings)
    listed = s3.list_object_versions(Bucket=settings.archive_bucket)
    state: set[tuple[str, ...]] = {
        ("version", v["Key"], v["VersionId"], v["ETag"]) for v in listed.get("Versions", [])
    }
    state |= {("marker", m["Key"], m["VersionId"]) for m in listed.get("DeleteMarkers", [])}
    drafts = s3.list_objects_v2(Bucket=settings.drafts_bucket, Prefix=settings.drafts_prefix)
    state |= {("draft", o["Key"], o["ETag"]) for o in drafts.get("Contents", [])}
    return state


async def _workflows(portal: Portal) -> list[str]:
    query = f'TaskQueue = "{portal.settings.temporal_task_queue}"'
    return [w.id async for w in portal.temporal.list_workflows(query)]


def _assert_plain_page(response: httpx.Response, status: int, heading: str, *, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text[:300]}"
    assert "location" not in response.headers, what
    assert response.headers["cache-control"] == "no-store", what
    assert response.headers["x-frame-options"] == "DENY", what
    assert f"<h1>{heading}</h1>" in response.text, what
    assert "Nothing has been recorded or changed." in response.text, what


async def test_the_index_lists_the_organisations_year_and_cycle_and_no_other_organisation(
    portal: Portal, settings: Settings, tmp_path: Path
) -> None:
    other = await asyncio.to_thread(archive_cycle, settings, tmp_path / "other", year=2025)
    response = await portal.http.get(portal.path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    page = _Page(response.text)
    archived = portal.archived
    assert page.links["2026"] == portal.year_path
    cycle_rows = [row for row in page.rows if row[0].startswith(archived.cycle_id)]
    assert len(cycle_rows) == 1, page.rows
    cycle, version, signer, signed_at, acknowledged, retain_until, legal_hold = cycle_rows[0]
    assert cycle == f"{archived.cycle_id} annual review 2026"
    assert (version, signer) == ("3.0", f"{SIGNER.name}, {SIGNER.title} <{SIGNER.email}>")
    assert (acknowledged, legal_hold) == ("1 of 2 (50.0%)", "no")
    signed = datetime.strptime(signed_at, "%d %B %Y, %H:%M UTC").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - signed) < timedelta(minutes=5)
    retained = datetime.strptime(retain_until, "%d %B %Y").replace(tzinfo=UTC)
    assert retained > datetime.now(UTC) + timedelta(days=365 * 3)
    assert f"Read-only access for {AUDITOR}" in response.text
    # the grant is for one organisation: another's archive in the same bucket is not shown...
    assert other.organisation not in response.text
    assert other.cycle_id not in response.text
    assert "2025" not in page.links
    # ...and its year is not archived as far as this link goes
    refused = await portal.http.get(f"{portal.path}/2025")
    _assert_plain_page(refused, 404, "Nothing archived for that year", what="the other organisation's year")
    # a year not archived, or not a year at all
    for year in ("2024", "20x6", "2026.0", "02026"):
        refused = await portal.http.get(f"{portal.path}/{year}")
        assert refused.status_code == 404, year
        assert "Nothing archived for that year" in refused.text, year


async def test_every_archived_file_downloads_by_a_presigned_link_with_the_manifests_bytes(
    portal: Portal,
) -> None:
    response = await portal.http.get(portal.year_path)
    assert response.status_code == 200
    page = _Page(response.text)
    assert page.links["Evidence pack"] == f"{portal.year_path}/pack"
    assert f'<form method="post" action="{portal.year_path}/verify">' in response.text
    downloads = {label: href for label, href in page.links.items() if label.startswith("Download ")}
    expected = {o.key: o for o in _objects(portal.archived)}
    offered = {}
    for label, href in downloads.items():
        query = parse_qs(urlsplit(href).query)
        offered[query["key"][0]] = query["version"][0]
        assert label == "Download " + query["key"][0].removeprefix(f"{portal.archived.organisation}/2026/")
    # each document version's five files, the register and report, and the two manifests
    assert offered == {key: obj.version_id for key, obj in expected.items()}
    assert len(offered) == 14
    assert f"Download {POLICY_PDF}" in downloads
    for name in ("document.docx", "certificate.pdf", "evidence.json", "seal-certificate.pem"):
        assert f"Download information-security-policy/v3.0/{name}" in downloads

    auditor_key = portal.settings.s3_auditor_access_key_id
    assert auditor_key
    async with httpx.AsyncClient() as s3_http:
        for label, href in downloads.items():
            redirect = await portal.http.get(href)
            assert redirect.status_code == 303, label
            assert redirect.headers["cache-control"] == "no-store"
            assert redirect.headers["referrer-policy"] == "no-referrer"
            location = redirect.headers["location"]
            assert location.startswith(f"{portal.settings.s3_endpoint_url}/{portal.settings.archive_bucket}/")
            signed = parse_qs(urlsplit(location).query)
            # signed by the read-only identity, for five minutes, for exactly this version
            assert signed["X-Amz-Credential"][0].startswith(f"{auditor_key}/")
            assert signed["X-Amz-Expires"] == ["300"]
            key = parse_qs(urlsplit(href).query)["key"][0]
            assert signed["versionId"] == [expected[key].version_id]
            fetched = await s3_http.get(location)
            assert fetched.status_code == 200, f"{label}: {fetched.text[:300]}"
            assert hashlib.sha256(fetched.content).hexdigest() == expected[key].sha256, label
            filename = key.rsplit("/", 1)[1]
            assert fetched.headers["content-disposition"] == f'attachment; filename="{filename}"'


async def test_only_objects_of_the_years_manifests_are_ever_presigned(
    portal: Portal, settings: Settings, tmp_path: Path
) -> None:
    archived = portal.archived
    policy = next(o for o in _objects(archived) if o.key.endswith(POLICY_PDF))
    # a real object of the archive bucket under this organisation's year that no manifest lists
    stray_key = f"{archived.organisation}/2026/{POLICY_PDF.rsplit('/', 1)[0]}/stray.pdf"
    body = b"%PDF-1.4 stray"
    stray = make_s3_client(settings).put_object(
        Bucket=settings.archive_bucket,
        Key=stray_key,
        Body=body,
        ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
    )
    # another organisation's archived object, listed in its own manifest
    other = await asyncio.to_thread(archive_cycle, settings, tmp_path / "other")
    other_policy = next(o for o in _objects(other) if o.key.endswith(POLICY_PDF))
    grant_record = f"{settings.drafts_prefix}audit/grants/{portal.grant.grant_id}.json"
    attempts = {
        "a key no manifest lists": {"key": stray_key, "version": stray["VersionId"]},
        "an archived key, another version": {"key": policy.key, "version": stray["VersionId"]},
        "an archived key without a version": {"key": policy.key},
        "another organisation's object": {"key": other_policy.key, "version": other_policy.version_id},
        "the grant record": {"key": grant_record, "version": "null"},
        "a path out of the year": {"key": f"{archived.organisation}/2026/../../{other_policy.key}"},
        "nothing asked": {},
    }
    for what, params in attempts.items():
        response = await portal.http.get(f"{portal.year_path}/download", params=params)
        _assert_plain_page(response, 404, "No such archived file", what=what)
    # the other organisation's object through its own year's URL, with this organisation's link
    response = await portal.http.get(
        f"{portal.path}/{other.year}/download",
        params={"key": other_policy.key, "version": other_policy.version_id},
    )
    assert response.status_code == 404
    assert "location" not in response.headers
    # the control: the same request for an archived object is a redirect
    granted = await portal.http.get(
        f"{portal.year_path}/download", params={"key": policy.key, "version": policy.version_id}
    )
    assert granted.status_code == 303


async def test_verify_is_a_post_and_shows_pass_for_every_object_and_fail_for_a_later_write(
    portal: Portal,
) -> None:
    scanned = await portal.http.get(f"{portal.year_path}/verify")
    assert scanned.status_code == 405  # a link scanner's GET never starts it
    response = await portal.http.post(f"{portal.year_path}/verify")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["cache-control"] == "no-store"
    assert "<h1>Verification of 2026: PASS</h1>" in response.text
    assert "14 PASS, 0 WARN, 0 FAIL" in response.text
    rows = {row[0]: row for row in _Page(response.text).rows[1:]}
    expected = {o.key: o for o in _objects(portal.archived)}
    assert set(rows) == set(expected)
    for key, (_, version, verdict, passed, failed) in rows.items():
        assert version == expected[key].version_id, key
        assert verdict == "PASS", f"{key}: {failed}"
        assert failed == "", key
        assert "matches the manifest" in passed, key
        assert "COMPLIANCE retention until" in passed, key
        if key.endswith(".pdf"):
            assert "PAdES seal valid and intact" in passed, key

    # a later write under an archived key: the page names it and fails the year...
    policy = expected[f"{portal.archived.organisation}/2026/{POLICY_PDF}"]
    forged = b"%PDF-1.4 forged"
    later = make_s3_client(portal.settings).put_object(
        Bucket=portal.settings.archive_bucket,
        Key=policy.key,
        Body=forged,
        ChecksumSHA256=base64.b64encode(hashlib.sha256(forged).digest()).decode(),
    )
    response = await portal.http.post(f"{portal.year_path}/verify")
    assert "<h1>Verification of 2026: FAIL</h1>" in response.text
    assert "14 PASS, 0 WARN, 1 FAIL" in response.text
    failed_rows = [row for row in _Page(response.text).rows[1:] if row[2] != "PASS"]
    assert len(failed_rows) == 1
    key, version, verdict, _, problem = failed_rows[0]
    assert (key, version, verdict) == (policy.key, later["VersionId"], "FAIL")
    assert f"a later write under an archived key (version {later['VersionId']}" in problem
    # ...while the portal still hands out the archived version, never the later one
    redirect = await portal.http.get(
        f"{portal.year_path}/download", params={"key": policy.key, "version": policy.version_id}
    )
    async with httpx.AsyncClient() as s3_http:
        fetched = await s3_http.get(redirect.headers["location"])
    assert hashlib.sha256(fetched.content).hexdigest() == policy.sha256
    refused = await portal.http.get(
        f"{portal.year_path}/download", params={"key": policy.key, "version": later["VersionId"]}
    )
    assert refused.status_code == 404


def _pack_folders() -> set[str]:
    """The portal's temporary pack folders that exist now."""
    return {p.name for p in Path(tempfile.gettempdir()).glob("isms-pack-*")}


async def test_the_evidence_pack_is_a_zip_of_every_archived_file_with_matching_hashes(portal: Portal) -> None:
    before = await asyncio.to_thread(_pack_folders)
    response = await portal.http.get(f"{portal.year_path}/pack")
    assert response.status_code == 200, response.text[:500]
    organisation = portal.archived.organisation
    assert response.headers["content-type"] == "application/zip"
    assert (
        response.headers["content-disposition"] == f'attachment; filename="evidence-{organisation}-2026.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    index, files = read_pack(response.content)
    assert (index.organisation, index.year) == (organisation, 2026)
    expected = {o.key.removeprefix(f"{organisation}/2026/"): o for o in _objects(portal.archived)}
    pin = {"seal-certificate.json", "seal-certificate.pem"}  # the organisation's seal pin, for offline checks
    assert {e.path for e in index.entries} == set(expected) | pin
    for entry in index.entries:
        assert entry.path in files, entry.path
        assert hashlib.sha256(files[entry.path]).hexdigest() == entry.sha256
        if entry.path in expected:
            assert entry.sha256 == expected[entry.path].sha256
            assert entry.version_id == expected[entry.path].version_id
    assert set(files) == {e.path for e in index.entries} | {"index.json", "index.html"}
    # the temporary copy is gone once the response is sent
    assert await asyncio.to_thread(_pack_folders) == before


async def test_a_link_that_does_not_work_gets_its_plain_page_and_nothing_else(portal: Portal) -> None:
    settings, archived = portal.settings, portal.archived
    secret = settings.link_secret.get_secret_value()
    now = datetime.now(UTC)
    token = portal.token
    _, expired_link = _grant(settings, archived.organisation, days=1, now=now - timedelta(days=2))
    _, revoked_link = _grant(settings, archived.organisation, email="second@certifier.example")
    revoked_grant = revoke_grants(
        make_s3_client(settings), settings, now=now, email="second@certifier.example"
    )
    assert len(revoked_grant) == 1
    removed_grant, removed_link = _grant(settings, archived.organisation, email="third@certifier.example")
    make_s3_client(settings).delete_object(
        Bucket=settings.drafts_bucket,
        Key=f"{settings.drafts_prefix}audit/grants/{removed_grant.grant_id}.json",
    )
    middle = len(token) // 3
    other_roles = {
        role: issue_link(
            secret,
            cycle_id=archived.organisation if role is LinkRole.LEAD else archived.cycle_id,
            person=SIGNER.email,
            role=role,
            version_hash="0" * 64 if role is not LinkRole.LEAD else None,
            ttl=timedelta(days=21),
            now=now,
        )
        for role in (LinkRole.SIGNER, LinkRole.STAFF, LinkRole.LEAD)
    }
    cases: dict[str, tuple[str, int, str]] = {
        "tampered": (
            token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :],
            400,
            "This link is not valid",
        ),
        "cut short": (token[:-6], 400, "This link is not valid"),
        "signed with another secret": (
            issue_link(
                "another-secret-" + "y" * 32,
                cycle_id=archived.organisation,
                person=AUDITOR,
                role=LinkRole.AUDITOR,
                version_hash=None,
                ttl=timedelta(days=1),
                now=now,
            ),
            400,
            "This link is not valid",
        ),
        "expired": (unquote(expired_link.rsplit("/", 1)[1]), 410, "This link has expired"),
        "revoked": (unquote(revoked_link.rsplit("/", 1)[1]), 403, "This access has been withdrawn"),
        "grant record gone": (unquote(removed_link.rsplit("/", 1)[1]), 403, "This access has been withdrawn"),
        **{
            f"a {role.value} link": (other, 403, "This link is not for this page")
            for role, other in other_roles.items()
        },
    }
    policy = next(o for o in _objects(archived) if o.key.endswith(POLICY_PDF))
    before = _archive_state(settings)
    for what, (bad, status, heading) in cases.items():
        base = f"/audit/{bad}"
        requests = [
            ("GET", base, {}),
            ("GET", f"{base}/2026", {}),
            ("GET", f"{base}/2026/download", {"key": policy.key, "version": policy.version_id}),
            ("POST", f"{base}/2026/verify", {}),
            ("GET", f"{base}/2026/pack", {}),
        ]
        for method, path, params in requests:
            response = await portal.http.request(method, path, params=params)
            _assert_plain_page(response, status, heading, what=f"{what}: {method} {path.rsplit('/', 1)[-1]}")
            assert archived.organisation not in response.text, what
            assert "Download" not in response.text, what
            assert response.headers["content-type"].startswith("text/html"), what
    assert _archive_state(settings) == before

    # revocation takes effect at the next request of a link that worked a moment ago
    assert (await portal.http.get(portal.path)).status_code == 200
    revoke_grants(make_s3_client(settings), settings, now=datetime.now(UTC), grant_id=portal.grant.grant_id)
    _assert_plain_page(
        await portal.http.get(portal.year_path), 403, "This access has been withdrawn", what="just revoked"
    )


async def test_an_auditor_link_changes_nothing_anywhere_in_the_app(portal: Portal) -> None:
    token, archived = portal.token, portal.archived
    before = _archive_state(portal.settings)
    assert await _workflows(portal) == []
    http = portal.http

    # the signing and acknowledgement pages answer with their wrong-role page, GET or POST
    for path, wording in (
        (f"/sign/{token}", "not to signing"),
        (f"/ack/{token}", "not to the acknowledgement"),
    ):
        for response in (
            await http.get(path),
            await http.post(
                path, data={"action": "sign", "csrf": token, "typed_name": "Auditor", "consent": "yes"}
            ),
            await http.get(f"{path}/documents/information-security-policy.docx"),
        ):
            _assert_plain_page(response, 403, "This link is not for this page", what=path)
            assert wording in response.text, path

    # the dashboard takes no auditor link as a credential: not as its session, nor as a bearer
    as_session = {"Cookie": f"isms_session={token}"}
    for headers in (as_session, {"Authorization": f"Bearer {token}"}):
        for path in ("/dashboard", f"/dashboard/cycles/{archived.cycle_id}"):
            response = await http.get(path, headers=headers)
            assert response.status_code == 303, path
            assert response.headers["location"] == "/dashboard/login", path
    for path in ("/dashboard/cycles", f"/dashboard/cycles/{archived.cycle_id}/revision"):
        response = await http.post(path, headers=as_session, data={"csrf": token, "year": "2026"})
        assert response.status_code == 403, path
        assert "<h1>Not allowed</h1>" in response.text, path
    signed_in = await http.post("/dashboard/login", data={"password": token})
    assert signed_in.status_code in (401, 403)
    assert "set-cookie" not in signed_in.headers

    # the portal itself has no way to write: only its GETs and the verify POST exist
    year = portal.year_path
    allowed = {
        portal.path: "GET",
        year: "GET",
        f"{year}/download": "GET",
        f"{year}/pack": "GET",
        f"{year}/verify": "POST",
    }
    for path, method in allowed.items():
        for other in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if other == method:
                continue
            response = await http.request(other, path, content=b"x")
            assert response.status_code == 405, f"{other} {path}: {response.status_code}"
    # still a working link, and nothing changed: the archive, the grants, the workflows
    assert (await http.get(portal.path)).status_code == 200
    assert _archive_state(portal.settings) == before
    assert await _workflows(portal) == []


async def test_the_read_only_identity_cannot_presign_a_write_to_the_archive(portal: Portal) -> None:
    settings, archived = portal.settings, portal.archived
    bucket = settings.archive_bucket
    policy = next(o for o in _objects(archived) if o.key.endswith(POLICY_PDF))
    body = b"%PDF-1.4 forged"
    checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()

    def presigned_put(s3: Any, key: str) -> str:
        url: str = s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key, "ChecksumSHA256": checksum}, ExpiresIn=300
        )
        return url

    auditor, admin = make_auditor_s3_client(settings), make_s3_client(settings)
    fresh = f"{archived.organisation}/2026/control-{secrets.token_hex(4)}.pdf"
    before = _archive_state(settings)
    headers = {"x-amz-checksum-sha256": checksum}
    async with httpx.AsyncClient() as s3_http:
        for key in (policy.key, fresh):
            refused = await s3_http.put(presigned_put(auditor, key), content=body, headers=headers)
            assert refused.status_code == 403, f"{key}: {refused.status_code} {refused.text[:300]}"
            assert "AccessDenied" in refused.text
        # the portal's own download link is a GET: replayed as a PUT its signature does not hold
        redirect = await portal.http.get(
            f"{portal.year_path}/download", params={"key": policy.key, "version": policy.version_id}
        )
        replayed = await s3_http.put(redirect.headers["location"], content=body, headers=headers)
        assert replayed.status_code == 403, replayed.text[:300]
        assert _archive_state(settings) == before
        # the control: the same presigned write by the application's identity is accepted
        accepted = await s3_http.put(presigned_put(admin, fresh), content=body, headers=headers)
        assert accepted.status_code == 200, accepted.text[:300]
    stored = admin.get_object(Bucket=bucket, Key=fresh)["Body"].read()
    assert stored == body


async def test_the_year_page_says_what_each_of_the_organisations_own_documents_proves(
    settings: Settings, tmp_path: Path
) -> None:
    """A version of four documents: the portal names each by title, and the one the CEO did not
    sign (the static Acceptable Use Policy) is not presented as approved by top management."""
    archived = await asyncio.to_thread(archive_cycle, settings, tmp_path / "cycle", documents=OWN_DOCUMENTS)
    _, link = _grant(settings, archived.organisation)
    temporal = await connect_temporal(settings)
    app = create_app(settings, client=temporal)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://isms.test") as http:
        response = await http.get(f"{urlsplit(link).path}/{archived.year}")
        verified = await http.post(f"{urlsplit(link).path}/{archived.year}/verify")
    assert verified.status_code == 200
    # the verify page checks each document complete, the static PDF without a Word file too
    documents = {row[0]: row for row in _Page(verified.text).rows if row[0].endswith("/v3.0/")}
    prefix = f"{archived.organisation}/{archived.year}/"
    assert sorted(documents) == sorted(f"{prefix}{d.id}/v3.0/" for d in OWN_DOCUMENTS)
    assert all(row[1] == "PASS" for row in documents.values()), documents
    aup_check = documents[f"{prefix}acceptable-use-policy/v3.0/"]
    assert "Acceptable Use Policy, version 2.1 (static PDF" in aup_check[2]
    assert "objects and 4 documents under" in verified.text
    assert response.status_code == 200
    evidence = {row[0]: row for row in _Page(response.text).rows}
    aup = next(
        row for name, row in evidence.items() if name.startswith("acceptable-use-policy/v3.0/document.pdf")
    )
    assert any("Acceptable Use Policy, communicated to relevant personnel" in cell for cell in aup), aup
    assert not any("approved by top management" in cell for cell in aup), aup
    sdp = next(
        row
        for name, row in evidence.items()
        if name.startswith("secure-development-policy/v3.0/document.pdf")
    )
    assert any("Secure Development Policy" in cell for cell in sdp), sdp
