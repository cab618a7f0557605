"""Which of a year's manifests are evidence: each cycle's closed chain, and what is found beside it.

A manifest written by today's archiving names its cycle, its predecessor (key, version id and
SHA-256 of the archived bytes; none for the first) and the key its successor will have (none
when it closes the chain). Only the manifests on that chain count: the listing, the portal,
verify and the pack read nothing else, so a writer who archives a register and a manifest
listing it cannot change the figures of a cycle. Everything else under ``manifests/`` is a
finding: FAIL for an extra manifest (a fork, one after the chain closed, one whose predecessor
is not archived, one outside a chained cycle, an unreadable one), WARN for a cycle archived
before manifests were chained.

    chains = link_chains(read, organisation="larkspur", year=2026, chained_since=pin_time)
    [m.object.key for chain in chains.chains for m in chain.members]
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models.archive import ArchivedObject, ArchiveManifest
from models.audit import ObjectCheck, Verdict

# S3's clock and the worker's may differ a little: a manifest "written after" a moment by less
# than this is not
CLOCK_TOLERANCE = timedelta(minutes=5)
SIGNED_STAGE_PREFIX = "signed-"


@dataclass
class ReadManifest:
    """One manifest in its earliest (archived) version, with the time S3 says it was written."""

    manifest: ArchiveManifest
    object: ArchivedObject  # SHA-256 and size of the bytes read
    written_at: datetime  # the version's LastModified

    @property
    def key(self) -> str:
        return self.object.key


@dataclass
class CycleChain:
    cycle_id: str
    members: list[ReadManifest]  # first to last
    legacy: bool = False  # archived before manifests were chained: nothing ties these together
    awaiting: str | None = None  # the key the last member names for its successor, not archived yet

    @property
    def head(self) -> ReadManifest | None:
        return self.members[-1] if self.members else None


@dataclass
class YearChains:
    """The chains of one organisation's year, and the findings about its other manifests."""

    chains: list[CycleChain] = field(default_factory=list)
    findings: list[ObjectCheck] = field(default_factory=list)

    def members(self) -> list[ReadManifest]:
        return [m for chain in self.chains for m in chain.members]

    def state(self) -> str:
        """SHA-256 naming the archive state the chains describe: the head of every cycle's chain.

        Anything archived into a chain changes it; nothing outside the chains does.
        """
        heads = sorted(
            f"{chain.cycle_id}\x00{head.key}\x00{head.object.version_id}\x00{head.object.sha256}"
            for chain in self.chains
            if (head := chain.head) is not None
        )
        return hashlib.sha256("\x01".join(heads).encode()).hexdigest()

    def fail(self, read: ReadManifest, problem: str) -> None:
        self.findings.append(
            ObjectCheck(
                key=read.key, version_id=read.object.version_id, verdict=Verdict.FAIL, problems=[problem]
            )
        )

    def warn(self, read: ReadManifest, problem: str) -> None:
        self.findings.append(
            ObjectCheck(
                key=read.key, version_id=read.object.version_id, verdict=Verdict.WARN, problems=[problem]
            )
        )


def _ref(read: ReadManifest) -> tuple[str, str]:
    return read.key, read.object.version_id


def link_chains(
    read: list[ReadManifest],
    *,
    organisation: str,
    year: int,
    chained_since: datetime | None = None,
) -> YearChains:
    """Link each cycle's manifests into its chain; report every manifest that is not on one.

    ``chained_since``: when the organisation's seal certificate was pinned (today's archiving
    pins it and chains its manifests); an unchained manifest written after that is not one
    from before chaining, but an extra.
    """
    found = YearChains()
    groups: dict[str, list[ReadManifest]] = defaultdict(list)
    for item in sorted(read, key=lambda r: (r.written_at, r.key)):
        manifest = item.manifest
        if (manifest.organisation, manifest.year) != (organisation, year):
            found.fail(
                item,
                f"an extra manifest: it is of {manifest.organisation} {manifest.year}, "
                f"archived under {organisation}/{year}/",
            )
        elif manifest.chain is not None and manifest.chain.cycle_id != manifest.cycle_id:
            found.fail(
                item,
                f"an extra manifest: its chain names cycle {manifest.chain.cycle_id}, "
                f"its body cycle {manifest.cycle_id}",
            )
        else:
            groups[manifest.cycle_id].append(item)
    for cycle_id, group in sorted(groups.items()):
        if any(item.manifest.chain is not None for item in group):
            chain = _chained(cycle_id, group, found)
        else:
            chain = _legacy(cycle_id, group, found, chained_since)
        if chain is not None and chain.members:
            found.chains.append(chain)
    return found


