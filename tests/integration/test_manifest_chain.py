"""Each cycle's manifests form a closed chain, and verify, the listing and the pack believe only it.

Every test starts from a cycle archived the way the workflow archives it (tests/audit_helpers.py:
sealed PDFs, a chain of two manifests under COMPLIANCE retention in the real SeaweedFS), then
writes what someone holding the worker's S3 keys could write: a manifest beside the chain, one
with a gap, one listing an object of another organisation, a second year sealed with another
certificate. On the code before chaining, each of these verified PASS (or changed the figures).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.archive import archive_bytes, archive_key, manifest_bytes, seal_pin_key
from adapters.audit import ArchiveReader, AuditError, build_pack, verify_archive, verify_copy
from adapters.drafts import store_input
from adapters.s3 import make_auditor_s3_client, make_s3_client
from core.settings import Settings
from models.archive import (
    ArchivedObject,
    ArchiveInput,
    ArchiveItem,
    ArchiveManifest,
    ChainRequest,
    ManifestChain,
    ManifestFacts,
    ManifestLink,
)
from models.audit import ObjectCheck, Verdict, VerifyReport
from tests.audit_helpers import ArchivedYear, archive_cycle


def _reader(settings: Settings) -> ArchiveReader:
    return ArchiveReader(make_auditor_s3_client(settings), settings.archive_bucket)


def _failing(report: VerifyReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for check in report.objects:
        if check.verdict is Verdict.FAIL:
            found.setdefault(check.key, []).extend(check.problems)
    return found


def _forged_register(settings: Settings, year: ArchivedYear, folder: Path, name: str) -> ArchivedObject:
    """A new register archived under retention with the worker's identity, as a stray writer could."""
    s3 = make_s3_client(settings)
    body = b"email,name,acknowledged_at\nana@larkspur.example,Ana,x\nben@larkspur.example,Ben,x\n"
    return archive_bytes(
        s3,
        bucket=settings.archive_bucket,
        key=archive_key(year.organisation, year.year, name),
        body=body,
        content_type="text/csv",
        retain_until=year.results[0].manifest.retain_until,
    )


def _write_manifest(
    settings: Settings, year: ArchivedYear, stage: str, manifest: ArchiveManifest
) -> ArchivedObject:
    return archive_bytes(
        make_s3_client(settings),
        bucket=settings.archive_bucket,
        key=archive_key(year.organisation, year.year, f"manifests/{stage}.json"),
        body=manifest_bytes(manifest),
        content_type="application/json",
        retain_until=year.results[0].manifest.retain_until,
    )


def _link(obj: ArchivedObject) -> ManifestLink:
    return ManifestLink(key=obj.key, version_id=obj.version_id, sha256=obj.sha256)


