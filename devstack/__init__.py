"""The embedded local stack: Temporal dev server, SeaweedFS S3, an SMTP sink, worker and web app.

Used by ``isms dev up/status/down`` and by the test fixtures, so tests start the real
servers exactly the way a developer's machine does.
"""