def _legacy(
    cycle_id: str, group: list[ReadManifest], found: YearChains, chained_since: datetime | None
) -> CycleChain | None:
    members: list[ReadManifest] = []
    for item in group:
        if chained_since is not None and item.written_at > chained_since + CLOCK_TOLERANCE:
            found.fail(
                item,
                f"an extra manifest: it names no place in a chain, but was written "
                f"{item.written_at:%Y-%m-%d %H:%M} UTC, after this organisation's manifests were chained "
                f"({chained_since:%Y-%m-%d %H:%M} UTC)",
            )
            continue
        members.append(item)
        found.warn(
            item,
            "made before manifests were chained: nothing ties it to the other manifests of "
            f"cycle {cycle_id}, so an extra manifest could not be told apart from it",
        )
    members.sort(key=lambda r: (r.object.retain_until, r.manifest.stage))
    return CycleChain(cycle_id=cycle_id, members=members, legacy=True)


def _chained(cycle_id: str, group: list[ReadManifest], found: YearChains) -> CycleChain | None:
    by_ref = {_ref(item): item for item in group}
    successors: dict[tuple[str, str], list[ReadManifest]] = defaultdict(list)
    firsts: list[ReadManifest] = []
    reported: set[tuple[str, str]] = set()

    def fail(item: ReadManifest, problem: str) -> None:
        reported.add(_ref(item))
        found.fail(item, problem)

    for item in group:
        chain = item.manifest.chain
        if chain is None:
            continue
        if chain.previous is None:
            firsts.append(item)
            continue
        previous = (chain.previous.key, chain.previous.version_id)
        if previous not in by_ref:
            fail(
                item,
                f"a gap in the chain of cycle {cycle_id}: its predecessor {chain.previous.key} "
                f"(version {chain.previous.version_id}) is not an archived manifest of the cycle",
            )
        elif by_ref[previous].object.sha256 != chain.previous.sha256:
            fail(
                item,
                f"the chain of cycle {cycle_id} is broken: it names {chain.previous.key} with SHA-256 "
                f"{chain.previous.sha256}, the archived bytes have {by_ref[previous].object.sha256}",
            )
        else:
            successors[previous].append(item)
    # an unchained manifest named as a predecessor: a cycle signed before chaining, closed after it
    roots = firsts + [
        by_ref[ref]
        for ref in successors
        if ref in by_ref and by_ref[ref].manifest.chain is None and by_ref[ref] not in firsts
    ]
    if len(roots) != 1:
        for item in roots:
            fail(
                item,
                f"a fork in the chain of cycle {cycle_id}: {len(roots)} manifests each begin it "
                f"({', '.join(r.key for r in roots)}); none of them is believed",
            )
        for item in group:
            if _ref(item) not in reported:
                fail(item, f"not on the chain of cycle {cycle_id}: the chain has no single beginning")
        return None
    (root,) = roots
    members = [root]
    if root.manifest.chain is None:
        found.warn(root, "made before manifests were chained; the manifests after it name it")
    elif not root.manifest.stage.startswith(SIGNED_STAGE_PREFIX):
        fail(
            root,
            f"the first manifest of cycle {cycle_id} should archive its signed version; "
            f"this one is {root.manifest.stage!r} (was the signed version's archiving refused?)",
        )
    elif root.manifest.chain.position != 0:
        fail(root, f"the first manifest of cycle {cycle_id} says it is number {root.manifest.chain.position}")
    awaiting: str | None = None
    current = root
    while True:
        chain = current.manifest.chain
        candidates = successors.get(_ref(current), [])
        if chain is not None and chain.next_key is None:
            for extra in candidates:
                fail(extra, f"an extra manifest: {current.key} closes the chain of cycle {cycle_id}")
            break
        expected = chain.next_key if chain is not None else None
        if expected is None:  # after an unchained root: its one successor, if it has only one
            chosen = candidates if len(candidates) == 1 else []
            for extra in candidates if len(candidates) > 1 else []:
                fail(
                    extra, f"a fork in the chain of cycle {cycle_id}: several manifests follow {current.key}"
                )
        else:
            chosen = [c for c in candidates if c.key == expected]
            for extra in candidates:
                if extra.key != expected:
                    fail(
                        extra,
                        f"an extra manifest: it names {current.key} as its predecessor, which names "
                        f"{expected} as its successor",
                    )
        if not chosen:
            awaiting = expected
            break
        following = chosen[0]
        following_chain = following.manifest.chain
        assert following_chain is not None  # only chained manifests name a predecessor
        position = chain.position + 1 if chain is not None else 1
        if following_chain.position != position:
            fail(
                following,
                f"says it is manifest number {following_chain.position} of the chain, not {position}",
            )
        members.append(following)
        current = following
    on_chain = {_ref(m) for m in members}
    for item in group:
        if _ref(item) in on_chain or _ref(item) in reported:
            continue
        if item.manifest.chain is None:
            fail(item, f"an extra manifest: unchained, beside the chained manifests of cycle {cycle_id}")
        else:
            fail(item, f"an extra manifest: not on the chain of cycle {cycle_id}")
    return CycleChain(cycle_id=cycle_id, members=members, awaiting=awaiting)
