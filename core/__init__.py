"""Pure domain logic shared by the worker, the web app and the command line: settings, the Clause 5
rules, the acknowledgement register, link tokens, routing, profile loading, email templates, hashing.

No network or storage I/O lives here (that is :mod:`adapters`); nothing here imports from
``adapters``, ``documents``, ``activities``, ``workflows``, ``web`` or ``cli``.
"""
