"""Orchestration only: no I/O, no clocks, no randomness outside the Temporal API."""
