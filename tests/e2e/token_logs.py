"""The check that no log holds a link token, run by ``test_demo`` after a whole cycle.

Every link the cycle emailed (the CEO's, each person's, the auditor's, the lead's sign-in) is
read from the SMTP sink's .eml files; every file under the stack's ``logs/`` is then searched
for each token and for any path of a link page followed by something other than
``[redacted]``. The demo opens those links through the web app, so uvicorn's access log has a
line for each.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from devstack.mailsink import read_mailbox

LINK = re.compile(r"https?://[^\s\"'<>]+?/(?:sign|ack|audit|dashboard/signin)/([A-Za-z0-9_.-]+)")
# a link page's path followed by anything but the redaction marker
UNREDACTED_PATH = re.compile(r"/(?:sign|ack|audit|dashboard/signin)/(?!\[redacted\])[A-Za-z0-9_.-]{8,}")


def _text_of(message: EmailMessage) -> str:
    parts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(str(part) for part in parts)


def link_tokens(mailbox: Path) -> set[str]:
    """Every link token in every email the stack sent."""
    return {token for message in read_mailbox(mailbox) for token in LINK.findall(_text_of(message))}


def assert_no_tokens_in_logs(logs_dir: Path, tokens: set[str]) -> None:
    """No file under ``logs_dir`` contains one of ``tokens`` or an unredacted link path."""
    log_files = sorted(path for path in logs_dir.rglob("*") if path.is_file())
    assert log_files, f"no logs under {logs_dir}"
    for path in log_files:
        text = path.read_text(errors="replace")
        leaked = sorted(token[:12] + "..." for token in tokens if token in text)
        assert not leaked, f"{path.name} holds link tokens: {leaked}"
        found = UNREDACTED_PATH.search(text)
        assert found is None, f"{path.name}: {text[max(0, found.start() - 80) : found.end() + 20]!r}"
