"""Trusted time switched on in the middle of a year: real SeaweedFS Object Lock, a real certomancer TSA.

The signed version is archived (and its PDFs sealed) before the organisation configures a
timestamp authority; the acknowledgements are archived after, with a timestamp. verify gives the
older manifest and its seals a plain WARN ("made before trusted time was configured") and the
newer one its RFC 3161 time: not a FAIL. A manifest whose timestamp is missing although the
authority was on when it was archived (after a timestamped one in its chain, or listing seals
that carry trusted time) still FAILs.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.audit import ArchiveReader, build_pack, verify_archive
from adapters.audit.offline import verify_pack
from adapters.audit.reader import Listing
from adapters.audit.verify import BEFORE_TRUSTED_TIME, SEALED_BEFORE_TRUSTED_TIME
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.settings import Settings
from documents.signing_identity import load_or_create_signing_identity
from models.archive import ArchiveInput, ArchiveItem, ArchiveResult, ChainRequest, ManifestFacts
from models.audit import ObjectCheck, Verdict
from tests.audit_helpers import ArchivedYear, archive_cycle
from tests.tsa_fixtures import TsaServer
from tests.tsa_fixtures import tsa_server as tsa_server  # the fixture


def _with_tsa(settings: Settings, tsa: TsaServer) -> Settings:
    return settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_file": tsa.ca_file})


def _by_key(objects: list[ObjectCheck]) -> dict[str, ObjectCheck]:
    return {o.key: o for o in objects}


def _mixed_year(settings: Settings, tsa: TsaServer, folder: Path) -> tuple[ArchivedYear, ArchiveResult]:
    """The signed version archived with no authority; the acknowledgements with one, after."""
    year = archive_cycle(settings, folder / "cycle", with_acknowledgements=False)  # no authority yet
    signed = year.results[0]
    timed = _with_tsa(settings, tsa)  # the organisation configures one; the campaign closes
    s3 = make_s3_client(timed)
    register = folder / "register.csv"
    register.write_text("email,name,acknowledged_at\nana@larkspur.example,Ana,2026-12-02T10:00:00Z\n")
    activities = ArchiveActivities(
        settings=timed, s3=s3, seal_certificate_pem=load_or_create_signing_identity(timed).certificate_pem()
    )
    acknowledged = ActivityEnvironment().run(
        activities.archive_objects,
        ArchiveInput(
            cycle_id=year.cycle_id,
            organisation=year.organisation,
            year=year.year,
            stage="acknowledgements-v3.0",
            items=[
                ArchiveItem(
                    source=store_input(s3, timed, register), name="acknowledgements/v3.0/register.csv"
                )
            ],
            facts=ManifestFacts(version="3.0", in_scope=1, acknowledged=1, rate_text="100.0%"),
            chain=ChainRequest(previous=signed.manifest, position=1),
        ),
    )
    return year, acknowledged


def test_manifests_made_before_trusted_time_warn_and_the_later_ones_pass(
    settings: Settings, tsa_server: TsaServer, tmp_path: Path
) -> None:
    year, acknowledged = _mixed_year(settings, tsa_server, tmp_path)
    signed = year.results[0]
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    report = verify_archive(reader, year.organisation, year.year)
    failures = [(o.key, o.problems) for o in report.objects if o.verdict is Verdict.FAIL]
    assert not failures
    assert report.verdict is Verdict.PASS  # WARNs are per object: the year verifies
    assert report.count(Verdict.WARN) >= 3
    checks = _by_key(report.objects)

    older = checks[signed.manifest.key]
    assert (older.verdict, older.problems) == (Verdict.WARN, [BEFORE_TRUSTED_TIME])
    pdfs = [checks[o.key] for o in signed.objects if o.key.endswith("/document.pdf")]
    assert len(pdfs) == 2
    for pdf in pdfs:  # the plain PAdES check, not B-LTA, and said plainly
        assert pdf.verdict is Verdict.WARN, pdf.problems
        assert pdf.problems == [SEALED_BEFORE_TRUSTED_TIME]
        assert any("PAdES seal valid and intact" in line for line in pdf.passed), pdf.passed

    newer = checks[acknowledged.manifest.key]
    assert newer.verdict is Verdict.PASS, newer.problems
    assert any("on the authority's time (RFC 3161)" in line for line in newer.passed), newer.passed
    assert checks[acknowledged.manifest.key + ".tsr"].verdict is Verdict.PASS


def _without(reader: ArchiveReader, *hidden: str) -> None:
    """The reader's listings leave ``hidden`` out: the timestamp cut out of what verify sees.

    The bucket is WORM, so no test can delete an archived timestamp; this is what verify would
    see if one were gone (a copy of the archive without it, a listing a proxy filtered).
    """
    listing = reader.listing

    def filtered(organisation: str, year: int) -> Listing:
        found = listing(organisation, year)
        for key in hidden:
            found.versions.pop(key, None)
        return found

    reader.listing = filtered  # type: ignore[method-assign]


def test_a_timestamp_missing_after_the_authority_was_on_still_fails(
    settings: Settings, tsa_server: TsaServer, tmp_path: Path
) -> None:
    year = archive_cycle(_with_tsa(settings, tsa_server), tmp_path / "cycle")
    signed, acknowledged = (result.manifest.key for result in year.results)

    # the second manifest of the chain: the first has a timestamp, so this one had one too
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    _without(reader, acknowledged + ".tsr")
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.FAIL
    check = _by_key(report.objects)[acknowledged]
    assert check.verdict is Verdict.FAIL
    assert any("no RFC 3161 timestamp beside it" in line for line in check.problems), check.problems
    assert BEFORE_TRUSTED_TIME not in check.problems

    # the first manifest: archived just before the authority's certificates, but its PDFs carry
    # document timestamps, so the authority was on when it was archived
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    _without(reader, signed + ".tsr")
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.FAIL
    check = _by_key(report.objects)[signed]
    assert check.verdict is Verdict.FAIL
    assert any("no RFC 3161 timestamp beside it" in line for line in check.problems), check.problems
    pdfs = [o for o in report.objects if o.key.endswith("/document.pdf")]
    assert all(any("(B-LTA)" in line for line in pdf.passed) for pdf in pdfs)


def _pack_without(pack: Path, target: Path, *cut: str) -> Path:
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(target, "w") as written:
        for info in source.infolist():
            if info.filename not in cut:
                written.writestr(info.filename, source.read(info))
    return target


def test_the_pack_alone_tells_the_older_manifests_from_a_cut_out_timestamp(
    settings: Settings, tsa_server: TsaServer, tmp_path: Path
) -> None:
    """Offline (no settings, no S3): the pack of the mixed year WARNs for the older manifest; in the
    pack of a year timestamped throughout, a timestamp taken out of the zip FAILs by name."""
    reader = ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)
    year, _ = _mixed_year(settings, tsa_server, tmp_path / "mixed")
    mixed = tmp_path / "mixed.zip"
    build_pack(reader, year.organisation, year.year, mixed)
    report = verify_pack(mixed)
    assert not [(o.key, o.problems) for o in report.objects if o.verdict is Verdict.FAIL]
    checks = _by_key(report.objects)
    older = checks["manifests/signed-v3.0.json"]
    assert older.verdict is Verdict.WARN
    assert older.problems == [
        "made before trusted time was configured: no RFC 3161 timestamp, so its time rests on the "
        "organisation's own clock"
    ]
    assert checks["manifests/acknowledgements-v3.0.json"].verdict is Verdict.PASS

    timed = archive_cycle(_with_tsa(settings, tsa_server), tmp_path / "timed")
    whole = tmp_path / "timed.zip"
    build_pack(reader, timed.organisation, timed.year, whole)
    assert verify_pack(whole).verdict is Verdict.PASS
    for manifest, why in (
        ("manifests/acknowledgements-v3.0.json", "a manifest before it in its chain has one"),
        ("manifests/signed-v3.0.json", "the seals it lists carry trusted time"),
    ):
        cut = _pack_without(whole, tmp_path / f"cut-{manifest.rsplit('/', 1)[1]}.zip", f"{manifest}.tsr")
        broken = verify_pack(cut)
        assert broken.verdict is Verdict.FAIL, manifest
        check = _by_key(broken.objects)[manifest]
        assert check.verdict is Verdict.FAIL
        assert check.problems == [
            f"no RFC 3161 timestamp beside it ({manifest}.tsr is missing), though {why}: the timestamp "
            "was cut out"
        ]
