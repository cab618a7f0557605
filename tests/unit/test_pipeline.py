"""The one render pipeline (documents.pipeline.render_cycle) and the cycle year it compares against."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.hashing import sha256_file
from core.profile_io import load_profile, load_staff
from documents.pipeline import DOCUMENT_NAMES, Step, render_cycle
from models.cycle import cycle_id_for, cycle_year
from models.documents import MANIFEST_NAME, RenderManifest

DEMO = Path(__file__).resolve().parents[2] / "devstack" / "demo"


class _CopyConverter:
    """Stands in for LibreOffice here: the pipeline only needs a file at the target."""

    def __init__(self) -> None:
        self.converted: list[str] = []

    def convert(self, source: Path, target: Path) -> Path:
        self.converted.append(source.name)
        target.write_bytes(b"%PDF-1.7 " + source.read_bytes()[:16])
        return target


def test_render_cycle_renders_converts_and_writes_the_manifest_once(tmp_path: Path) -> None:
    profile, staff = load_profile(DEMO / "profile.yaml"), load_staff(DEMO / "staff.csv")
    first = render_cycle(profile, staff, tmp_path / "v3")
    assert [d.name for d in first.documents] == list(DOCUMENT_NAMES)
    assert all(d.pdf_path is None for d in first.documents)
    assert first.manifest_path == tmp_path / "v3" / MANIFEST_NAME
    assert first.manifest.changes is None

    steps: list[tuple[Step, str]] = []
    converter = _CopyConverter()
    second = render_cycle(
        profile,
        staff,
        tmp_path / "again",
        converter=converter,
        previous_dir=tmp_path / "v3",
        names_in_manifest=True,
        progress=lambda step, name: steps.append((step, name)),
    )
    assert converter.converted == list(DOCUMENT_NAMES)
    assert steps == [("rendered", "")] + [
        (step, name) for name in DOCUMENT_NAMES for step in ("converting", "converted")
    ]
    for document in second.documents:
        assert document.pdf_path == document.path.with_suffix(".pdf")
        assert document.pdf_sha256 == sha256_file(document.pdf_path)
    stored = RenderManifest.model_validate_json(second.manifest_path.read_text())
    assert [str(d.path) for d in stored.documents] == list(DOCUMENT_NAMES)
    assert [str(d.pdf_path) for d in stored.documents] == [
        Path(n).with_suffix(".pdf").name for n in DOCUMENT_NAMES
    ]
    assert stored.changes is not None
    assert stored.changes.lines()[0] == "Version 3.0 -> 3.0"
    assert [d.sha256 for d in second.documents] == [d.sha256 for d in first.documents]  # deterministic


@pytest.mark.parametrize(
    ("cycle_id", "short_name", "year"),
    [
        (cycle_id_for("larkspur", 2027), "larkspur", 2027),
        (cycle_id_for("lark-spur", 2027, ad_hoc="adhoc-202711031200"), "lark-spur", 2027),
        (cycle_id_for("larkspur", 2027), "lark", None),
        ("changes-v3", "larkspur", None),
        ("isms-review-larkspur-27", "larkspur", None),
    ],
)
def test_cycle_year_is_read_only_from_ids_made_for_the_organisation(
    cycle_id: str, short_name: str, year: int | None
) -> None:
    assert cycle_year(cycle_id, short_name) == year
