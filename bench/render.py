"""Rendering and PDF conversion of the document pair, against baselines measured in the same run.

    .venv/bin/python bench/render.py --n 20 --pdf-n 5

1. Render: our full path (context from the profile, sandboxed Jinja2 with autoescape and
   StrictUndefined, the RACI table, deterministic zip, atomic write, SHA-256) per document
   pair, beside raw docxtpl rendering the same templates with the same context values
   (default environment, saved to memory). The ratio ours/raw is the figure.
2. PDF: the warm converter per document beside a cold ``soffice --convert-to pdf`` per
   document, both on the real rendered documents. The ratio cold/warm is the figure.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from docxtpl import DocxTemplate

from core.profile_io import load_profile, load_staff
from documents.context import build_policy_context, build_roles_context
from documents.pdf_convert import PdfConverter, convert_cold
from documents.pipeline import POLICY_OUTPUT, POLICY_TEMPLATE, ROLES_OUTPUT, ROLES_TEMPLATE, render_documents
from documents.raci import raci_subdoc

DEMO = Path(__file__).resolve().parents[1] / "devstack" / "demo"


def timed(n: int, action: Callable[[int], object]) -> list[float]:
    """Milliseconds of each of ``n`` runs of ``action(i)``."""
    samples = []
    for i in range(n):
        started = time.perf_counter()
        action(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def describe(samples: list[float]) -> str:
    return f"median {statistics.median(samples):7.1f} ms  (min {min(samples):.1f}, max {max(samples):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="document pairs to render per method (default 20)")
    parser.add_argument(
        "--pdf-n", type=int, default=5, help="conversions per document and method (default 5)"
    )
    args = parser.parse_args()

    profile = load_profile(DEMO / "profile.yaml")
    staff = load_staff(DEMO / "staff.csv")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as scratch:
        root = Path(scratch)

        def raw_pair(_: int) -> None:
            policy = DocxTemplate(str(POLICY_TEMPLATE))
            policy.render(build_policy_context(profile, staff).model_dump())
            policy.save(io.BytesIO())
            roles = DocxTemplate(str(ROLES_TEMPLATE))
            values = build_roles_context(profile, staff).model_dump()
            values["raci_table"] = raci_subdoc(profile)(roles)
            roles.render(values)
            roles.save(io.BytesIO())

        # one untimed run of each path first: imports and caches
        raw_pair(0)
        render_documents(profile, staff, root / "warm-up")
        raw = timed(args.n, raw_pair)
        ours = timed(args.n, lambda i: render_documents(profile, staff, root / f"pair-{i}"))
        print(f"render, document pair, n={args.n}")
        print(f"  raw docxtpl      {describe(raw)}")
        print(f"  isms-cycle       {describe(ours)}")
        print(f"  ratio ours/raw   {statistics.median(ours) / statistics.median(raw):.2f}x")

        documents = [root / "pair-0" / POLICY_OUTPUT, root / "pair-0" / ROLES_OUTPUT]
        started = time.perf_counter()
        with PdfConverter() as converter:
            converter.convert(documents[0], root / "pdf-first.pdf")
            startup = (time.perf_counter() - started) * 1000
            warm = timed(
                args.pdf_n * len(documents),
                lambda i: converter.convert(documents[i % 2], root / "warm" / f"{i}.pdf"),
            )
        cold = timed(
            args.pdf_n * len(documents),
            lambda i: convert_cold(documents[i % 2], root / "cold" / str(i)),
        )
        print(f"PDF conversion, per document, n={len(warm)} (policy and roles alternating)")
        print(f"  warm start-up and first document  {startup:.0f} ms (once per worker)")
        print(f"  cold soffice --convert-to pdf     {describe(cold)}")
        print(f"  warm converter                    {describe(warm)}")
        print(f"  ratio cold/warm                   {statistics.median(cold) / statistics.median(warm):.1f}x")


if __name__ == "__main__":
    main()
