"""The auditor's side of the archive, in three rooms:

- :mod:`adapters.audit.reader`: list organisations, years and cycles, pick and download a version
  (:class:`ArchiveReader`, :func:`latest_render_manifest`, :func:`select_version`,
  :func:`download_version`);
- :mod:`adapters.audit.verify`: check the archive or a local copy against the manifests
  (:func:`verify_archive`, :func:`verify_copy`, :func:`report_json`);
- :mod:`adapters.audit.pack`: the evidence pack zip and its index (:func:`build_pack`,
  :func:`read_pack`, :func:`evidence_item`).

Everything here only reads the archive; the lead's legal hold and the auditor grants are in
:mod:`adapters.audit_access`. The public names are re-exported here, so
``from adapters.audit import ArchiveReader`` keeps working.
"""

from adapters.audit.pack import (
    PACK_INDEX_HTML,
    PACK_INDEX_JSON,
    build_pack,
    evidence_item,
    pack_index_html,
    read_pack,
)
from adapters.audit.reader import (
    ACKNOWLEDGEMENTS,
    MANIFESTS,
    RENDER_MANIFESTS,
    ArchiveReader,
    AuditError,
    IntegrityMismatchError,
    Progress,
    download_version,
    latest_render_manifest,
    relative_name,
    select_version,
)
from adapters.audit.verify import report_json, verify_archive, verify_copy

__all__ = [
    "ACKNOWLEDGEMENTS",
    "MANIFESTS",
    "PACK_INDEX_HTML",
    "PACK_INDEX_JSON",
    "RENDER_MANIFESTS",
    "ArchiveReader",
    "AuditError",
    "IntegrityMismatchError",
    "Progress",
    "build_pack",
    "download_version",
    "evidence_item",
    "latest_render_manifest",
    "pack_index_html",
    "read_pack",
    "relative_name",
    "report_json",
    "select_version",
    "verify_archive",
    "verify_copy",
]
