"""Warm vs cold .docx -> PDF: the same small document N times with each, in ms per document.

    .venv/bin/python bench/pdf_convert.py --n 10

The warm figure excludes the converter's one-off start-up, which is printed separately; the
cold figure is one ``soffice --convert-to pdf`` run (fresh profile) per document.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import docx

from activities.pdf_convert import PdfConverter, convert_cold


def make_document(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Information Security Policy", level=1)
    for n in range(20):
        document.add_paragraph(f"Clause 5.{n}: top management shall demonstrate leadership and commitment.")
    document.save(str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=10, help="documents per method (default 10)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as scratch:
        root = Path(scratch)
        source = make_document(root / "policy.docx")

        started = time.perf_counter()
        with PdfConverter() as converter:
            startup_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            for n in range(args.n):
                converter.convert(source, root / "warm" / f"policy-{n}.pdf")
            warm_ms = (time.perf_counter() - started) * 1000 / args.n

        started = time.perf_counter()
        for n in range(args.n):
            convert_cold(source, root / "cold" / str(n))
        cold_ms = (time.perf_counter() - started) * 1000 / args.n

    print(f"documents per method: {args.n}")
    print(f"warm start-up (once): {startup_ms:8.0f} ms")
    print(f"warm:                 {warm_ms:8.1f} ms/document")
    print(f"cold:                 {cold_ms:8.1f} ms/document")
    print(f"cold / warm:          {cold_ms / warm_ms:8.1f}x")
    print(f"warm incl. start-up:  {(startup_ms / args.n) + warm_ms:8.1f} ms/document")


if __name__ == "__main__":
    main()
