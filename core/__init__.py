"""Code shared by the worker, the web app and the command line: settings, clients, hashing.

Nothing here imports from ``activities``, ``workflows``, ``web`` or ``cli``.
"""
