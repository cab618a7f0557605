"""Convert documents to PDF in a running LibreOffice, on request, over UNO.

This is a standalone script, not part of the worker: it runs under a Python that can
``import uno`` (Debian's ``/usr/bin/python3`` with ``python3-uno``), which the worker's
virtualenv cannot. :class:`documents.pdf_convert.PdfConverter` starts it beside its own
``soffice`` and talks to it in JSON lines::

    python3 _uno_bridge.py --connect 'uno:pipe,name=NAME;urp;StarOffice.ComponentContext'
    <- {"ready": true}                                  (connected; or {"ready": false, "error": ...})
    -> {"source": "/abs/in.docx", "target": "/abs/out.pdf", "import_filter": "MS Word 2007 XML"}
    <- {"ok": true}                                     (or {"ok": false, "error": ..., "office_lost": ...})
    -> {"op": "ping"}
    <- {"ok": true}                                     (the office still answers)
    -> {"op": "terminate"}
    <- {"ok": true}                                     (LibreOffice asked to quit; the script exits)

At end of input without a terminate request (its parent died or forgot to close it) the
script asks LibreOffice to quit too, then exits. It never imports anything from the project.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from types import ModuleType
from typing import Any, TextIO

PDF_EXPORT_FILTER = "writer_pdf_Export"
WRITER_DOCUMENT = "com.sun.star.text.TextDocument"
# com.sun.star.document.MacroExecMode.NEVER_EXECUTE and UpdateDocMode.NO_UPDATE: a document
# from a template must not run macros or fetch linked content while it is converted
NEVER_EXECUTE = 0
NO_UPDATE = 0
CONNECT_RETRY_SECONDS = 0.1


class DocumentRefusedError(Exception):
    """LibreOffice would not open the document as one it can export; the message says why."""


def _reply(out: TextIO, message: dict[str, object]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _properties(uno: ModuleType, **values: object) -> tuple[Any, ...]:
    """A ``PropertyValue[]`` sequence, as loadComponentFromURL and storeToURL take."""
    result = []
    for name, value in values.items():
        prop = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
        prop.Name = name
        prop.Value = value
        result.append(prop)
    return tuple(result)


def _connect(uno: ModuleType, url: str, *, timeout: float) -> Any:
    """The office's Desktop, retrying until ``timeout`` while soffice is still starting."""
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    not_yet = uno.getClass("com.sun.star.connection.NoConnectException")
    deadline = time.monotonic() + timeout
    while True:
        try:
            context = resolver.resolve(url)
            break
        except not_yet:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"LibreOffice did not accept {url} within {timeout:g} s") from None
            time.sleep(CONNECT_RETRY_SECONDS)
    return context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)


def _close(document: Any) -> None:
    """Close without saving; a document that refuses (CloseVetoException) is disposed."""
    try:
        document.close(True)
    except Exception:
        document.dispose()


def _convert(uno: ModuleType, desktop: Any, source: str, target: str, import_filter: str | None) -> None:
    """Load ``source`` hidden and read-only, export it to ``target`` as PDF, close it.

    ``import_filter`` names the filter to load with; without one, type detection decides.
    """
    load: dict[str, object] = {
        "Hidden": True,
        "ReadOnly": True,
        # both are UNO shorts: a plain int arrives as a long, which the office would ignore
        "MacroExecutionMode": uno.Any("short", NEVER_EXECUTE),
        "UpdateDocMode": uno.Any("short", NO_UPDATE),
    }
    if import_filter is not None:
        load["FilterName"] = import_filter
    document = desktop.loadComponentFromURL(
        uno.systemPathToFileUrl(source), "_blank", 0, _properties(uno, **load)
    )
    if document is None:
        raise DocumentRefusedError("LibreOffice could not load it (damaged, or not the format its name says)")
    try:
        if not document.supportsService(WRITER_DOCUMENT):
            raise DocumentRefusedError("it did not open as a text document")
        document.storeToURL(
            uno.systemPathToFileUrl(target),
            _properties(uno, FilterName=PDF_EXPORT_FILTER, Overwrite=True),
        )
    finally:
        _close(document)


def _describe(error: BaseException) -> str:
    if isinstance(error, DocumentRefusedError):
        return str(error)
    # UNO exceptions carry their text in .Message; str() of them is often empty
    message = getattr(error, "Message", "") or str(error)
    return f"{type(error).__name__}: {message}".rstrip(": ")


def _serve(uno: ModuleType, desktop: Any, requests: TextIO, out: TextIO) -> None:
    office_lost = (
        uno.getClass("com.sun.star.lang.DisposedException"),
        uno.getClass("com.sun.star.connection.NoConnectException"),
    )
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            _reply(out, {"ok": False, "error": f"bad request: {error}", "office_lost": False})
            continue
        if request.get("op") == "ping":
            try:
                desktop.getFrames().getCount()  # any call that has to reach the office
            except Exception as error:
                _reply(out, {"ok": False, "error": _describe(error), "office_lost": True})
            else:
                _reply(out, {"ok": True})
            continue
        if request.get("op") == "terminate":
            try:
                desktop.terminate()
            except Exception as error:  # the office may already be gone: the caller kills it anyway
                _reply(out, {"ok": False, "error": _describe(error), "office_lost": True})
            else:
                _reply(out, {"ok": True})
            return
        try:
            import_filter = request.get("import_filter")
            _convert(
                uno,
                desktop,
                str(request["source"]),
                str(request["target"]),
                str(import_filter) if import_filter else None,
            )
        except office_lost as error:
            _reply(out, {"ok": False, "error": _describe(error), "office_lost": True})
        except Exception as error:
            _reply(out, {"ok": False, "error": _describe(error), "office_lost": False})
        else:
            _reply(out, {"ok": True})
    # end of input without a terminate request: the converter was never closed, or its
    # process died; an office nobody can reach any more should not outlive it
    try:
        desktop.terminate()
    except Exception as error:
        sys.stderr.write(f"could not terminate the office: {_describe(error)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connect", required=True, help="UNO URL of the office, as given to --accept")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the office")
    args = parser.parse_args(argv)

    # the parent owns this process's life: Ctrl-C in its terminal is for the parent to handle
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # keep stdout for the protocol alone: native code that writes to fd 1 lands on stderr
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    try:
        uno = importlib.import_module("uno")
    except ImportError as error:
        _reply(
            out,
            {"ready": False, "error": f"{sys.executable} cannot import uno ({error}): install python3-uno"},
        )
        return 3
    try:
        desktop = _connect(uno, args.connect, timeout=args.timeout)
    except Exception as error:
        _reply(out, {"ready": False, "error": _describe(error)})
        return 4
    _reply(out, {"ready": True})
    _serve(uno, desktop, sys.stdin, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
