"""Open an SMTP connection the way the settings say (plain, STARTTLS or implicit TLS)."""

from __future__ import annotations

import smtplib
import ssl

from core.settings import Settings, SmtpSecurity


def open_smtp(settings: Settings, *, timeout: float = 30.0) -> smtplib.SMTP:
    """A connected, authenticated SMTP session; the caller closes it (``with`` works)."""
    if settings.smtp_security is SmtpSecurity.TLS:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_security is SmtpSecurity.STARTTLS:
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user is not None and settings.smtp_password is not None:
        smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    return smtp
