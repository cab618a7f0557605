"""The second example (examples/own-documents): the organisation's own documents, read back as a person would.

The policy template there is a .docx saved by LibreOffice from an office document with a header
and footer, a logo, outline-numbered headings, tables with docxtpl row loops and a page break.
Rendered with the example's profile and staff and converted by the real LibreOffice, its PDF is
checked by text extraction (poppler's pdftotext), by its images (pdfimages) and by its pixels
(pdftoppm): a template that loses its header, its logo or a table loop fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from core.audience import selects
from core.clause5 import check_profile
from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff
from documents.context import PolicyContext, build_policy_context
from documents.pdf_convert import PdfConverter
from documents.render import render_docx, undeclared_variables
from documents.sources import resolve_sources
from models.findings import Severity
from models.profile import DocumentKind, OrganisationProfile
from models.staff import StaffDirectory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own-documents"
PROFILE = EXAMPLE / "profile.yaml"
STAFF = EXAMPLE / "staff.csv"
POLICY_TEMPLATE = EXAMPLE / "templates" / "information-security-policy.docx"
AUP_PDF = EXAMPLE / "files" / "acceptable-use-policy.pdf"
SDP_DOCX = EXAMPLE / "files" / "secure-development-policy.docx"
HEADER_TEXT = "Information Security Policy \u00b7 LA-POL-001"
LEFTOVER_TAGS = ("{{", "}}", "{%", "%}", "{#")

POPPLER = {name: shutil.which(name) for name in ("pdftotext", "pdfimages", "pdftoppm")}
if missing_tools := [name for name, path in POPPLER.items() if path is None]:
    pytest.fail(f"{', '.join(missing_tools)} missing: apt-get install poppler-utils (scripts/bootstrap does)")


def _poppler(tool: str, *args: str) -> bytes:
    path = POPPLER[tool]
    assert path is not None
    return subprocess.run([path, *args], capture_output=True, check=True, timeout=60).stdout


def page_text(pdf: Path, page: int | None = None, *, layout: bool = False) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page is not None else []
    return _poppler("pdftotext", *(["-layout"] if layout else []), *pages, str(pdf), "-").decode()


def page_count(pdf: Path) -> int:
    # pdftotext ends every page with a form feed
    return page_text(pdf).count("\f")


def squash(text: str) -> str:
    """Text without spaces, line breaks or hyphens: table cells wrap, and a wrapped hyphen is dropped."""
    return re.sub(r"[\s\-\u00ad]+", "", text).casefold()


def image_xobjects(pdf: Path) -> dict[int, list[tuple[int, int]]]:
    """Each page's image XObjects (``pdfimages -list``), as (width, height); soft masks left out."""
    found: dict[int, list[tuple[int, int]]] = {}
    for line in _poppler("pdfimages", "-list", str(pdf)).decode().splitlines()[2:]:
        page, _num, kind, width, height, *rest = line.split()
        object_id = rest[5]  # after color comp bpc enc interp
        if kind == "image" and object_id.isdigit():  # an object number: an XObject, not an inline image
            found.setdefault(int(page), []).append((int(width), int(height)))
    return found


@dataclass(frozen=True)
class Gray:
    """A page rendered to 8-bit grey (pdftoppm's PGM)."""

    width: int
    height: int
    pixels: bytes

    @classmethod
    def of_page(cls, pdf: Path, page: int, *, dpi: int = 40) -> Gray:
        data = _poppler("pdftoppm", "-gray", "-r", str(dpi), "-f", str(page), "-l", str(page), str(pdf))
        match = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
        assert match, data[:20]
        width, height = int(match[1]), int(match[2])
        pixels = data[match.end() :]
        assert len(pixels) == width * height
        return cls(width, height, pixels)

    def band(self, top: float, bottom: float) -> bytes:
        """The rows from ``top`` to ``bottom`` (fractions of the height)."""
        return self.pixels[int(self.height * top) * self.width : int(self.height * bottom) * self.width]


def variance(pixels: bytes) -> float:
    mean = sum(pixels) / len(pixels)
    return sum((value - mean) ** 2 for value in pixels) / len(pixels)


def dark_share(pixels: bytes) -> float:
    return sum(1 for value in pixels if value < 128) / len(pixels)


@dataclass(frozen=True)
class Example:
    profile: OrganisationProfile
    staff: StaffDirectory


@dataclass(frozen=True)
class RenderedPolicy:
    context: PolicyContext
    docx: Path
    pdf: Path


@pytest.fixture(scope="module")
def example() -> Example:
    return Example(load_profile(PROFILE), load_staff(STAFF))


