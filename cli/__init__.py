"""The ``isms`` command line."""
