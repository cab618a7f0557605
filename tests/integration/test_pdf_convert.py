"""The warm PDF converter against a real LibreOffice: content, reuse, parallelism, failures, crashes.

Needs Debian's ``libreoffice-writer-nogui`` and ``python3-uno``; ``pdftotext`` (poppler-utils)
is used to read the text back when it is installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from documents.pdf_convert import (
    DEFAULT_SOFFICE,
    DEFAULT_UNO_PYTHON,
    LibreOfficeStartError,
    PdfConversionError,
    PdfConverter,
    PdfConverterPool,
    convert_cold,
)

if not (Path(DEFAULT_SOFFICE).exists() and Path(DEFAULT_UNO_PYTHON).exists()):
    pytest.fail(
        f"LibreOffice is not installed here ({DEFAULT_SOFFICE}): apt-get install libreoffice-writer-nogui"
    )

PDFTOTEXT = shutil.which("pdftotext")


def make_docx(path: Path, *lines: str) -> Path:
    document = docx.Document()
    document.add_heading(lines[0], level=1)
    for line in lines[1:]:
        document.add_paragraph(line)
    document.save(str(path))
    return path


def pdf_text(pdf: Path) -> str:
    """The PDF's text, or "" where poppler's pdftotext is not installed."""
    if PDFTOTEXT is None:
        return ""
    return subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, check=True, text=True).stdout


def assert_pdf_with_text(pdf: Path, *expected: str) -> None:
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    with pdf.open("rb") as stream:
        assert int(PdfFileReader(stream, strict=False).root["/Pages"]["/Count"]) >= 1
    text = pdf_text(pdf)
    for snippet in expected if PDFTOTEXT else ():
        assert snippet in text, f"{snippet!r} is not in the text of {pdf.name}:\n{text}"


def live_group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that still run (a zombie left to init is not running)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def office_pids(launcher: int) -> list[int]:
    """The soffice.bin processes under the launcher (the office itself, not oosplash)."""
    return [
        pid
        for pid in live_group_members(launcher)
        if Path(f"/proc/{pid}/comm").read_text().strip() == "soffice.bin"
    ]


def group_is_gone(pgid: int, *, timeout: float = 10.0) -> bool:
    """Wait until no process of group ``pgid`` runs any more; False if one still does."""
    deadline = time.monotonic() + timeout
    while live_group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def converter() -> Iterator[PdfConverter]:
    with PdfConverter() as shared:
        yield shared


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return make_docx(
        tmp_path / "information-security-policy.docx",
        "Information Security Policy",
        "Top management commits to satisfying applicable requirements.",
    )


def test_converts_a_docx_to_a_pdf_with_its_text(
    converter: PdfConverter, policy: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "policy.pdf"

    assert converter.convert(policy, target) == target

    assert_pdf_with_text(target, "Information Security Policy", "Top management commits")
    assert [p.name for p in target.parent.iterdir()] == ["policy.pdf"]


def test_repeated_conversions_reuse_one_libreoffice(
    converter: PdfConverter, policy: Path, tmp_path: Path
) -> None:
    converter.convert(policy, tmp_path / "first.pdf")
    pid = converter.pid
    assert pid is not None

    for n in range(3):
        converter.convert(policy, tmp_path / f"again-{n}.pdf")

    assert converter.pid == pid
    assert len(office_pids(pid)) == 1


def test_an_existing_target_is_replaced(converter: PdfConverter, policy: Path, tmp_path: Path) -> None:
    target = tmp_path / "policy.pdf"
    target.write_bytes(b"%PDF- stale")

    converter.convert(policy, target)

    assert_pdf_with_text(target, "Information Security Policy")


def test_a_pool_of_two_converts_different_documents_in_parallel(tmp_path: Path) -> None:
    # LibreOffice processes that share a profile fail silently: each converter has its own
    markers = {name: f"Marker {uuid.uuid4().hex}" for name in ("policy", "roles")}
    documents = {
        name: make_docx(tmp_path / f"{name}.docx", f"Document {name}", markers[name]) for name in markers
    }
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(documents))

    with PdfConverterPool(size=2) as pool:
        pids = {c.pid for c in pool.converters}
        profiles = {c.profile_dir for c in pool.converters}

        def convert_three_times(name: str) -> None:
            try:
                barrier.wait(timeout=30)
                for n in range(3):
                    pool.convert(documents[name], tmp_path / "out" / f"{name}-{n}.pdf")
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=convert_three_times, args=(name,)) for name in documents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert not failures
    assert len(pids) == 2
    assert None not in pids
    assert len(profiles) == 2
    for name, marker in markers.items():
        others = [other for other in markers.values() if other != marker]
        for n in range(3):
            pdf = tmp_path / "out" / f"{name}-{n}.pdf"
            assert_pdf_with_text(pdf, f"Document {name}", marker)
            assert not any(other in pdf_text(pdf) for other in others)
    for pid in pids:
        assert pid is not None
        assert group_is_gone(pid)


def test_a_corrupt_docx_raises_and_leaves_no_partial_pdf(converter: PdfConverter, tmp_path: Path) -> None:
    source = tmp_path / "damaged-policy.docx"
    source.write_bytes(b"this is not a zip archive \x00\x01\x02" * 40)
    target = tmp_path / "out" / "damaged-policy.pdf"

    with pytest.raises(PdfConversionError, match=r"damaged-policy\.docx") as raised:
        converter.convert(source, target)

    assert raised.value.source == source
    assert list(target.parent.iterdir()) == []
    # the office survives a document it refuses
    pid = converter.pid
    converter.convert(make_docx(tmp_path / "fine.docx", "Fine"), target)
    assert converter.pid == pid


def test_a_failed_conversion_keeps_the_previous_pdf(converter: PdfConverter, tmp_path: Path) -> None:
    source = tmp_path / "policy.docx"
    source.write_bytes(b"garbage")
    target = tmp_path / "policy.pdf"
    target.write_bytes(b"%PDF-1.7 previous version")

    with pytest.raises(PdfConversionError):
        converter.convert(source, target)

    assert target.read_bytes() == b"%PDF-1.7 previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.docx", "policy.pdf"]


def test_a_missing_source_raises_naming_it(converter: PdfConverter, tmp_path: Path) -> None:
    with pytest.raises(PdfConversionError, match=r"no-such-policy\.docx"):
        converter.convert(tmp_path / "no-such-policy.docx", tmp_path / "out.pdf")

    assert list(tmp_path.iterdir()) == []


def test_close_stops_libreoffice_and_removes_its_profile(policy: Path, tmp_path: Path) -> None:
    own = PdfConverter().start()
    own.convert(policy, tmp_path / "policy.pdf")
    pid, profile = own.pid, own.profile_dir
    assert pid is not None
    assert profile is not None
    assert profile.is_dir()
    assert office_pids(pid)

    own.close()

    assert live_group_members(pid) == []
    assert not profile.exists()
    assert own.pid is None
    own.close()  # idempotent


def test_recovers_after_its_libreoffice_is_killed(policy: Path, tmp_path: Path) -> None:
    with PdfConverter() as own:
        pid = own.pid
        assert pid is not None

        # a crash while idle: the next conversion starts a new office
        os.killpg(pid, signal.SIGKILL)
        assert group_is_gone(pid)
        own.convert(policy, tmp_path / "after-crash.pdf")
        second = own.pid
        assert second is not None
        assert second != pid
        assert_pdf_with_text(tmp_path / "after-crash.pdf", "Information Security Policy")

        # the office itself (not its launcher) dies just before a conversion
        for office in office_pids(second):
            os.kill(office, signal.SIGKILL)
        own.convert(policy, tmp_path / "after-second-crash.pdf")
        assert own.pid not in (None, second)
        assert_pdf_with_text(tmp_path / "after-second-crash.pdf", "Information Security Policy")

    assert live_group_members(pid) == []
    assert live_group_members(second) == []


def test_a_python_without_uno_is_reported_clearly() -> None:
    # this virtualenv's interpreter cannot import uno
    converter = PdfConverter(python=sys.executable, start_timeout=10)

    with pytest.raises(LibreOfficeStartError, match="install python3-uno"):
        converter.start()

    assert converter.pid is None
    converter.close()


def test_cold_conversion_is_checked_like_the_warm_one(policy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    pdf = convert_cold(policy, out)

    assert pdf == out / "information-security-policy.pdf"
    assert_pdf_with_text(pdf, "Information Security Policy")
    damaged = tmp_path / "damaged.docx"
    damaged.write_bytes(b"not a document")
    # soffice exits 0 when it cannot load a file: the missing output is what tells
    with pytest.raises(PdfConversionError, match=r"damaged\.docx"):
        convert_cold(damaged, out)
    assert sorted(p.name for p in out.iterdir()) == ["information-security-policy.pdf"]


def test_a_conversion_over_its_timeout_is_given_up_and_the_office_restarted(
    converter: PdfConverter, policy: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "policy.pdf"
    pid = converter.pid

    with pytest.raises(PdfConversionError, match=r"did not finish within"):
        converter.convert(policy, target, timeout=0.001)

    assert list(target.parent.iterdir()) == []
    assert pid is not None
    assert live_group_members(pid) == []
    converter.convert(policy, target)
    assert converter.pid != pid
    assert_pdf_with_text(target, "Information Security Policy")


def test_a_crash_during_a_conversion_is_retried_once_on_a_new_office(
    converter: PdfConverter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = make_docx(
        tmp_path / "long-policy.docx", "Long policy", *[f"Clause {n} " * 30 for n in range(2000)]
    )
    target = tmp_path / "long-policy.pdf"
    converter.start()
    pid = converter.pid
    assert pid is not None
    (office,) = office_pids(pid)
    # loading and laying out 2000 paragraphs takes well over a second: this lands mid-conversion
    killer = threading.Timer(0.3, os.kill, args=(office, signal.SIGKILL))

    killer.start()
    try:
        converter.convert(source, target)
    finally:
        killer.cancel()

    assert "LibreOffice died converting" in caplog.text
    assert converter.pid != pid
    assert_pdf_with_text(target, "Long policy", "Clause 1999")
    assert group_is_gone(pid)
