"""Rendering and PDF conversion of the cycle's documents, against baselines measured in the same run.

    .venv/bin/python bench/render.py --n 20 --pdf-n 5

1. Render: our full path (context from the profile, sandboxed Jinja2 with autoescape and
   StrictUndefined, the RACI table, deterministic zip, atomic write, SHA-256) per document
   pair, beside raw docxtpl rendering the same templates with the same context values
   (default environment, saved to memory). The ratio ours/raw is the figure.
2. A set of four documents as an organisation brings them (a profile's documents section):
   two generated from its own templates (copies of the built-in ones in a folder of their
   own), a static .docx (written with python-docx) and a static .pdf (that .docx converted
   once, before timing). Our full path per set (sources resolved, templates rendered, static
   files checked, copied and hashed) beside raw docxtpl rendering the same two templates.
   The ratio ours/raw is the figure; it must stay within 1.3x.
3. PDF: the warm converter per document beside a cold ``soffice --convert-to pdf`` per
   document, both on the set's three .docx (the static .pdf needs no conversion). The
   ratios cold/warm and warm/cold are the figures.
4. unoserver (PyPI), when ``--unoserver`` names its server script (it has to run under a
   Python that can ``import uno``, such as a venv made with ``/usr/bin/python3 -m venv
   --system-site-packages``): its start-up, then per-document conversion on the same
   documents, taking turns with a warm converter running at the same time; called as its own
   client does (``info`` then ``convert`` over XML-RPC, with the import filter named as ours
   names it), and bare (``convert`` alone, no index update). The ratio unoserver/warm is the
   figure.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml
from docx import Document
from docxtpl import DocxTemplate

from core.profile_io import load_profile, load_staff
from devstack.ports import find_free_ports
from documents.context import build_policy_context, build_roles_context
from documents.pdf_convert import IMPORT_FILTERS, PdfConverter, convert_cold
from documents.pipeline import POLICY_TEMPLATE, ROLES_TEMPLATE, render_documents
from documents.raci import raci_subdoc
from documents.sources import resolve_sources
from models.profile import OrganisationProfile

DEMO = Path(__file__).resolve().parents[1] / "devstack" / "demo"
UNOSERVER = Path(__file__).resolve().parents[1] / ".venv-uno" / "bin" / "unoserver"


def timed(n: int, action: Callable[[int], object]) -> list[float]:
    """Milliseconds of each of ``n`` runs of ``action(i)``."""
    samples = []
    for i in range(n):
        started = time.perf_counter()
        action(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def once(action: Callable[[], object]) -> float:
    """Milliseconds of one run of ``action()``."""
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def taking_turns(n: int, *actions: Callable[[int], object]) -> list[list[float]]:
    """Milliseconds of ``n`` runs of each action, one of each in turn: a busy machine slows all alike."""
    samples: list[list[float]] = [[] for _ in actions]
    for i in range(n):
        for action, times in zip(actions, samples, strict=True):
            started = time.perf_counter()
            action(i)
            times.append((time.perf_counter() - started) * 1000)
    return samples


def describe(samples: list[float]) -> str:
    return f"median {statistics.median(samples):7.1f} ms  (min {min(samples):.1f}, max {max(samples):.1f})"


class Unoserver:
    """A ``unoserver`` process (which starts its own soffice) on free ports, with its own profile."""

    def __init__(self, script: Path, root: Path) -> None:
        self.port, uno_port = find_free_ports(2)
        self.log = (root / "unoserver.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(script),
                "--port",
                str(self.port),
                "--uno-port",
                str(uno_port),
                "--user-installation",
                str(root / "unoserver-profile"),
                "--executable",
                "/usr/bin/soffice",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.port}", allow_none=True)

    def wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.proxy.info()
                return
            except (ConnectionError, OSError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("unoserver did not start") from None
                time.sleep(0.05)

    def convert(self, source: Path, target: Path, *, as_its_client: bool = True) -> None:
        """As ``unoserver.client.UnoClient.convert`` does on this host: ``info()``, then ``convert()``
        with its default index update; ``as_its_client=False``: the bare ``convert()`` call without it.
        """
        if as_its_client:
            self.proxy.info()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.proxy.convert(
            str(source), None, str(target), "pdf", None, [], as_its_client, IMPORT_FILTERS[source.suffix]
        )

    def close(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


SET_LIMIT = 1.3  # the set of four may take at most this much longer than raw docxtpl


def four_document_set(root: Path) -> tuple[OrganisationProfile, dict[str, Path]]:
    """The demo profile with a documents section: own policy and roles templates, a static .docx
    and a static .pdf, all in ``root`` (the .pdf converted once, cold, before anything is timed)."""
    templates, files = root / "templates", root / "files"
    templates.mkdir(parents=True)
    files.mkdir()
    shutil.copyfile(POLICY_TEMPLATE, templates / "our-policy.docx")
    shutil.copyfile(ROLES_TEMPLATE, templates / "our-roles.docx")
    for name, title in [
        ("acceptable-use", "Acceptable Use Policy"),
        ("secure-development", "Secure Development"),
    ]:
        document = Document()
        document.add_heading(title, level=1)
        for number in range(1, 31):
            document.add_paragraph(
                f"{number}. Staff follow this rule of the {title}; exceptions are approved."
            )
        document.save(str(files / f"{name}.docx"))
    convert_cold(files / "acceptable-use.docx", files)
    (files / "acceptable-use.docx").unlink()
    data = yaml.safe_load((DEMO / "profile.yaml").read_text())
    data["documents"] = [
        {"id": "information-security-policy", "template": "templates/our-policy.docx"},
        {"id": "isms-roles-responsibilities", "template": "templates/our-roles.docx"},
        {
            "id": "acceptable-use-policy",
            "title": "Acceptable Use Policy",
            "kind": "static",
            "file": "files/acceptable-use.pdf",
        },
        {
            "id": "secure-development-policy",
            "title": "Secure Development Policy",
            "kind": "static",
            "file": "files/secure-development.docx",
            "audience": {"departments": ["Engineering"]},
        },
    ]
    (root / "profile.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    profile = load_profile(root / "profile.yaml")
    sources = resolve_sources(profile, root)
    assert not sources.missing, sources.missing
    return profile, sources.files


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="document pairs to render per method (default 20)")
    parser.add_argument(
        "--pdf-n", type=int, default=5, help="conversions per document and method (default 5)"
    )
    parser.add_argument(
        "--unoserver",
        type=Path,
        default=UNOSERVER,
        help="unoserver's server script, in a Python with uno (skipped if absent)",
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
        raw, ours = taking_turns(
            args.n, raw_pair, lambda i: render_documents(profile, staff, root / f"pair-{i}")
        )
        print(f"render, document pair, n={args.n} (raw and ours taking turns)")
        print(f"  raw docxtpl      {describe(raw)}")
        print(f"  isms-cycle       {describe(ours)}")
        print(f"  ratio ours/raw   {statistics.median(ours) / statistics.median(raw):.2f}x")

        set_profile, sources = four_document_set(root / "organisation")
        own_policy, own_roles = sources["information-security-policy"], sources["isms-roles-responsibilities"]

        def raw_set(_: int) -> None:  # raw docxtpl on the same two templates; static files need none
            policy = DocxTemplate(str(own_policy))
            policy.render(build_policy_context(set_profile, staff).model_dump())
            policy.save(io.BytesIO())
            roles = DocxTemplate(str(own_roles))
            values = build_roles_context(set_profile, staff).model_dump()
            values["raci_table"] = raci_subdoc(set_profile)(roles)
            roles.render(values)
            roles.save(io.BytesIO())

        raw_set(0)
        render_documents(set_profile, staff, root / "set-warm-up", sources=sources)
        raw_four, ours_four = taking_turns(
            args.n,
            raw_set,
            lambda i: render_documents(set_profile, staff, root / f"set-{i}", sources=sources),
        )
        ratio = statistics.median(ours_four) / statistics.median(raw_four)
        print(
            f"render, set of four (2 own templates, a static .docx, a static .pdf), n={args.n}, taking turns"
        )
        print(f"  raw docxtpl (the 2 templates)  {describe(raw_four)}")
        print(f"  isms-cycle (all 4)             {describe(ours_four)}")
        verdict = "within" if ratio <= SET_LIMIT else "OVER"
        print(f"  ratio ours/raw                 {ratio:.2f}x ({verdict} the {SET_LIMIT}x limit)")

        made = root / "set-0"
        documents = sorted(made.glob("*.docx"))  # policy, roles, the static .docx: what needs a PDF
        count = len(documents)
        started = time.perf_counter()
        with PdfConverter() as converter:
            converter.convert(documents[0], root / "pdf-first.pdf")
            startup = (time.perf_counter() - started) * 1000
            warm = timed(
                args.pdf_n * count,
                lambda i: converter.convert(documents[i % count], root / "warm" / f"{i}.pdf"),
            )
        cold = timed(args.pdf_n * count, lambda i: convert_cold(documents[i % count], root / "cold" / str(i)))
        names = ", ".join(path.stem for path in documents)
        print(f"PDF conversion, per document, n={len(warm)} (the set's {count} .docx in turn: {names})")
        print(f"  warm start-up and first document  {startup:.0f} ms (once per worker)")
        print(f"  cold soffice --convert-to pdf     {describe(cold)}")
        print(f"  warm converter                    {describe(warm)}")
        print(f"  ratio cold/warm                   {statistics.median(cold) / statistics.median(warm):.1f}x")
        print(f"  ratio warm/cold                   {statistics.median(warm) / statistics.median(cold):.2f}x")

        if not args.unoserver.is_file():
            print(f"unoserver: {args.unoserver} is not installed, not measured")
            return
        # both running at once, one document on each in turn, so a busy machine slows both alike
        started = time.perf_counter()
        with PdfConverter() as converter:
            converter.convert(documents[0], root / "pdf-first-again.pdf")
            startup = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            server = Unoserver(args.unoserver, root)
            try:
                server.wait_until_ready()
                server.convert(documents[0], root / "uno-first.pdf")
                uno_startup = (time.perf_counter() - started) * 1000
                beside: list[float] = []
                uno: list[float] = []
                bare: list[float] = []
                for i in range(args.pdf_n * count):
                    document, out = documents[i % count], root / "side-by-side" / str(i)
                    beside.append(once(partial(converter.convert, document, out / "warm.pdf")))
                    uno.append(once(partial(server.convert, document, out / "uno.pdf")))
                    bare.append(once(partial(server.convert, document, out / "b.pdf", as_its_client=False)))
            finally:
                server.close()
        print(f"warm converter beside unoserver, per document, n={len(uno)} each, taking turns")
        print(f"  warm start-up and first document       {startup:.0f} ms")
        print(f"  unoserver start-up and first document  {uno_startup:.0f} ms")
        print(f"  warm converter                         {describe(beside)}")
        print(f"  unoserver, as its client calls it      {describe(uno)}")
        print(f"  unoserver, bare convert (no index)     {describe(bare)}")
        ratio = statistics.median(uno) / statistics.median(beside)
        print(f"  ratio unoserver/warm                   {ratio:.2f}x")
        bare_ratio = statistics.median(bare) / statistics.median(beside)
        print(f"  ratio bare unoserver/warm              {bare_ratio:.2f}x")
        print(f"  ratio start-up unoserver/warm          {uno_startup / startup:.1f}x")


if __name__ == "__main__":
    main()
