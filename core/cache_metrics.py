"""django-redis counting cache gets, hits, misses and failures, with its counters bound once.

The same series as ``django_prometheus.cache.backends.redis.RedisCache`` (the library's
counters: ``django_cache_get_total``, ``django_cache_get_hits_total``,
``django_cache_get_misses_total``, ``django_cache_get_fail_total``, label ``backend="redis"``;
docs/metrics.md) and the same behaviour: a connection failure is counted, then ignored or
raised as the cache's ``IGNORE_EXCEPTIONS`` says. What differs is the cost: the library looks
each labelled child up with ``Counter.labels(backend=…)`` (validating, sorting and locking) on
every get, twice; here the four children are looked up once, when the module loads. A cached
published read makes three cache gets, so this is six lookups per request less.
"""

from __future__ import annotations

from typing import Any

from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from django_redis import cache, exceptions

BACKEND_LABEL = "redis"  # as the library's backend labels it

_gets = django_cache_get_total.labels(backend=BACKEND_LABEL)
_hits = django_cache_hits_total.labels(backend=BACKEND_LABEL)
_misses = django_cache_misses_total.labels(backend=BACKEND_LABEL)
_failures = django_cache_get_fail_total.labels(backend=BACKEND_LABEL)


class RedisCache(cache.RedisCache):
    """django-redis's cache, its gets counted (module docstring)."""

    @cache.omit_exception
    def get(self, key: Any, default: Any = None, version: Any = None, client: Any = None) -> Any:
        _gets.inc()
        try:
            cached = self.client.get(key, default=None, version=version, client=client)
        except exceptions.ConnectionInterrupted as error:
            _failures.inc()
            if self._ignore_exceptions:
                if self._log_ignored_exceptions:
                    self.logger.error(str(error))
                return default
            raise
        if cached is None:
            _misses.inc()
            return default
        _hits.inc()
        return cached
