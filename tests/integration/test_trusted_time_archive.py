"""Trusted time in the archive: real SeaweedFS Object Lock, a real certomancer timestamp authority.

A cycle archived with ``ISMS_TSA_URL`` set has each manifest's RFC 3161 timestamp beside it and
the authority's certificates once for the year; verify checks each timestamp and says which time
each fact rests on. A manifest whose bytes changed after its timestamp FAILs naming the
timestamp; without an authority, verify says the times rest on the organisation's own clock.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from adapters.audit import ArchiveReader, build_pack, verify_archive
from adapters.audit.offline import verify_pack
from adapters.audit.verify import _timestamp_findings
from adapters.s3 import make_auditor_s3_client
from core.settings import Settings
from core.timestamp_check import OWN_CLOCK, TSA_CERTIFICATES_FILE
from models.audit import Verdict
from tests.audit_helpers import archive_cycle
from tests.tsa_fixtures import TsaServer
from tests.tsa_fixtures import tsa_server as tsa_server  # the fixture


def _with_tsa(settings: Settings, tsa: TsaServer) -> Settings:
    return settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_file": tsa.ca_file})


def test_a_timestamped_year_verifies_on_the_authoritys_time(
    settings: Settings, tsa_server: TsaServer, tmp_path: Path
) -> None:
    timed = _with_tsa(settings, tsa_server)
    year = archive_cycle(timed, tmp_path / "cycle")
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = verify_archive(reader, year.organisation, year.year)
    failures = [(o.key, o.problems) for o in report.objects if o.verdict is not Verdict.PASS]
    assert report.verdict is Verdict.PASS, failures
    assert not failures
    prefix = f"{year.organisation}/{year.year}/"
    keys = {o.key for o in report.objects}
    assert f"{prefix}{TSA_CERTIFICATES_FILE}" in keys
    assert {f"{manifest}.tsr" for manifest in report.manifests} <= keys
    for manifest in report.manifests:
        check = next(o for o in report.objects if o.key == manifest)
        assert any("on the authority's time (RFC 3161)" in line for line in check.passed), check.passed
    pdfs = [o for o in report.objects if o.key.endswith("/document.pdf")]
    assert pdfs
    for pdf in pdfs:
        assert any("(B-LTA)" in line for line in pdf.passed), pdf.passed
        assert any("rests on the timestamp authority" in line for line in pdf.passed), pdf.passed


def test_a_manifest_changed_after_its_timestamp_fails_naming_it(
    settings: Settings, tsa_server: TsaServer, tmp_path: Path
) -> None:
    timed = _with_tsa(settings, tsa_server)
    year = archive_cycle(timed, tmp_path / "cycle", with_acknowledgements=False)
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    listing = reader.listing(year.organisation, year.year)
    manifest = year.results[0].manifest
    stamp_key = manifest.key + ".tsr"
    # the archive is WORM, so the changed bytes come from a second real manifest: this
    # manifest's archived timestamp is checked against those bytes (as a rewritten manifest
    # under the same timestamp would be), read from S3 through the auditor's reader
    other = archive_cycle(
        timed, tmp_path / "other", organisation=year.organisation + "x", with_acknowledgements=False
    )
    changed = {manifest.key: other.results[0].manifest.model_copy(update={"key": manifest.key})}
    assert stamp_key in listing.versions
    original_read = reader.read

    def read(key: str, version_id: str) -> bytes:
        if key == manifest.key:
            return original_read(other.results[0].manifest.key, other.results[0].manifest.version_id)
        return original_read(key, version_id)

    reader.read = read  # type: ignore[method-assign]
    _, _, faults, _ = _timestamp_findings(
        reader, listing, year.organisation, year.year, changed, manifest.retain_until
    )
    assert faults[manifest.key] == [
        "manifest timestamp manifests/signed-v3.0.json.tsr: the timestamp is not over these bytes "
        "(they changed after it was taken)"
    ]


def test_without_an_authority_verify_says_the_times_rest_on_the_own_clock(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.PASS
    for manifest in report.manifests:
        check = next(o for o in report.objects if o.key == manifest)
        assert OWN_CLOCK in check.passed


def test_the_pack_alone_proves_when_each_manifest_existed(
    settings: Settings, tsa_server: TsaServer, tmp_path: Path
) -> None:
    """The pack carries each manifest's timestamp and the authority's certificates; the offline
    check (no settings, no S3) verifies them; a timestamp moved onto another manifest FAILs."""
    timed = _with_tsa(settings, tsa_server)
    year = archive_cycle(timed, tmp_path / "cycle")
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    pack = tmp_path / "pack.zip"
    build_pack(reader, year.organisation, year.year, pack)
    with zipfile.ZipFile(pack) as opened:
        names = set(opened.namelist())
    assert TSA_CERTIFICATES_FILE in names
    stamps = sorted(name for name in names if name.endswith(".json.tsr"))
    assert len(stamps) == 2, names  # the signed version's manifest and the acknowledgements'

    report = verify_pack(pack)
    failures = [(o.key, o.problems) for o in report.objects if o.verdict is Verdict.FAIL]
    assert report.verdict is not Verdict.FAIL, failures
    trusted = [fact for fact in report.times if fact.trusted_time]
    assert all("RFC 3161" in fact.clock for fact in trusted)
    assert len([fact for fact in trusted if fact.fact.startswith("manifests/")]) == 2, report.times
    assert len([fact for fact in trusted if "document.pdf" in fact.fact]) >= 2, report.times  # the seals

    # the signed manifest's timestamp replaced by the acknowledgements manifest's: a genuine token
    # from the same authority, over other bytes
    swapped = tmp_path / "swapped.zip"
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(swapped, "w") as target:
        bodies = {info.filename: source.read(info) for info in source.infolist()}
        first, second = stamps
        bodies[first], bodies[second] = bodies[second], bodies[first]
        for name, body in bodies.items():
            target.writestr(name, body)
    broken = verify_pack(swapped)
    assert broken.verdict is Verdict.FAIL
    failed = {o.key: o.problems for o in broken.objects if o.verdict is Verdict.FAIL}
    for stamp in stamps:
        manifest = stamp.removesuffix(".tsr")
        assert any("does not prove this manifest" in line for line in failed[manifest]), failed
