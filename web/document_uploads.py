"""The profile's own document files as the dashboard receives them: matched by file name, placed
where the profile's paths point, so the start and revision read them exactly as the command line
reads files beside a profile.

    placed = await place_document_uploads(profile_path, uploads, folder)
    if isinstance(placed, list):   # problems: one line each, naming the document or the file
        ...
    else:                          # the profile, moved so that its relative paths find the files
        await start_cycle(..., profile=placed, ...)

Each entry of the documents section that names a file (a template, a static document), and the
organisation's own public statement PDF (``public_statement.file``), takes the upload of the same
file name; a file the profile names that was not uploaded, an upload the
profile does not name, the same name chosen twice, or two documents naming different files of
one name are refused, and nothing is started.
"""

from __future__ import annotations

import asyncio
import posixpath
from pathlib import Path, PurePosixPath, PureWindowsPath

from fastapi import UploadFile

from core.profile_io import UnreadableInputError, load_profile
from models.profile import DocumentEntry, OrganisationProfile

MAX_DOCUMENT_FILES = 30
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # one template or static document
MAX_TOTAL_BYTES = 100 * 1024 * 1024  # all of them together
_MB = 1024 * 1024


def upload_name(upload: UploadFile) -> str:
    """The file name the browser sent, without any folder (old browsers send a whole path)."""
    return PureWindowsPath(upload.filename or "").name


def chosen(uploads: list[UploadFile] | None) -> list[UploadFile]:
    """The files actually chosen (an empty multiple input still sends one part, with no name)."""
    return [upload for upload in uploads or [] if upload_name(upload)]


async def _read(uploads: list[UploadFile]) -> tuple[dict[str, bytes], list[str]]:
    problems: list[str] = []
    if len(uploads) > MAX_DOCUMENT_FILES:
        return {}, [f"{len(uploads)} document files were chosen: at most {MAX_DOCUMENT_FILES} at a time"]
    files: dict[str, bytes] = {}
    total = 0
    for upload in uploads:
        name = upload_name(upload)
        data = await upload.read(MAX_DOCUMENT_BYTES + 1)
        if name in files:
            problems.append(f"{name} was chosen twice: choose each file once")
        elif len(data) > MAX_DOCUMENT_BYTES:
            problems.append(f"{name}: larger than {MAX_DOCUMENT_BYTES // _MB} MB")
        elif not data:
            problems.append(f"{name}: the file is empty")
        total += len(data)
        files.setdefault(name, data)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"the document files come to more than {MAX_TOTAL_BYTES // _MB} MB together")
    return files, problems


def _where(entry: DocumentEntry) -> str:
    title = f" ({entry.title})" if entry.title else ""
    return f"documents.{entry.id}{title}"


def _named_files(profile: OrganisationProfile) -> list[tuple[str, str]]:
    """Every file the profile names, as (where the profile names it, the path it gives): each
    document's template or static file, and the organisation's own public statement PDF."""
    named = [(_where(entry), entry.source) for entry in profile.cycle_documents() if entry.source is not None]
    statement = profile.public_statement
    if statement.enabled and statement.file is not None:
        named.append(("public_statement.file", statement.file))
    return named


def _layout(named: list[tuple[str, str]], files: dict[str, bytes]) -> tuple[dict[str, str], list[str]]:
    """Each path the profile names (normalised, relative) -> the upload name it takes; the problems."""
    problems: list[str] = []
    wanted: dict[str, str] = {}  # normalised path -> upload name
    by_name: dict[str, tuple[str, str]] = {}
    for where, given in named:
        source = given.replace("\\", "/")
        name = PurePosixPath(source).name
        if PurePosixPath(source).is_absolute() or PureWindowsPath(given).drive:
            problems.append(
                f"{where}: {given} is an absolute path; the dashboard places the files you "
                f"choose beside the profile, so name it relative to the profile file (for example {name})"
            )
            continue
        path = posixpath.normpath(source)
        earlier = by_name.get(name)
        if earlier is not None and earlier[1] != path:
            problems.append(
                f"{name}: {earlier[0]} and {where} name different files of that name "
                f"({earlier[1]}, {path}); give them different file names so each upload can be matched"
            )
            continue
        by_name[name] = (where, path)
        if name not in files:
            problems.append(
                f"{where}: the profile names {given}, which was not chosen; add {name} to the document files"
            )
            continue
        wanted[path] = name
    problems += [
        f"{name}: the profile's documents section names no file of that name; leave it out, or check "
        "the file names in the profile"
        for name in files
        if name not in by_name
    ]
    return wanted, problems


def _place(profile: Path, wanted: dict[str, str], files: dict[str, bytes], root: Path) -> Path:
    # a path that climbs out of the profile's folder ("../shared/aup.pdf") needs the profile
    # that many folders down, so that every file lands inside ``root``
    depth = max((PurePosixPath(path).parts.count("..") for path in wanted), default=0)
    folder = root.joinpath(*(f"up{number}" for number in range(depth)))
    folder.mkdir(parents=True, exist_ok=True)
    placed = folder / profile.name
    placed.write_bytes(profile.read_bytes())
    for path, name in wanted.items():
        target = (folder / path).resolve()
        if not target.is_relative_to(root.resolve()):  # normpath leaves ".." only at the start
            raise ValueError(f"{path} would be placed outside the upload folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
    return placed


async def place_document_uploads(
    profile: Path, uploads: list[UploadFile] | None, folder: Path
) -> Path | list[str]:
    """The profile placed under ``folder`` with the document files where its paths point, or the
    problems (nothing placed). An unreadable profile is returned as it is: the start says why."""
    documents = chosen(uploads)
    files, problems = await _read(documents)
    try:
        loaded = await asyncio.to_thread(load_profile, profile)
    except UnreadableInputError:
        return profile  # its problems are reported by the start itself, line by line
    named = _named_files(loaded)
    if not named and not files:
        return profile
    wanted, mismatched = _layout(named, files)
    problems += mismatched
    if problems:
        return problems
    return await asyncio.to_thread(_place, profile, wanted, files, folder / "placed")
