"""A profile with four documents, made in the test as a user makes one: the demo's profile with a
documents section pointing at files in the profile's folder.

- ``information-security-policy``: the organisation's own template, the built-in one with a
  visible change (a house-style line naming the organisation, and the title changed);
- ``isms-roles-responsibilities``: the built-in template (no entry);
- ``acceptable-use-policy``: a static PDF, for everyone;
- ``secure-development-policy``: a static .docx, for Engineering only, ``signs`` as asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from docx import Document

from core.hashing import sha256_file
from devstack.synthetic import tiny_pdf
from documents.pipeline import POLICY_TEMPLATE

DEMO = Path(__file__).resolve().parents[1] / "devstack" / "demo"
HOUSE_STYLE = "Larkspur house style: {{ organisation_name }} writes its own policies."
HOUSE_STYLE_RENDERED = "Larkspur house style: Larkspur Analytics Ltd writes its own policies."
OWN_POLICY_TITLE = "Information Security Policy (Larkspur edition)"
AUP_TITLE = "Acceptable Use Policy"
SDP_TITLE = "Secure Development Policy"
SDP_TEXT = "Every change to production code is reviewed by a second engineer."
AUP_TEXT = "Company devices are for company work; report a lost device within one hour."

FOUR_NAMES = [
    "information-security-policy.docx",
    "isms-roles-responsibilities.docx",
    "acceptable-use-policy.pdf",
    "secure-development-policy.docx",
]


@dataclass(frozen=True)
class FourDocuments:
    profile: Path  # profile.yaml, with the files beside it
    policy_template: Path
    aup_pdf: Path
    sdp_docx: Path


def own_policy_template(target: Path) -> Path:
    """The built-in policy template with a visible change, saved as Word saves it."""
    document = Document(str(POLICY_TEMPLATE))
    document.paragraphs[0].insert_paragraph_before(HOUSE_STYLE)
    document.save(str(target))
    return target


def word_document(target: Path, title: str, *paragraphs: str) -> Path:
    document = Document()
    document.add_heading(title, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(target))
    return target


def minimal_pdf(target: Path, text: str = "Acceptable Use Policy") -> Path:
    """A small, valid one-page PDF (for tests that never open it in LibreOffice)."""
    target.write_bytes(tiny_pdf(text))
    return target


def four_documents(
    folder: Path,
    *,
    make_pdf: Callable[[Path, Path], Path] | None = None,
    sdp_signs: bool = False,
    pin_aup: bool = True,
    changes: Callable[[dict[str, Any]], None] | None = None,
) -> FourDocuments:
    """Write the four-document profile and its files into ``folder``.

    ``make_pdf(docx, pdf)`` turns the Acceptable Use Policy, written with python-docx, into the
    static PDF (LibreOffice in the integration tests); without it a hand-written PDF stands in.
    """
    folder.mkdir(parents=True, exist_ok=True)
    templates, files = folder / "templates", folder / "files"
    templates.mkdir(exist_ok=True)
    files.mkdir(exist_ok=True)
    policy = own_policy_template(templates / "our-policy.docx")
    aup = files / "acceptable-use-policy.pdf"
    if make_pdf is None:
        minimal_pdf(aup)
    else:
        source = word_document(folder / "aup-source.docx", AUP_TITLE, AUP_TEXT)
        make_pdf(source, aup)
    sdp = word_document(files / "Secure Development Policy.docx", SDP_TITLE, SDP_TEXT)

    data = yaml.safe_load((DEMO / "profile.yaml").read_text())
    data["documents"] = [
        {
            "id": "information-security-policy",
            "title": OWN_POLICY_TITLE,
            "template": "templates/our-policy.docx",
        },
        {
            "id": "acceptable-use-policy",
            "title": AUP_TITLE,
            "kind": "static",
            "file": "files/acceptable-use-policy.pdf",
            "version": "2.1",
            **({"sha256": sha256_file(aup)} if pin_aup else {}),
        },
        {
            "id": "secure-development-policy",
            "title": SDP_TITLE,
            "kind": "static",
            "file": "files/Secure Development Policy.docx",
            "audience": {"departments": ["Engineering"]},
            "signs": sdp_signs,
        },
    ]
    # the organisation's own four documents only: the ISMS lead's appointment letter (a built-in
    # document while role acceptance is on) has its own tests (tests/integration/test_appointment_letter.py)
    data["role_acceptance"] = {"appointment_letter": False}
    if changes is not None:
        changes(data)
    profile = folder / "profile.yaml"
    profile.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return FourDocuments(profile=profile, policy_template=policy, aup_pdf=aup, sdp_docx=sdp)