def test_extra_manifests_written_with_the_workers_keys_fail_verify_by_name_and_change_no_figure(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle")
    signed, closing = year.results[0].manifest, year.results[1].manifest
    register = _forged_register(settings, year, tmp_path, "acknowledgements/v3.0/register-corrected.csv")
    forged_facts = ManifestFacts(version="3.0", in_scope=2, acknowledged=2, rate_text="100.0%")

    def forged(stage: str, chain: ManifestChain | None) -> ArchivedObject:
        manifest = ArchiveManifest(
            cycle_id=year.cycle_id,
            organisation=year.organisation,
            year=year.year,
            stage=stage,
            facts=forged_facts,
            objects=[register],
            chain=chain,
        )
        return _write_manifest(settings, year, stage, manifest)

    # as the code before chaining wrote them: no place in any chain
    unchained = forged("acknowledgements-v3.0-corrected", None)
    # a fork: names the signed version's manifest, which names another successor
    fork = forged(
        "acknowledgements-v3.0-fork",
        ManifestChain(cycle_id=year.cycle_id, position=1, previous=_link(signed), next_key=None),
    )
    # after the manifest that closes the chain
    after = forged(
        "acknowledgements-v3.0-late",
        ManifestChain(cycle_id=year.cycle_id, position=2, previous=_link(closing), next_key=None),
    )
    stray = archive_bytes(  # not a manifest at all: a finding, not a crash
        make_s3_client(settings),
        bucket=settings.archive_bucket,
        key=archive_key(year.organisation, year.year, "manifests/notes.json"),
        body=b'{"hello": "auditor"}',
        content_type="application/json",
        retain_until=signed.retain_until,
    )

    reader = _reader(settings)
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.FAIL
    failing = _failing(report)
    assert set(failing) == {unchained.key, fork.key, after.key, stray.key}, failing
    assert failing[unchained.key] == [
        f"an extra manifest: unchained, beside the chained manifests of cycle {year.cycle_id}"
    ]
    assert failing[fork.key] == [
        f"an extra manifest: it names {signed.key} as its predecessor, which names {closing.key} as its successor"
    ]
    assert failing[after.key] == [
        f"an extra manifest: {closing.key} closes the chain of cycle {year.cycle_id}"
    ]
    assert failing[stray.key][0].startswith("an extra manifest: not a readable manifest")
    assert report.manifests == [signed.key, closing.key]
    # the forged register is not evidence: listed only by manifests outside the chain
    (register_check,) = [o for o in report.objects if o.key == register.key]
    assert register_check.verdict is Verdict.WARN
    chained = {o.key: o for o in report.objects if o.key in (signed.key, closing.key)}
    assert [o.verdict for o in chained.values()] == [Verdict.PASS, Verdict.PASS]
    assert f"manifest 1 of cycle {year.cycle_id}'s chain" in chained[signed.key].passed
    assert f"manifest 2 of cycle {year.cycle_id}'s chain (it closes the chain)" in chained[closing.key].passed

    # the listing and the pack show the chain's own figures: 1 of 2, not the forged 2 of 2
    (cycle,) = reader.cycles(year.organisation, year.year)
    assert (cycle.facts.in_scope, cycle.facts.acknowledged, cycle.facts.rate_text) == (2, 1, "50.0%")
    assert register.key not in {o.key for o in cycle.objects()}
    assert [m.key for m in cycle.manifests] == [signed.key, closing.key]
    index = build_pack(reader, year.organisation, year.year, tmp_path / "pack.zip")
    assert "acknowledgements/v3.0/register-corrected.csv" not in {e.path for e in index.entries}
    assert not [e.path for e in index.entries if "corrected" in e.path or "fork" in e.path]
    # a copy holding the forged register fails by name
    copy = tmp_path / "copy"
    (copy / "acknowledgements/v3.0").mkdir(parents=True)
    (copy / "acknowledgements/v3.0/register-corrected.csv").write_bytes(reader.read_checked(register))
    checked = verify_copy(reader, year.organisation, year.year, copy)
    assert checked.verdict is Verdict.FAIL
    assert "acknowledgements/v3.0/register-corrected.csv" in {o.key for o in checked.objects}


def test_a_gap_or_a_changed_predecessor_in_the_chain_fails(settings: Settings, tmp_path: Path) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", with_acknowledgements=False)
    signed = year.results[0].manifest
    s3 = make_s3_client(settings)
    register = tmp_path / "register.csv"
    register.write_text("email,name,acknowledged_at\nana@larkspur.example,Ana,x\n")
    activities = ArchiveActivities(settings=settings, s3=s3)

    def archive(stage: str, previous: ArchivedObject) -> ArchivedObject:
        return (
            ActivityEnvironment()
            .run(
                activities.archive_objects,
                ArchiveInput(
                    cycle_id=year.cycle_id,
                    organisation=year.organisation,
                    year=year.year,
                    stage=stage,
                    items=[
                        ArchiveItem(source=store_input(s3, settings, register), name=f"{stage}/register.csv")
                    ],
                    facts=ManifestFacts(version="3.0", in_scope=1, acknowledged=1, rate_text="100.0%"),
                    chain=ChainRequest(previous=previous, position=1),
                ),
            )
            .manifest
        )

    missing = signed.model_copy(update={"version_id": "not-an-archived-version"})
    gap = archive("acknowledgements-gap", missing)
    changed = archive("acknowledgements-changed", signed.model_copy(update={"sha256": "0" * 64}))

    report = verify_archive(_reader(settings), year.organisation, year.year)
    assert report.verdict is Verdict.FAIL
    failing = _failing(report)
    assert failing[gap.key] == [
        f"a gap in the chain of cycle {year.cycle_id}: its predecessor {signed.key} "
        "(version not-an-archived-version) is not an archived manifest of the cycle"
    ]
    assert failing[changed.key] == [
        f"the chain of cycle {year.cycle_id} is broken: it names {signed.key} with SHA-256 {'0' * 64}, "
        f"the archived bytes have {signed.sha256}"
    ]
    # the signed version's own chain is intact, and still open for the real register
    awaiting = archive_key(year.organisation, year.year, "manifests/acknowledgements-v3.0.json")
    (head,) = [o for o in report.objects if o.key == signed.key]
    assert head.verdict is Verdict.PASS
    assert any(
        p.startswith(f"the chain of cycle {year.cycle_id} continues with {awaiting}") for p in head.passed
    )
    (cycle,) = _reader(settings).cycles(year.organisation, year.year)
    assert cycle.facts.in_scope is None  # no gap's figures believed


def test_a_second_year_sealed_with_another_certificate_fails_against_the_pinned_one(
    settings: Settings, tmp_path: Path
) -> None:
    first = archive_cycle(settings, tmp_path / "2026")
    pin = seal_pin_key(first.organisation)
    s3 = make_s3_client(settings)
    pinned = json.loads(s3.get_object(Bucket=settings.archive_bucket, Key=pin)["Body"].read())
    assert pinned["cycle_id"] == first.cycle_id
    assert verify_archive(_reader(settings), first.organisation, 2026).verdict is Verdict.PASS

    # the same organisation a year later, sealed by a worker with a seal identity of its own
    swapped = settings.model_copy(update={"signing_dir": tmp_path / "another-seal"})
    second = archive_cycle(swapped, tmp_path / "2027", organisation=first.organisation, year=2027)
    report = verify_archive(_reader(settings), second.organisation, 2027)
    assert report.verdict is Verdict.FAIL
    failing = _failing(report)
    certificates = {k for k in failing if k.endswith("/seal-certificate.pem")}
    assert certificates == {
        f"{first.organisation}/2027/{d}/v3.0/seal-certificate.pem"
        for d in ("information-security-policy", "isms-roles-responsibilities")
    }
    problem = failing[next(iter(certificates))][0]
    assert problem.startswith("seal certificate fingerprint ")
    assert f"differs from the one pinned for {first.organisation} ({pinned['certificate_sha256']}" in problem
    assert set(failing) == certificates  # the PDFs verify against their own certificate: only the pin fails
    # the first year still passes: its certificate is the pinned one
    again = verify_archive(_reader(settings), first.organisation, 2026)
    assert again.verdict is Verdict.PASS
    pem_checks = [o for o in again.objects if o.key.endswith("/seal-certificate.pem")]
    assert all(any(p.startswith("the seal certificate pinned for") for p in o.passed) for o in pem_checks)
    # the pin itself was written once, and the second year extended its retention
    versions = s3.list_object_versions(Bucket=settings.archive_bucket, Prefix=pin)["Versions"]
    assert len(versions) == 1


def test_a_manifest_entry_outside_the_years_prefix_fails_verify_and_refuses_the_pack(
    settings: Settings, tmp_path: Path
) -> None:
    other = archive_cycle(settings, tmp_path / "other")  # another organisation in the same bucket
    year = archive_cycle(settings, tmp_path / "cycle", with_acknowledgements=False)
    signed = year.results[0].manifest
    foreign = next(o for o in other.results[1].objects if o.key.endswith("register.csv"))
    # the manifest the chain waits for, written by hand with an entry of the other organisation
    closing = ArchiveManifest(
        format="isms-cycle/archive-manifest/v2",
        cycle_id=year.cycle_id,
        organisation=year.organisation,
        year=year.year,
        stage="acknowledgements-v3.0",
        facts=ManifestFacts(version="3.0", in_scope=2, acknowledged=1, rate_text="50.0%"),
        objects=[foreign],
        chain=ManifestChain(cycle_id=year.cycle_id, position=1, previous=_link(signed), next_key=None),
    )
    written = _write_manifest(settings, year, "acknowledgements-v3.0", closing)

    reader = _reader(settings)
    report = verify_archive(reader, year.organisation, year.year)
    assert report.verdict is Verdict.FAIL
    assert _failing(report) == {
        foreign.key: [
            f"listed by {written.key} but not below {year.organisation}/{year.year}/: not evidence of this year"
        ]
    }
    assert written.key in report.manifests  # on the chain: only its foreign entry fails
    with pytest.raises(AuditError, match=rf"outside {year.organisation}/{year.year}/: {foreign.key} "):
        build_pack(reader, year.organisation, year.year, tmp_path / "pack.zip")
    assert not (tmp_path / "pack.zip").exists()
    (cycle,) = reader.cycles(year.organisation, year.year)
    assert foreign.key not in {o.key for o in cycle.objects()}
    checked = verify_copy(reader, year.organisation, year.year, tmp_path / "other")
    assert foreign.key in _failing(checked)


def test_a_signed_at_that_disagrees_with_the_archived_objects_time_fails(
    settings: Settings, tmp_path: Path
) -> None:
    year = archive_cycle(settings, tmp_path / "cycle", with_acknowledgements=False)
    s3 = make_s3_client(settings)
    activities = ArchiveActivities(settings=settings, s3=s3)
    source = next(
        o for o in year.results[0].objects if o.key.endswith("information-security-policy/v3.0/document.pdf")
    )
    pdf = tmp_path / "backdated.pdf"
    pdf.write_bytes(
        s3.get_object(Bucket=settings.archive_bucket, Key=source.key, VersionId=source.version_id)[
            "Body"
        ].read()
    )
    backdated = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)

    def archive(cycle_id: str, signed_at: datetime) -> ArchivedObject:
        return (
            ActivityEnvironment()
            .run(
                activities.archive_objects,
                ArchiveInput(
                    cycle_id=cycle_id,
                    organisation=year.organisation,
                    year=year.year,
                    stage=f"signed-v{cycle_id[-3:]}",
                    items=[
                        ArchiveItem(
                            source=store_input(s3, settings, pdf), name=f"p{cycle_id[-3:]}/v1/document.pdf"
                        )
                    ],
                    facts=ManifestFacts(version="1", signer="Eleanor Marsh", signed_at=signed_at),
                    chain=ChainRequest(),
                ),
            )
            .manifest
        )

    early = archive(f"{year.cycle_id}-old", backdated)
    late = archive(f"{year.cycle_id}-new", datetime.now(UTC) + timedelta(hours=2))
    report = verify_archive(_reader(settings), year.organisation, year.year)
    failing = _failing(report)
    assert len(failing[early.key]) == 1
    assert failing[early.key][0].startswith(f"signed_at {backdated:%Y-%m-%d %H:%M:%S} UTC is 40 days before ")
    assert failing[late.key][0].endswith("it was not signed then")
    assert year.results[0].manifest.key not in failing  # the real signature's time agrees


