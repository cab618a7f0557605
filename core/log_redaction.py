"""Keep link tokens out of log files: a ``logging.Filter`` that rewrites them to ``[redacted]``.

A link token is a bearer credential (anyone holding it may sign as the CEO, acknowledge for a
person or read the archive), so no log line may carry one. The filter rewrites

* any path segment after ``/sign/``, ``/ack/``, ``/role/``, ``/audit/`` and ``/dashboard/signin/`` (the
  pages a token opens), as uvicorn's access log writes them;
* anything shaped like one of our itsdangerous tokens (``payload.signature`` in URL-safe
  base64, the payload optionally compressed: a leading ``.``), wherever it appears;
* the values of OAuth query parameters (``code``, ``state``, ``id_token``...) of a sign-in
  callback.

Install it on the *handlers* (a filter on a logger does not see records propagated from its
children): :func:`configure_logging` for a process's root handler (the worker, the web app),
:func:`uvicorn_log_config` for uvicorn's access and error loggers.

>>> redact("GET /sign/.eJyrVk...AbC/documents/policy HTTP/1.1")
'GET /sign/[redacted]/documents/policy HTTP/1.1'
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

REDACTED = "[redacted]"

# the pages whose next path segment is a token
_LINK_PATH = re.compile(r"(?P<page>/(?:sign|ack|role|audit|dashboard/signin)/)(?!\[redacted\])[^/?#\s\"'<>]+")
# itsdangerous URLSafeSerializer: base64url(payload) "." base64url(HMAC), a SHA-1 HMAC at least
# (27 characters); a compressed payload starts with "."
_TOKEN = re.compile(r"(?<![A-Za-z0-9_.-])\.?[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{27,86}(?![A-Za-z0-9_-])")
# OAuth/OIDC callback parameters that are credentials while they are fresh
_OAUTH_QUERY = re.compile(
    r"(?P<name>[?&](?:code|state|id_token|access_token|refresh_token|session_state|token)=)[^&#\s\"']+"
)


def redact(text: str) -> str:
    """``text`` with every link token (and OAuth callback value) replaced by ``[redacted]``."""
    text = _LINK_PATH.sub(lambda match: match.group("page") + REDACTED, text)
    text = _TOKEN.sub(REDACTED, text)
    return _OAUTH_QUERY.sub(lambda match: match.group("name") + REDACTED, text)


def _redacted_argument(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value  # numbers keep their type: %d and %.2f formats still work
    shown = str(value)
    cleaned = redact(shown)
    return value if cleaned == shown else cleaned


class TokenRedactionFilter(logging.Filter):
    """Rewrites a record's message, arguments, exception text and stack so no token survives.

    The arguments are redacted one by one rather than merged into the message, because some
    formatters read them (uvicorn's access formatter unpacks the path and the status code).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        else:
            record.msg = _redacted_argument(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_argument(value) for value in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted_argument(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            # formatted here, once, so the traceback's messages (a URL in an error) are redacted too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of ``logger`` (the root logger by default), once."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(existing, TokenRedactionFilter) for existing in handler.filters):
            handler.addFilter(TokenRedactionFilter())


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """A process's logging: one stderr handler on the root logger, with tokens redacted."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    install_redaction()


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the redaction filter on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": TokenRedactionFilter}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact_tokens"]
    return config