@pytest.fixture(scope="module")
def rendered_policy(
    example: Example, pdf_converter: PdfConverter, tmp_path_factory: pytest.TempPathFactory
) -> RenderedPolicy:
    """The policy as the cycle renders it: the example's template and the real context, then LibreOffice."""
    out = tmp_path_factory.mktemp("own-policy")
    context = build_policy_context(example.profile, example.staff)
    docx = render_docx(POLICY_TEMPLATE, context, out / "information-security-policy.docx")
    pdf = pdf_converter.convert(docx, out / "information-security-policy.pdf")
    return RenderedPolicy(context=context, docx=docx, pdf=pdf)


def test_the_example_profile_loads_with_its_four_documents_and_no_clause5_error(example: Example) -> None:
    profile, staff = example.profile, example.staff
    findings = check_profile(profile, staff, today=profile.policy.effective_date)
    errors = [finding for finding in findings if finding.severity is Severity.ERROR]
    assert errors == []

    documents = {entry.id: entry for entry in profile.cycle_documents()}
    assert list(documents) == [
        "information-security-policy",
        "isms-roles-responsibilities",
        "isms-lead-appointment",  # built in while role acceptance is on
        "acceptable-use-policy",
        "secure-development-policy",
    ]
    assert documents["information-security-policy"].template == "templates/information-security-policy.docx"
    assert documents["isms-roles-responsibilities"].source is None  # the built-in template
    assert documents["acceptable-use-policy"].kind is DocumentKind.STATIC
    assert documents["acceptable-use-policy"].name == "acceptable-use-policy.pdf"
    assert documents["secure-development-policy"].name == "secure-development-policy.docx"

    sources = resolve_sources(profile, PROFILE.parent)
    assert sources.missing == {}
    assert set(sources.files) == {
        "information-security-policy",
        "acceptable-use-policy",
        "secure-development-policy",
    }
    # the pin in the profile is the committed file's (make_templates.py rewrites both together)
    assert documents["acceptable-use-policy"].sha256 == sha256_file(AUP_PDF)

    # two audiences: everyone gets the Acceptable Use Policy, only Engineering the Secure Development Policy
    current = [person for person in staff.people if person.in_scope and person.is_current(date(2026, 12, 1))]
    aup = {person.email for person in current if selects(documents["acceptable-use-policy"].audience, person)}
    sdp = {
        person.email for person in current if selects(documents["secure-development-policy"].audience, person)
    }
    assert aup == {person.email for person in current}
    assert sdp
    assert sdp < aup
    assert {person.department for person in current if person.email in sdp} == {"Engineering"}
    assert len({person.department for person in current}) >= 3
    assert {person.column("location") for person in current} == {"London", "Remote"}


def test_the_template_is_an_office_suite_docx_with_real_word_features(example: Example) -> None:
    with zipfile.ZipFile(POLICY_TEMPLATE) as docx:
        parts = {
            name: docx.read(name).decode() for name in docx.namelist() if name.endswith((".xml", ".rels"))
        }
        media = [name for name in docx.namelist() if name.startswith("word/media/")]
    assert "LibreOffice" in parts["docProps/app.xml"]  # saved by an office suite, not built by python-docx
    assert media, "the logo is not in the template"

    styles = parts["word/styles.xml"]
    for style_id in ("Heading1", "Heading2"):
        style = re.search(rf'<w:style [^>]*w:styleId="{style_id}".*?</w:style>', styles, re.S)
        assert style, f"no style {style_id}"
        assert "<w:numPr>" in style[0], f"{style_id} has no list numbering"
    assert re.search(
        r'<w:lvl w:ilvl="1"[^>]*>.*?<w:lvlText w:val="%1\.%2"/>', parts["word/numbering.xml"], re.S
    )

    headers = [text for name, text in parts.items() if re.fullmatch(r"word/header\d+\.xml", name)]
    footers = [text for name, text in parts.items() if re.fullmatch(r"word/footer\d+\.xml", name)]
    assert any("{{ document_title }}" in header and "<w:drawing>" in header for header in headers)
    assert any(
        "PAGE" in footer and "NUMPAGES" in footer and "{{ organisation_name }}" in footer
        for footer in footers
    )
    assert '<w:br w:type="page"/>' in parts["word/document.xml"]
    assert "{%tr for o in objectives %}" in parts["word/document.xml"]

    # every placeholder is one the policy context provides
    context = build_policy_context(example.profile, example.staff)
    assert undeclared_variables(POLICY_TEMPLATE, context) == set()