def test_an_archive_from_before_chaining_still_verifies_with_a_plain_warning(
    settings: Settings, tmp_path: Path
) -> None:
    """As the archiving before chaining wrote it: unchained manifests, no pinned seal certificate."""
    s3 = make_s3_client(settings)
    organisation, year = "legacyorg", 2025
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    manifests: list[ArchivedObject] = []
    for stage, name, facts in (
        ("signed-v2.0", "render-manifest/v2.0.json", ManifestFacts(version="2.0", signer="Eleanor Marsh")),
        (
            "acknowledgements-v2.0",
            "acknowledgements/v2.0/register.csv",
            ManifestFacts(version="2.0", in_scope=3, acknowledged=3, rate_text="100.0%"),
        ),
    ):
        obj = archive_bytes(
            s3,
            bucket=settings.archive_bucket,
            key=f"{organisation}/{year}/{name}",
            body=f"{stage} contents".encode(),
            content_type="text/plain",
            retain_until=until,
        )
        manifest = ArchiveManifest(
            cycle_id="isms-review-legacyorg-2025",
            organisation=organisation,
            year=year,
            stage=stage,
            facts=facts,
            objects=[obj],
        )
        manifests.append(
            archive_bytes(
                s3,
                bucket=settings.archive_bucket,
                key=f"{organisation}/{year}/manifests/{stage}.json",
                body=manifest_bytes(manifest),
                content_type="application/json",
                retain_until=until,
            )
        )
    reader = _reader(settings)
    report = verify_archive(reader, organisation, year)
    assert report.verdict is Verdict.PASS
    warnings: list[ObjectCheck] = [o for o in report.objects if o.verdict is Verdict.WARN]
    assert {o.key for o in warnings} == {m.key for m in manifests}
    assert all(o.problems[0].startswith("made before manifests were chained") for o in warnings)
    (cycle,) = reader.cycles(organisation, year)
    assert (cycle.facts.signer, cycle.facts.rate_text) == ("Eleanor Marsh", "100.0%")
    build_pack(reader, organisation, year, tmp_path / "pack.zip")
