"""TwelveData client: daily bars (``/time_series``) for one symbol or a batch, stocks and FX,
and the corporate actions of one symbol (``/splits``, ``/dividends``, ``/market_cap``).

Guarantees:

- the API key travels only in the ``Authorization: apikey …`` header — never in a URL, a log
  line or an error message;
- every body is validated (:mod:`market.providers.schemas`); an error body is an error even when
  it came with HTTP 200;
- every HTTP attempt has an overall deadline (``request_deadline`` seconds, headers and body
  together) on top of the connect and read timeouts: a body that trickles in slower than the
  deadline is abandoned and treated like a timeout (at worst one read timeout past it);
- timeouts, connection errors and 5xx are retried with exponential backoff and jitter, then
  raise :class:`TwelveDataUnavailable`; every attempt goes through the shared circuit breaker,
  and while it is open calls fail fast with :class:`TwelveDataCircuitOpen` (no HTTP request);
- every request first takes its credits (one per symbol) from the shared :class:`CreditLimiter`
  (per minute and per UTC day: a request that does not fit today's credits raises
  :class:`TwelveDataDailyLimitExhausted` without being sent); a 429 for the current minute
  waits for the next minute (or ``Retry-After``) and retries; a 429 for the day raises
  :class:`TwelveDataDailyLimitExhausted` and blocks every worker until 00:00 UTC; other 4xx
  are never retried;
- long ranges are paged by date (at most ``max_outputsize`` calendar days, hence points, per
  request); a 414 or an undecodable batch body splits the batch in two, so one bad symbol cannot
  take its neighbours down;
- ``end_date`` is sent as the day after the last wanted day (the vendor may treat it as
  exclusive), and bars outside the requested range or on a repeated date are dropped;
- bars are asked for raw, as traded (``adjust=none``): a later split never changes a bar
  already served, so a stored history is never rewritten by the vendor's adjustment;
- ``/splits`` and ``/dividends`` are asked for the whole history (``range=full``, 20 credits
  per symbol each) and return only events dated on or before today (the vendor lists projected
  ex-dates); ``/market_cap`` (5 credits per request) is paged until a short page.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pybreaker
import requests
import urllib3
from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection

from market.metrics import twelvedata_request_count

from .breaker import get_breaker
from .errors import (
    TwelveDataAuthError,
    TwelveDataCircuitOpen,
    TwelveDataDailyLimitExhausted,
    TwelveDataRateLimited,
    TwelveDataServerError,
    TwelveDataUnavailable,
)
from .limiter import CreditLimiter
from .schemas import (
    SymbolError,
    SymbolResult,
    SymbolSeries,
    VendorDividend,
    VendorMarketCap,
    VendorSplit,
    error_result,
    normalise_bars,
    parse_batch,
    parse_dividends,
    parse_error,
    parse_market_caps,
    parse_splits,
)

logger = logging.getLogger(__name__)

DAILY_INTERVAL = "1day"
# Raw bars, as traded: corporate actions are applied point in time by the engine.
RAW_PRICES = "none"
# Credits per symbol of /splits and /dividends, per request of /market_cap (TwelveData's spec).
CORPORATE_ACTION_CREDITS = 20
MARKET_CAP_CREDITS = 5
# Rows asked per /market_cap page (the vendor's maximum is not documented; its default is 10).
MARKET_CAP_PAGE_SIZE = 1000
# A safety stop for a vendor that never answers a short page.
MAX_MARKET_CAP_PAGES = 100
# How many 429-per-minute answers one request may meet before the client gives up (the limiter
# should make even one rare; several in a row mean another consumer shares the key).
MAX_RATE_LIMIT_WAITS = 5
# Bytes asked of the socket per read while streaming a body: a read returns what has arrived
# (up to this), so the deadline is checked at least once per read timeout.
BODY_READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any  # decoded JSON, or None when the body is not JSON
    retry_after: float | None


class _SplitBatch(Exception):
    """414, or a batch body that could not be decoded: retry the halves separately."""


class TwelveDataClient:
    """One client per refresh; cheap to build. See the module docstring for its guarantees."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        limiter: CreditLimiter,
        breaker: pybreaker.CircuitBreaker,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_outputsize: int = 5000,
        batch_size: int = 8,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        request_deadline: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.breaker = breaker
        self.timeout = (connect_timeout, read_timeout)
        self.request_deadline = request_deadline
        self.max_outputsize = max_outputsize
        # A batch costs one credit per symbol, so it can never be larger than a minute's credits.
        self.batch_size = max(1, min(batch_size, limiter.credits_per_minute))
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["Authorization"] = f"apikey {api_key}"
        self._session.headers["Accept"] = "application/json"
        self.requests_sent = 0

    @classmethod
    def from_settings(
        cls,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TwelveDataClient:
        """A client configured from ``TWELVEDATA_*`` settings, limiter and breaker in Redis."""
        return cls(
            base_url=settings.TWELVEDATA_BASE_URL,
            api_key=settings.TWELVEDATA_API_KEY,
            limiter=credit_limiter(clock=clock, sleep=sleep),
            breaker=get_breaker(),
            connect_timeout=settings.TWELVEDATA_CONNECT_TIMEOUT,
            read_timeout=settings.TWELVEDATA_READ_TIMEOUT,
            max_outputsize=settings.TWELVEDATA_MAX_OUTPUTSIZE,
            batch_size=settings.TWELVEDATA_BATCH_SIZE,
            max_retries=settings.TWELVEDATA_MAX_RETRIES,
            backoff_seconds=settings.TWELVEDATA_BACKOFF_SECONDS,
            backoff_max_seconds=settings.TWELVEDATA_BACKOFF_MAX_SECONDS,
            request_deadline=settings.TWELVEDATA_REQUEST_DEADLINE,
            sleep=sleep,
        )

    # ----------------------------------------------------------------------------- public

    def time_series(
        self, symbols: Sequence[str], *, start: dt.date, end: dt.date, utc: bool = False
    ) -> dict[str, SymbolResult]:
        """Daily bars of every symbol from ``start`` to ``end`` inclusive.

        Returns one result per requested symbol: a :class:`SymbolSeries` (possibly empty) or a
        :class:`SymbolError`. ``utc=True`` (FX pairs) asks for bars dated in UTC. Raises
        :class:`TwelveDataUnavailable`, :class:`TwelveDataDailyLimitExhausted` or
        :class:`TwelveDataAuthError` when no symbol can be served.
        """
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        symbols = list(dict.fromkeys(symbols))
        bars: dict[str, list[Any]] = {symbol: [] for symbol in symbols}
        failures: dict[str, SymbolError] = {}
        timezones: dict[str, str | None] = {}
        for page_start, page_end in self._pages(start, end):
            pending = [symbol for symbol in symbols if symbol not in failures]
            for offset in range(0, len(pending), self.batch_size):
                chunk = pending[offset : offset + self.batch_size]
                for symbol, result in self._fetch(chunk, page_start, page_end, utc).items():
                    if isinstance(result, SymbolError):
                        failures[symbol] = result
                    else:
                        bars[symbol].extend(result.bars)
                        timezones.setdefault(symbol, result.exchange_timezone)
        results: dict[str, SymbolResult] = {}
        for symbol in symbols:
            if symbol in failures:
                results[symbol] = failures[symbol]
            else:
                results[symbol] = SymbolSeries(
                    symbol=symbol,
                    bars=normalise_bars(bars[symbol], start=start, end=end),
                    exchange_timezone=timezones.get(symbol),
                )
        return results

    def splits(self, symbol: str, *, today: dt.date) -> tuple[VendorSplit, ...] | SymbolError:
        """Every split of ``symbol`` effective on or before ``today`` (``range=full``; 20
        credits). Raises like :meth:`time_series` when the vendor cannot be reached."""
        body = self._get_one("/splits", symbol, {"range": "full"}, CORPORATE_ACTION_CREDITS)
        return body if isinstance(body, SymbolError) else parse_splits(symbol, body, today=today)

    def dividends(self, symbol: str, *, today: dt.date) -> tuple[VendorDividend, ...] | SymbolError:
        """Every cash dividend of ``symbol`` with an ex-date on or before ``today``
        (``range=full``; 20 credits); amounts as the vendor serves them."""
        # adjust=false: amounts as paid (the default, true, is undocumented and may be
        # split-adjusted as of the request; stored amounts are on the ex-date's basis).
        params = {"range": "full", "adjust": "false"}
        body = self._get_one("/dividends", symbol, params, CORPORATE_ACTION_CREDITS)
        if isinstance(body, SymbolError):
            return body
        return parse_dividends(symbol, body, today=today)

    def market_caps(
        self, symbol: str, *, start: dt.date, end: dt.date
    ) -> tuple[VendorMarketCap, ...] | SymbolError:
        """Daily market caps of ``symbol`` from ``start`` to ``end`` inclusive, ascending
        (``/market_cap``, 5 credits per page of ``MARKET_CAP_PAGE_SIZE`` rows; Ultra plans)."""
        rows: dict[dt.date, VendorMarketCap] = {}
        for page in range(1, MAX_MARKET_CAP_PAGES + 1):
            params = {
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "outputsize": str(MARKET_CAP_PAGE_SIZE),
                "page": str(page),
            }
            body = self._get_one("/market_cap", symbol, params, MARKET_CAP_CREDITS)
            parsed = body if isinstance(body, SymbolError) else parse_market_caps(symbol, body)
            if isinstance(parsed, SymbolError):
                return parsed
            rows.update((cap.as_of, cap) for cap in parsed if start <= cap.as_of <= end)
            if len(parsed) < MARKET_CAP_PAGE_SIZE:
                break
        return tuple(rows[date] for date in sorted(rows))

    def _get_one(
        self, path: str, symbol: str, params: dict[str, str], credits: int
    ) -> Any | SymbolError:
        """The decoded body of one single-symbol request, or the symbol's error."""
        answer = self._request({"symbol": symbol, **params}, credits=credits, path=path)
        if answer.body is None:
            return SymbolError(symbol=symbol, kind="payload", message="response body is not JSON")
        error = parse_error(answer.body)
        if error is not None:
            return error_result(symbol, error)
        return answer.body

    # ----------------------------------------------------------------------------- paging

    def _pages(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
        # At most one daily bar per calendar day, so a page of max_outputsize days can never
        # exceed the per-request cap.
        span = dt.timedelta(days=self.max_outputsize - 1)
        page_start = start
        while page_start <= end:
            page_end = min(page_start + span, end)
            yield page_start, page_end
            page_start = page_end + dt.timedelta(days=1)

    def _fetch(
        self, symbols: list[str], start: dt.date, end: dt.date, utc: bool
    ) -> dict[str, SymbolResult]:
        params = {
            "symbol": ",".join(symbols),
            "interval": DAILY_INTERVAL,
            "start_date": start.isoformat(),
            # The daily end_date may be exclusive: ask for the day after; extras are dropped.
            "end_date": (end + dt.timedelta(days=1)).isoformat(),
            "outputsize": str(self.max_outputsize),
            "order": "asc",
            "adjust": RAW_PRICES,
        }
        if utc:
            params["timezone"] = "UTC"
        try:
            answer = self._request(params, credits=len(symbols))
            return self._results(symbols, answer)
        except _SplitBatch as split:
            if len(symbols) == 1:
                return {
                    symbols[0]: SymbolError(symbol=symbols[0], kind="payload", message=str(split))
                }
            middle = len(symbols) // 2
            logger.info(
                "splitting twelvedata batch",
                extra={"reason": str(split), "batch_size": len(symbols)},
            )
            return {
                **self._fetch(symbols[:middle], start, end, utc),
                **self._fetch(symbols[middle:], start, end, utc),
            }

    def _results(self, symbols: list[str], answer: _Answer) -> dict[str, SymbolResult]:
        if answer.body is None:
            raise _SplitBatch("response body is not valid JSON")
        error = parse_error(answer.body)
        if error is not None and (len(symbols) > 1 or not _is_symbol_error(error.code)):
            # A request-level error (the batch as a whole, or a non-symbol problem).
            if error.code == 401:
                raise TwelveDataAuthError(error.code, error.message)
            if error.code == 414:
                raise _SplitBatch("request too long (414)")
            return {symbol: error_result(symbol, error) for symbol in symbols}
        try:
            return parse_batch(symbols, answer.body)
        except TypeError as exc:
            raise _SplitBatch(str(exc)) from None

    # ----------------------------------------------------------------------------- HTTP

    def _request(
        self, params: dict[str, str], *, credits: int, path: str = "/time_series"
    ) -> _Answer:
        attempt = 0
        rate_limit_waits = 0
        while True:
            until = self.limiter.daily_block()
            if until is not None:
                raise TwelveDataDailyLimitExhausted(
                    f"daily API credits exhausted; no request before {until.isoformat()}",
                    until=until,
                )
            self.limiter.acquire(credits)
            try:
                return self.breaker.call(self._send, params, path)
            except pybreaker.CircuitBreakerError as exc:
                raise TwelveDataCircuitOpen(f"TwelveData circuit breaker open: {exc}") from exc
            except TwelveDataServerError as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise TwelveDataUnavailable(
                        f"TwelveData failed after {attempt} attempts: {exc}"
                    ) from exc
                delay = self._backoff(attempt)
                logger.warning(
                    "twelvedata request failed; retrying",
                    extra={"attempt": attempt, "delay_s": round(delay, 3), "error": str(exc)},
                )
                self._sleep(delay)
            except TwelveDataRateLimited as exc:
                rate_limit_waits += 1
                if rate_limit_waits > MAX_RATE_LIMIT_WAITS:
                    raise TwelveDataUnavailable(
                        f"still rate limited after {MAX_RATE_LIMIT_WAITS} waits: {exc}"
                    ) from exc
                self.limiter.exhaust_current_minute()
                delay = exc.retry_after or self.limiter.seconds_to_next_minute()
                logger.warning(
                    "twelvedata credits exhausted for the minute; waiting",
                    extra={"delay_s": round(delay, 3)},
                )
                self._sleep(delay)

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """The whole body, or :class:`TwelveDataServerError` once ``deadline`` (monotonic) passes.

        Each read returns what has arrived (``read1``), so a body trickling in a byte at a time
        cannot hold the request open past the deadline by more than one read timeout. The
        connection of an abandoned body is closed, never reused.
        """
        chunks: list[bytes] = []
        try:
            while True:
                if time.monotonic() >= deadline:
                    raise TwelveDataServerError(
                        f"timeout: response not complete within the {self.request_deadline:g} s"
                        " request deadline"
                    )
                chunk = response.raw.read1(BODY_READ_BYTES, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # urllib3 raises its own errors (ReadTimeoutError, ProtocolError) on a raw read.
            raise TwelveDataServerError(f"timeout or broken body: {type(exc).__name__}") from exc

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": uniform in [c/2, c] with c = base·2^(attempt-1), capped, so workers
        # that failed together do not retry together.
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security

    def _send(self, params: dict[str, str], path: str = "/time_series") -> _Answer:
        """One HTTP attempt; raises what the retry loop and the breaker classify."""
        self.requests_sent += 1
        deadline = time.monotonic() + self.request_deadline
        try:
            response = self._session.get(
                f"{self.base_url}{path}", params=params, timeout=self.timeout, stream=True
            )
        except requests.Timeout as exc:
            twelvedata_request_count(status="timeout")
            raise TwelveDataServerError(f"timeout: {type(exc).__name__}") from exc
        except requests.ConnectionError as exc:
            twelvedata_request_count(status="connection_error")
            raise TwelveDataServerError(f"connection error: {type(exc).__name__}") from exc
        with response:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if response.status_code >= 500:
                twelvedata_request_count(status=str(response.status_code))
                raise TwelveDataServerError(
                    f"HTTP {response.status_code}", status=response.status_code
                )
            try:
                content = self._read_body(response, deadline)
            except TwelveDataServerError:
                twelvedata_request_count(status="deadline")
                raise
        twelvedata_request_count(status=str(response.status_code))
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        error = parse_error(body)
        if error is None and response.status_code >= 400:
            # A 4xx without a JSON error body: describe it like the vendor would.
            body = {
                "code": response.status_code,
                "message": f"HTTP {response.status_code}",
                "status": "error",
            }
            error = parse_error(body)
        if error is not None:
            if error.code >= 500:
                raise TwelveDataServerError(
                    f"error {error.code}: {error.message}", status=error.code
                )
            if error.code == 429:
                if error.is_daily_limit:
                    until = self.limiter.block_until_midnight()
                    raise TwelveDataDailyLimitExhausted(error.message, until=until)
                raise TwelveDataRateLimited(error.message, retry_after=retry_after)
            if error.code == 401:
                raise TwelveDataAuthError(error.code, error.message)
        return _Answer(status=response.status_code, body=body, retry_after=retry_after)


def credit_limiter(
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> CreditLimiter:
    """The shared limiter for the plan in the settings (``TWELVEDATA_CREDITS_PER_MINUTE`` and
    ``TWELVEDATA_CREDITS_PER_DAY``), its counters in the strict Redis."""
    return CreditLimiter(
        redis=get_redis_connection("strict"),
        credits_per_minute=settings.TWELVEDATA_CREDITS_PER_MINUTE,
        credits_per_day=settings.TWELVEDATA_CREDITS_PER_DAY,
        key_prefix=caches["strict"].make_key("twelvedata"),
        clock=clock,
        sleep=sleep,
    )


def _is_symbol_error(code: int) -> bool:
    # In a one-symbol request these concern the symbol (unknown, plan-gated, no data).
    return code in (400, 403, 404)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
