"""Typed failures of the TwelveData client.

Which ones are retried, and by whom:

- :class:`TwelveDataUnavailable` (timeouts, connection errors, 5xx after the client's own
  retries, or the circuit breaker open) is *transient*: Celery retries the refresh task later.
- :class:`TwelveDataDailyLimitExhausted` is not retried before 00:00 UTC: the refresh stops and
  defers the remaining symbols.
- :class:`TwelveDataClientError` (4xx other than 429) is never retried; when it concerns one
  symbol it becomes a :class:`~market.providers.schemas.SymbolError` instead of an exception.

No message ever contains the API key: it travels only in the ``Authorization`` header.
"""

from __future__ import annotations

from datetime import datetime


class TwelveDataError(Exception):
    """Base class of every TwelveData failure."""


class TwelveDataUnavailable(TwelveDataError):
    """The API could not be reached or kept failing (timeouts, connection errors, 5xx)."""


class TwelveDataCircuitOpen(TwelveDataUnavailable):
    """The shared circuit breaker is open: the call failed fast, no HTTP request was made."""


class TwelveDataServerError(TwelveDataError):
    """One failed attempt (5xx, timeout, connection error); the client retries it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TwelveDataClientError(TwelveDataError):
    """A 4xx answer other than 429 (bad parameter, unknown symbol, plan restriction)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"TwelveData error {code}: {message}")
        self.code = code
        self.vendor_message = message


class TwelveDataAuthError(TwelveDataClientError):
    """401: the API key is missing or wrong. Nothing can succeed; the refresh fails."""


class TwelveDataRateLimited(TwelveDataError):
    """429 for the current minute: wait for the next minute, then retry."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TwelveDataDailyLimitExhausted(TwelveDataError):
    """429 for the day: no request may be sent before ``until`` (00:00 UTC)."""

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class TwelveDataPayloadError(TwelveDataError):
    """A body that is not JSON or does not have the documented shape."""
