"""An SMTP connection that fails after connecting (STARTTLS or AUTH refused) is closed, not leaked.

Against the real SMTP sink, which offers neither STARTTLS nor AUTH: ``open_smtp`` raises the
server's refusal and leaves no socket open behind it (a leaked one surfaces later as a
``ResourceWarning: unclosed socket`` at some other test's teardown, which the suite turns into
an error).
"""

from __future__ import annotations

import gc
import smtplib
import warnings

import pytest
from pydantic import SecretStr

from adapters.smtp import open_smtp
from core.settings import Settings, SmtpSecurity


@pytest.mark.parametrize(
    "update",
    [
        {"smtp_security": SmtpSecurity.STARTTLS},
        {"smtp_user": "isms", "smtp_password": SecretStr("not-a-real-password")},
    ],
    ids=["starttls-refused", "auth-refused"],
)
def test_a_refused_session_leaves_no_socket_open(settings: Settings, update: dict[str, object]) -> None:
    refused = settings.model_copy(update=update)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(smtplib.SMTPNotSupportedError):
            open_smtp(refused, timeout=5)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