def test_the_rendered_policy_has_header_footer_numbered_headings_and_the_profiles_tables(
    example: Example, rendered_policy: RenderedPolicy
) -> None:
    profile, context, pdf = example.profile, rendered_policy.context, rendered_policy.pdf
    pages = page_count(pdf)
    assert pages >= 2
    text = page_text(pdf)
    for tag in LEFTOVER_TAGS:
        assert tag not in text, f"{tag!r} left in the PDF"
    with zipfile.ZipFile(rendered_policy.docx) as docx:
        for name in docx.namelist():
            if name.endswith(".xml"):
                xml = docx.read(name).decode()
                assert not [tag for tag in LEFTOVER_TAGS if tag in xml], f"a tag left in {name}"

    # the header and footer on every page after the cover, with the page number fields computed
    for page in range(2, pages + 1):
        layout = " ".join(page_text(pdf, page, layout=True).split())
        assert HEADER_TEXT in layout, f"page {page} has no header"
        assert f"{profile.organisation.name} \u00b7 Internal" in layout, f"page {page} has no footer"
        assert f"Version {profile.policy.version}" in layout
        assert f"Page {page} of {pages}" in layout
    cover = page_text(pdf, 1)
    assert profile.organisation.name in cover
    assert profile.policy.title in cover
    assert f"Version {profile.policy.version}" in cover

    # numbered headings: the numbers come from the heading styles' list numbering
    layout = page_text(pdf, layout=True)
    for heading in (
        r"1\s+Purpose and scope",
        rf"1\.1\s+About {re.escape(profile.organisation.name)}",
        r"2\.2\s+Legal, regulatory and contractual requirements",
        r"4\s+Information security objectives",
        r"5\.2\s+Responsibilities assigned by top management",
        r"10\s+Document history",
    ):
        assert re.search(rf"^\s*{heading}\s*$", layout, re.M), f"no heading {heading!r}"

    # the tables and lists filled from the profile, each row once
    flat = squash(text)
    for objective in context.objectives:
        cells = [squash(value) for value in (objective.objective, objective.measure, objective.target)]
        assert all(cell in flat for cell in cells), f"objective {objective.objective!r} missing"
        assert flat.count(cells[0]) == 1, f"objective {objective.objective!r} not once"
    for role in context.roles:
        assert squash(role.title) in flat
    for sub_policy in context.sub_policies:
        assert squash(f"{sub_policy.title}{sub_policy.reference}") in flat
    for line in [*context.statements, *context.applicable_requirements]:
        assert squash(line) in flat, line
    for entry in context.version_history:
        assert squash(entry.summary) in flat
    assert squash(context.ceo_statement) in flat
    assert squash("Awaiting signature") in flat


def test_the_rendered_policy_shows_the_logo_on_every_page_and_is_not_blank(
    rendered_policy: RenderedPolicy,
) -> None:
    pdf = rendered_policy.pdf
    pages = page_count(pdf)
    images = image_xobjects(pdf)
    assert set(images) == set(range(1, pages + 1)), f"pages with an image: {sorted(images)}"
    for page, sizes in images.items():
        # the logo is three times as wide as it is high, on the cover and in every page's header
        assert any(abs(width / height - 3) < 0.1 for width, height in sizes), (page, sizes)

    cover = Gray.of_page(pdf, 1)
    assert variance(cover.pixels) > 200, "page 1 is blank"
    second = Gray.of_page(pdf, 2)
    assert variance(second.pixels) > 200, "page 2 is blank"
    # the header band (the logo's dark square) and the body below it both have ink
    assert dark_share(second.band(0.0, 0.1)) > 0.005, "page 2 has nothing in its header"
    assert dark_share(second.band(0.1, 0.9)) > 0.01


def test_the_static_documents_are_real_documents(pdf_converter: PdfConverter, tmp_path: Path) -> None:
    aup = AUP_PDF.read_bytes()
    assert aup.startswith(b"%PDF-")
    assert b"%%EOF" in aup[-1024:]
    with AUP_PDF.open("rb") as stream:  # a strict parser reads its cross-reference table and page tree
        assert int(PdfFileReader(stream, strict=True).root["/Pages"]["/Count"]) == 2
    assert page_count(AUP_PDF) == 2
    aup_text = " ".join(page_text(AUP_PDF).split())
    assert "Acceptable Use Policy" in aup_text
    assert "LA-POL-010" in aup_text
    assert "Page 2 of 2" in " ".join(page_text(AUP_PDF, 2, layout=True).split())
    assert image_xobjects(AUP_PDF), "the Acceptable Use Policy has no logo"

    # the Secure Development Policy is a finished .docx: the cycle converts it like its own documents
    sdp = pdf_converter.convert(SDP_DOCX, tmp_path / "secure-development-policy.pdf")
    sdp_text = " ".join(page_text(sdp).split())
    assert "Secure Development Policy" in sdp_text
    assert "LA-POL-014" in sdp_text
    for tag in LEFTOVER_TAGS:
        assert tag not in sdp_text
