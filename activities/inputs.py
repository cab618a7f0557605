"""The stored inputs every document and signing activity reads: profile, staff, document files.

Each is downloaded by reference and checked against the SHA-256 recorded when it was stored;
what retrying cannot fix is raised as a non-retryable ``ApplicationError`` of the contract's
types (``core.contract.Failure``)::

    profile, staff = load_stored_inputs(s3, data.profile, data.staff, workdir)
    sources = load_document_files(s3, profile, data.document_files, workdir / "documents")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.exceptions import ApplicationError

from adapters.s3 import IntegrityError, get_file
from core.contract import Failure
from core.profile_io import UnreadableInputError, load_profile, load_staff
from models.profile import DocumentEntry, OrganisationProfile
from models.staff import StaffDirectory
from models.storage import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

UNREADABLE_INPUT = Failure.UNREADABLE_INPUT
INTEGRITY = Failure.INTEGRITY


def load_stored_inputs(
    s3: S3Client, profile: StoredObject, staff: StoredObject, workdir: Path
) -> tuple[OrganisationProfile, StaffDirectory]:
    """Download and read the profile and the staff directory; non-retryable errors when they are bad."""
    try:
        profile_path = get_file(s3, profile, workdir / f"profile{Path(profile.key).suffix}")
        staff_path = get_file(s3, staff, workdir / "staff.csv")
    except IntegrityError as exc:
        raise ApplicationError(str(exc), type=INTEGRITY, non_retryable=True) from exc
    try:
        return load_profile(profile_path), load_staff(staff_path)
    except UnreadableInputError as exc:
        raise ApplicationError(
            str(exc), *(str(p) for p in exc.problems), type=UNREADABLE_INPUT, non_retryable=True
        ) from exc


def load_document_files(
    s3: S3Client, profile: OrganisationProfile, files: dict[str, StoredObject], folder: Path
) -> dict[str, Path]:
    """Download the file of every document whose profile entry names one; by document id.

    Non-retryable errors: ``INTEGRITY`` for a stored file whose SHA-256 is not the one recorded
    at the start, ``UNREADABLE_INPUT`` for a document whose file is not among ``files`` or is
    not the file its entry pins. Files of ids the profile does not name are not fetched.
    """
    named: list[DocumentEntry] = [entry for entry in profile.cycle_documents() if entry.source]
    absent = [entry for entry in named if entry.id not in files]
    if absent:
        raise ApplicationError(
            f"{len(absent)} document file(s) the profile names were not stored with the cycle",
            *(
                f"{entry.id}: the profile names {entry.source!r}, which was not uploaded with it; "
                "start (or revise) the cycle again from the profile's folder so that the file is uploaded"
                for entry in absent
            ),
            type=UNREADABLE_INPUT,
            non_retryable=True,
        )
    paths: dict[str, Path] = {}
    for entry in named:
        stored = files[entry.id]
        pinned = (entry.sha256 or "").lower()
        if pinned and pinned != stored.sha256:
            raise ApplicationError(
                f"{entry.id}: the stored {entry.source!r} has SHA-256 {stored.sha256}, but the profile "
                f"pins {pinned}; put back the pinned file, or pin the new one",
                type=UNREADABLE_INPUT,
                non_retryable=True,
            )
        suffix = Path(entry.source or stored.key).suffix.lower()
        try:
            paths[entry.id] = get_file(s3, stored, folder / f"{entry.id}{suffix}")
        except IntegrityError as exc:
            raise ApplicationError(
                f"the stored file of {entry.id} does not match the SHA-256 recorded at the start",
                str(exc),
                type=INTEGRITY,
                non_retryable=True,
            ) from exc
    return paths
