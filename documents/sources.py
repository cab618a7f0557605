"""Where the files a profile's ``documents`` section names are, relative to the profile file.

sources = resolve_sources(profile, Path("profile.yaml").parent)
sources.files      # {"acceptable-use-policy": Path(".../aup.pdf"), ...}: the files that exist
sources.missing    # {"secure-development": Path(".../sdp.docx")}: named but not there
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from models.profile import OrganisationProfile


@dataclass(frozen=True)
class DocumentSources:
    files: dict[str, Path] = field(default_factory=dict)  # document id -> the file
    missing: dict[str, Path] = field(default_factory=dict)  # document id -> the path that is not a file


def resolve_sources(profile: OrganisationProfile, base: Path) -> DocumentSources:
    """Each document's own file (template or static), resolved against ``base`` (the profile's folder).

    Documents on a built-in template have no entry.
    """
    files: dict[str, Path] = {}
    missing: dict[str, Path] = {}
    for entry in profile.cycle_documents():
        if entry.source is None:
            continue
        path = Path(entry.source).expanduser()
        if not path.is_absolute():
            path = base / path
        (files if path.is_file() else missing)[entry.id] = path
    return DocumentSources(files=files, missing=missing)
