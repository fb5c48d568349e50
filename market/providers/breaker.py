"""The TwelveData circuit breaker, its state in Redis so that every worker shares it.

Built lazily (``CircuitRedisStorage`` writes to Redis in its constructor, which must not happen
at import time) on the ``strict`` Redis connection: breaker state must not fail open silently.
Client errors (4xx, rate limits, malformed payloads) do not count as failures: only the API
being unreachable or answering 5xx does. Every state change is logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pybreaker
from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection

from .errors import TwelveDataServerError

logger = logging.getLogger(__name__)

BREAKER_NAME = "twelvedata"
_lock = threading.Lock()
_breakers: dict[tuple[str, int, int], pybreaker.CircuitBreaker] = {}


class _StateChangeLogger(pybreaker.CircuitBreakerListener):
    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        level = logging.WARNING if new_state.name == pybreaker.STATE_OPEN else logging.INFO
        logger.log(
            level,
            "twelvedata circuit breaker %s",
            new_state.name,
            extra={
                "breaker": cb.name,
                "old_state": old_state.name if old_state else None,
                "new_state": new_state.name,
                "fail_counter": cb.fail_counter,
            },
        )


def breaker_namespace() -> str:
    """The Redis namespace of the breaker (under the strict cache's key prefix)."""
    return caches["strict"].make_key(f"breaker:{BREAKER_NAME}")


def _counts_as_failure(exc: BaseException) -> bool:
    return isinstance(exc, TwelveDataServerError)


def build_breaker(*, redis: Any, fail_max: int, reset_timeout: int) -> pybreaker.CircuitBreaker:
    """A breaker on ``redis`` (any connection: state is shared through the namespace)."""
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, redis, namespace=breaker_namespace()
    )
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        # pybreaker counts every exception unless excluded: keep only outages.
        exclude=[lambda exc: not _counts_as_failure(exc)],
        listeners=[_StateChangeLogger()],
        state_storage=storage,
        name=BREAKER_NAME,
    )


def get_breaker() -> pybreaker.CircuitBreaker:
    """The process's breaker for the current settings, built on first use."""
    key = (
        breaker_namespace(),
        settings.TWELVEDATA_BREAKER_FAIL_MAX,
        settings.TWELVEDATA_BREAKER_RESET_SECONDS,
    )
    with _lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = build_breaker(
                redis=get_redis_connection("strict"),
                fail_max=key[1],
                reset_timeout=key[2],
            )
            _breakers[key] = breaker
        return breaker
