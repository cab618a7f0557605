"""The profile's own document files (templates, static documents): found beside the profile, uploaded.

Shared by the doors that start or revise a cycle and set its yearly schedule::

    files = store_document_files(s3, settings, Path("profile.yaml"))
    {f.id: f.stored for f in files}    # what AnnualReviewInput.document_files carries

The organisation's own public statement (``public_statement.file``, while the statement is on) is
uploaded with them, under the id ``core.public_statement.PUBLIC_STATEMENT_FILE``.

Paths in the profile are relative to the profile file. Each file is stored in the drafts bucket
by its SHA-256 (``adapters.drafts.store_input``), so uploading the same file again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.drafts import store_input
from core.hashing import sha256_file
from core.profile_io import load_profile
from core.public_statement import PUBLIC_STATEMENT_FILE, statement_file, statement_pin_problem
from core.settings import Settings
from documents.sources import pin_problem, resolve_sources
from models.profile import OrganisationProfile
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class DocumentFile:
    """One of the profile's own files (a template or a static document), as uploaded."""

    id: str  # the document id
    file: str  # the path the profile names, as written there
    stored: StoredObject  # where it was stored, by its SHA-256


class DocumentFilesError(Exception):
    """A file the profile's documents section names cannot be used; ``problems`` name each and the fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def document_file_problems(profile: OrganisationProfile, base: Path) -> list[str]:
    """Why the profile's own files (relative to ``base``) cannot be uploaded: missing, or changed
    since their SHA-256 was pinned. Empty when every file is there."""
    sources = resolve_sources(profile, base)
    entries = {entry.id: entry for entry in profile.cycle_documents()}
    problems = [
        f"documents.{doc_id}: {entries[doc_id].source} is not a file (looked for {path}); put the file "
        "there, or correct the path (relative to the profile file)"
        for doc_id, path in sources.missing.items()
    ]
    for doc_id, path in sources.files.items():
        if entries[doc_id].sha256 is not None:
            pinned = pin_problem(entries[doc_id], sha256_file(path))
            if pinned is not None:
                problems.append(f"documents.{'; '.join(pinned)}")
    statement = statement_file(profile, base)
    if statement is not None:
        if not statement.is_file():
            problems.append(
                f"public_statement.file: {profile.public_statement.file} is not a file (looked for "
                f"{statement}); put the PDF there, or correct the path (relative to the profile file)"
            )
        else:
            pinned_statement = statement_pin_problem(profile, sha256_file(statement))
            if pinned_statement is not None:
                problems.append("; ".join(pinned_statement))
    return problems


def store_document_files(s3: S3Client, settings: Settings, profile_path: Path) -> list[DocumentFile]:
    """Upload every file the profile's documents section names, by content hash (blocking).

    Paths are relative to the profile file. Raises :class:`DocumentFilesError` naming each
    missing or changed file before anything is uploaded, and :class:`UnreadableInputError` for a
    profile that cannot be read. A profile on the built-in templates has none: ``[]``.
    """
    profile = load_profile(profile_path)
    base = profile_path.parent
    problems = document_file_problems(profile, base)
    if problems:
        raise DocumentFilesError(problems)
    entries = {entry.id: entry for entry in profile.cycle_documents()}
    stored = [
        DocumentFile(id=doc_id, file=str(entries[doc_id].source), stored=store_input(s3, settings, path))
        for doc_id, path in resolve_sources(profile, base).files.items()
    ]
    statement = statement_file(profile, base)
    if statement is not None:
        stored.append(
            DocumentFile(
                id=PUBLIC_STATEMENT_FILE,
                file=str(profile.public_statement.file),
                stored=store_input(s3, settings, statement),
            )
        )
    return stored
