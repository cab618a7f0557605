"""web/: the app imports its routers, the routers never import the app; the headers every page
and file carries are written in one place (``web.security``)."""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_router_imports_the_app() -> None:
    routers = [p for p in WEB.glob("*.py") if p.name not in ("app.py", "__main__.py")]
    assert len(routers) >= 6
    for path in routers:
        assert "web.app" not in _imports(path), f"{path.name} imports web.app: an import circle"


def test_page_headers_are_written_once() -> None:
    for path in WEB.glob("*.py"):
        if path.name == "security.py":
            continue
        text = path.read_text()
        for header in ('"no-store"', '"X-Frame-Options"', '"DENY"', '"nosniff"'):
            assert header not in text, f"{path.name} writes {header} itself: use web.security"
