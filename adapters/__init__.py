"""Adapters: the S3, SMTP and Temporal code the worker, the web app and the CLI share.

Pure domain logic is in :mod:`core`; nothing here imports ``activities``, ``workflows``, ``web`` or ``cli``.
"""
