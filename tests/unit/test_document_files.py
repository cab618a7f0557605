"""The doors' view of the profile's own files: each missing or changed one named with its fix."""

from __future__ import annotations

from pathlib import Path

from adapters.document_files import document_file_problems
from core.hashing import sha256_file
from core.profile_io import load_profile
from tests.workflows.helpers import own_documents_profile


def test_every_file_there_and_unpinned_is_fine(tmp_path: Path) -> None:
    profile = own_documents_profile(tmp_path)
    assert document_file_problems(load_profile(profile), profile.parent) == []


def test_a_missing_file_is_named_with_its_document_and_where_it_was_looked_for(tmp_path: Path) -> None:
    profile = own_documents_profile(tmp_path)
    (tmp_path / "templates" / "sdp.docx").unlink()
    (problem,) = document_file_problems(load_profile(profile), profile.parent)
    assert problem.startswith("documents.secure-development-policy: templates/sdp.docx is not a file")
    assert str(tmp_path / "templates" / "sdp.docx") in problem
    assert "relative to the profile file" in problem


def test_a_file_changed_since_its_sha256_was_pinned_is_refused(tmp_path: Path) -> None:
    profile = own_documents_profile(tmp_path)
    pinned = sha256_file(tmp_path / "policies" / "aup.pdf")
    text = profile.read_text().replace('    version: "2.1"\n', f'    version: "2.1"\n    sha256: {pinned}\n')
    profile.write_text(text)
    assert document_file_problems(load_profile(profile), profile.parent) == []
    (tmp_path / "policies" / "aup.pdf").write_bytes(b"%PDF-1.4 another file")
    (problem,) = document_file_problems(load_profile(profile), profile.parent)
    assert problem.startswith("documents.acceptable-use-policy: policies/aup.pdf changed since it was pinned")
    assert pinned in problem
    assert sha256_file(tmp_path / "policies" / "aup.pdf") in problem
