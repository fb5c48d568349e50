"""Client identity, DRF throttles that fail open, and brute-force limits that fail closed.

Two different promises:

- API throttles (DRF) protect capacity. When Redis is down they let requests through: the
  ``default`` cache alias swallows (and logs) Redis errors, and any error that still escapes is
  logged here. An outage must not take the whole API down with it.
- Brute-force limits (django-ratelimit on the ``strict`` alias, ``RATELIMIT_USE_CACHE``) protect
  credentials. When the counter cannot be read or written the request is refused with 503 and
  ``Retry-After``: a guard that silently switches off is worse than a short outage of login.

The client address comes from ``X-Forwarded-For`` only behind ``TRUSTED_PROXY_COUNT`` proxies
that append to it; anything a client puts in the header itself is ignored, so a spoofed header
cannot move a client to a fresh counter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from .errors import RateLimitedError, ServiceUnavailableError
from .metrics import throttled_count

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, ConnectionInterrupted, OSError)
# How long a client should wait when the brute-force counter store is down.
LIMITER_DOWN_RETRY_AFTER_S = 30


def client_ip(request: HttpRequest | Request) -> str:
    """The address of the client as seen by the first trusted proxy (or directly).

    With ``TRUSTED_PROXY_COUNT = n`` the n-th address from the right of ``X-Forwarded-For`` is
    the one the outermost trusted proxy saw; entries further left are client-supplied and
    ignored. A header with fewer entries than trusted proxies did not come through them, so
    ``REMOTE_ADDR`` is used.
    """
    meta = request.META
    remote_addr = str(meta.get("REMOTE_ADDR") or "unknown")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote_addr
    forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote_addr
    return forwarded[-proxies]


# The sliding-window counter (module docstring of CountingRateThrottle), atomic in Redis:
# KEYS = this window's counter, the previous window's; ARGV = limit, the previous window's
# weight, the counter's lifetime. Answers {allowed, this window's count, the previous one's}.
# A body of statements ending in ``return``: other scripts run it as a Lua function
# (accounts/admission.py).
SLIDING_WINDOW_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current >= tonumber(ARGV[1]) then
  return {0, current, previous}
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, current + 1, previous}
"""
_sliding_window_script: Any = None


class CountingRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle counted with two integers per client instead of a list of request
    times (DRF's ``SimpleRateThrottle`` reads and writes back up to ``num_requests``
    timestamps, pickled, on every request: 600 for a viewer).

    A sliding-window counter: time is cut into windows of the rate's duration; a request is
    allowed when ``previous × (1 − elapsed / duration) + current < num_requests``, where
    ``current`` counts this window's allowed requests, ``previous`` the last window's, and
    ``elapsed`` is the time since this window began — the previous window's requests are taken
    as spread evenly over it. Refused requests are not counted (as DRF). One Redis round trip
    (a Lua script: read both, increment if allowed), atomic across workers. Over any stretch of
    one duration a client gets at most about ``num_requests`` (exactly when its requests were
    even; up to twice in a burst straddling a window edge that a uniform spread would not
    have allowed — the usual bound of this method). ``wait()`` is when the estimate falls
    below the limit. Caches without a Redis client fall back to DRF's list.
    """

    # Set by SimpleRateThrottle from the rate (``parse_rate``); None without a rate.
    num_requests: int | None
    duration: int | None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        redis_client = _redis_client(self.cache)
        if redis_client is None:
            allowed: bool = super().allow_request(request, view)
            return allowed
        self.now = self.timer()
        keys, args = self.sliding_window_call()
        answer = _sliding_window(redis_client)(keys=keys, args=args, client=redis_client)
        return self.counted(answer)

    def sliding_window_call(self) -> tuple[list[str], list[Any]]:
        """The keys and arguments of :data:`SLIDING_WINDOW_LUA` for this request's counter
        at ``self.now`` (``allow_request`` has set the key and the rate)."""
        duration = float(self.duration or 0)
        window = int(self.now // duration)
        self._elapsed = self.now - window * duration
        weight = 1.0 - self._elapsed / duration
        keys = [
            self.cache.make_key(f"{self.key}:{window}"),
            self.cache.make_key(f"{self.key}:{window - 1}"),
        ]
        return keys, [self.num_requests, repr(weight), int(2 * duration) + 1]

    def counted(self, answer: Sequence[Any]) -> bool:
        """Whether the script's answer (``{allowed, current, previous}``) allows the request;
        remembers the counts for :meth:`wait`."""
        allowed_flag, self._current, self._previous = (int(value) for value in answer[:3])
        self._counted = True
        return bool(allowed_flag)

    def wait(self) -> float | None:
        if not getattr(self, "_counted", False) or self.num_requests is None or not self.duration:
            return super().wait()
        return sliding_window_wait(
            limit=self.num_requests,
            duration=float(self.duration),
            elapsed=self._elapsed,
            current=self._current,
            previous=self._previous,
        )


def sliding_window_wait(
    *, limit: int, duration: float, elapsed: float, current: int, previous: int
) -> float:
    """Seconds until ``previous × (1 − elapsed / duration) + current`` is below ``limit``
    (strictly: a moment after the boundary; at least 1 s): within this window when the
    previous window's share can fall far enough, else in the next one, where this window's
    count becomes the decaying ``previous``."""
    if current < limit and previous > 0:
        # previous × (1 − (elapsed + t) / duration) < limit − current
        wait = duration * (1 - (limit - current) / previous) - elapsed
    elif current < limit:
        wait = duration - elapsed
    else:
        # In the next window: current × (1 − t' / duration) < limit.
        wait = duration - elapsed + duration * (1 - limit / current)
    return max(1.0, wait + _PAST_THE_BOUNDARY_S)


_PAST_THE_BOUNDARY_S = 0.001


def _redis_client(cache: Any) -> Any:
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    return get_client(write=True) if get_client is not None else None


def _sliding_window(redis_client: Any) -> Any:
    global _sliding_window_script
    if _sliding_window_script is None:
        _sliding_window_script = redis_client.register_script(SLIDING_WINDOW_LUA)
    return _sliding_window_script


class FailOpenThrottleMixin:
    """Counters on ``API_THROTTLE_CACHE``, one per scope and user id (per client IP when
    anonymous); a cache error lets the request through (logged)."""

    scope: str | None
    cache: Any
    cache_format: str

    def __init__(self) -> None:
        self.cache = caches[getattr(settings, "API_THROTTLE_CACHE", "default")]
        super().__init__()

    def get_ident(self, request: Request) -> str:
        return client_ip(request)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = str(request.user.pk)
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def get_rate(self) -> str | None:
        # Read at call time (DRF reads the rates once at import), so settings overrides apply.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return str(rate) if rate else None

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            allowed: bool = super().allow_request(request, view)  # type: ignore[misc]
        except CACHE_ERRORS:
            logger.warning("throttle cache unavailable; failing open", exc_info=True)
            return True
        if not allowed:
            throttled_count(scope=self.scope)
        return allowed


class FailOpenScopedRateThrottle(FailOpenThrottleMixin, ScopedRateThrottle, CountingRateThrottle):
    """Per-scope throttle (``throttle_scope`` on the view, e.g. ``simulation``), per user or IP.

    ``ScopedRateThrottle`` resolves the scope from the view and its rate through the mixin's
    :meth:`get_rate` on every request; a view without a scope or a scope without a rate is not
    throttled.
    """


@dataclass(frozen=True)
class BruteForceLimit:
    """One counter: ``name`` for logs/audit, ``rate`` like ``"5/15m"``, ``value`` to count by."""

    name: str
    rate: str
    value: str


class BruteForceLimited(RateLimitedError):
    """Raised by :func:`brute_force_check`; ``limit`` names the counter, ``first_block`` is true
    for the first refused attempt of a window (audit that one, not every retry)."""

    def __init__(self, *, limit: str, retry_after: int, first_block: bool) -> None:
        super().__init__("Too many attempts. Try again later.", retry_after=retry_after, extra={})
        self.limit = limit
        self.first_block = first_block


def brute_force_check(
    request: HttpRequest | Request, *, group: str, limits: Sequence[BruteForceLimit]
) -> None:
    """Count this attempt against every limit; raise if one is exceeded or cannot be counted.

    Raises :class:`BruteForceLimited` (429 with ``Retry-After``) or
    :class:`~core.errors.ServiceUnavailableError` (503) when the counter store is down —
    never lets an attempt through uncounted. Counter keys are hashed (no e-mail in Redis).
    """
    django_request = getattr(request, "_request", request)
    for limit in limits:
        try:
            usage = get_usage(
                django_request,
                group=f"{group}:{limit.name}",
                key=lambda _group, _request, value=limit.value: value,
                rate=limit.rate,
                increment=True,
            )
        except CACHE_ERRORS:
            logger.error("brute-force limiter unavailable; refusing", extra={"group": group})
            raise ServiceUnavailableError(
                "Temporarily unavailable: attempts cannot be counted. Try again shortly.",
                retry_after=LIMITER_DOWN_RETRY_AFTER_S,
            ) from None
        if usage is None:  # RATELIMIT_ENABLE=False
            continue
        if usage["limit"] == 0 and usage["time_left"] == -1:
            # django-ratelimit's "could not read the counter" answer (a fail-soft cache).
            logger.error("brute-force limiter unavailable; refusing", extra={"group": group})
            raise ServiceUnavailableError(
                "Temporarily unavailable: attempts cannot be counted. Try again shortly.",
                retry_after=LIMITER_DOWN_RETRY_AFTER_S,
            )
        if usage["should_limit"]:
            raise BruteForceLimited(
                limit=limit.name,
                retry_after=int(usage["time_left"]),
                first_block=usage["count"] == usage["limit"] + 1,
            )
