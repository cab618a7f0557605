"""The retry policies the campaign and role acceptance workflows give their activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy


def activity_retry(non_retryable: list[str]) -> RetryPolicy:
    """S3 or a stored input briefly unavailable: retry with backoff, up to 5 minutes apart."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=2),
        maximum_interval=timedelta(minutes=5),
        non_retryable_error_types=non_retryable,
    )


def mail_retry(non_retryable: list[str]) -> RetryPolicy:
    """SMTP or S3 down for a while: keep trying; each retry skips the emails the server accepted."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=5),
        maximum_interval=timedelta(minutes=10),
        non_retryable_error_types=non_retryable,
    )
