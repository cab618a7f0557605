"""``isms audit``: give an auditor read-only access, and read, verify and pack the WORM archive.

The ISMS lead's commands (``grant``, ``grants``, ``revoke``, ``hold``) act with the
application's S3 identity; the reading commands (``list``, ``get``, ``verify``, ``pack``) use
the read-only auditor identity when one is configured (ISMS_S3_AUDITOR_ACCESS_KEY_ID), so
they could not change the archive even by mistake.

The commands live in two modules, :mod:`cli.audit.access` (the lead's) and
:mod:`cli.audit.archive` (the reading ones); :mod:`cli.audit.support` holds the command group
and what both share. Importing this package registers every command on ``audit_app``.
"""

from cli.audit import access, archive  # in this order: `isms audit --help` lists the lead's first
from cli.audit.support import audit_app

__all__ = ["access", "archive", "audit_app"]
