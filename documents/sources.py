"""Where the files a profile's ``documents`` section names are, relative to the profile file.

sources = resolve_sources(profile, Path("profile.yaml").parent)
sources.files      # {"acceptable-use-policy": Path(".../aup.pdf"), ...}: the files that exist
sources.missing    # {"secure-development": Path(".../sdp.docx")}: named but not there
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.profile import DocumentEntry, OrganisationProfile


@dataclass(frozen=True)
class DocumentSources:
    files: dict[str, Path] = field(default_factory=dict)  # document id -> the file
    missing: dict[str, Path] = field(default_factory=dict)  # document id -> the path that is not a file
    # document id -> why its path cannot be looked up ("~nobody/x.docx", a name too long): such a
    # document is in ``missing`` too, under the path as written
    unusable: dict[str, str] = field(default_factory=dict)


def resolve_sources(profile: OrganisationProfile, base: Path) -> DocumentSources:
    """Each document's own file (template or static), resolved against ``base`` (the profile's folder).

    Documents on a built-in template have no entry.
    """
    found = DocumentSources()
    for entry in profile.cycle_documents():
        if entry.source is None:
            continue
        try:
            path = Path(entry.source).expanduser()
            if not path.is_absolute():
                path = base / path
            is_file = path.is_file()
        except (OSError, RuntimeError, ValueError) as exc:  # an unknown ~user, a name too long
            found.missing[entry.id] = Path(entry.source)
            found.unusable[entry.id] = str(exc)
            continue
        (found.files if is_file else found.missing)[entry.id] = path
    return found


def pin_problem(entry: DocumentEntry, digest: str) -> tuple[str, str] | None:
    """Why a static file whose SHA-256 is ``digest`` is not the one ``entry`` pins: (what, the fix).

    None when the entry pins nothing or the file is the pinned one. The one wording for the
    check, the upload and the render, which each look at the file at their own moment.
    """
    if entry.sha256 is None or entry.sha256.lower() == digest:
        return None
    return (
        f"{entry.id}: {entry.source} changed since it was pinned (its SHA-256 is now {digest}; "
        f"the profile pins {entry.sha256.lower()})",
        f"restore the pinned file, or pin the new hash (sha256: {digest}) if the change is meant",
    )
