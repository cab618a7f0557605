"""Rendering and PDF conversion of the document pair, against baselines measured in the same run.

    .venv/bin/python bench/render.py --n 20 --pdf-n 5

1. Render: our full path (context from the profile, sandboxed Jinja2 with autoescape and
   StrictUndefined, the RACI table, deterministic zip, atomic write, SHA-256) per document
   pair, beside raw docxtpl rendering the same templates with the same context values
   (default environment, saved to memory). The ratio ours/raw is the figure.
2. PDF: the warm converter per document beside a cold ``soffice --convert-to pdf`` per
   document, both on the real rendered documents. The ratio cold/warm is the figure.
3. unoserver (PyPI), when ``--unoserver`` names its server script (it has to run under a
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
import signal
import statistics
import subprocess
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from functools import partial
from pathlib import Path

from docxtpl import DocxTemplate

from core.profile_io import load_profile, load_staff
from devstack.ports import find_free_ports
from documents.context import build_policy_context, build_roles_context
from documents.pdf_convert import IMPORT_FILTERS, PdfConverter, convert_cold
from documents.pipeline import POLICY_OUTPUT, POLICY_TEMPLATE, ROLES_OUTPUT, ROLES_TEMPLATE, render_documents
from documents.raci import raci_subdoc

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
                for i in range(args.pdf_n * len(documents)):
                    document, out = documents[i % 2], root / "side-by-side" / str(i)
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
