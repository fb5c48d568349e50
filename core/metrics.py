"""Prometheus metrics: the ``/metrics`` endpoint, who may read it, and the API's own counters.

What is exported (docs/metrics.md lists every series):

- django-prometheus's HTTP, database and cache series and every ``prometheus_client`` metric
  the apps define (counters and histograms updated where things happen: a refresh finishing, a
  vendor request, a computation, a problem response, a throttled request, a Celery task);
- scrape-time series read by the collectors named in ``METRICS_COLLECTORS`` (dotted paths:
  core imports no app). Each runs its own cheap query against PostgreSQL or Redis when
  Prometheus scrapes; one that fails is left out of that scrape (with
  ``autoindex_metrics_collector_up{collector}`` 0 and a warning logged), never the whole page.

Access: a request carrying ``Authorization: Bearer <METRICS_TOKEN>`` (when a token is set), or
one from an address inside ``METRICS_ALLOWED_NETWORKS``, is answered; anyone else gets a 401
(a token is configured) or 403 problem. Production allows no network by default, so the page
is closed until a token or a network is configured.

Processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn workers, Celery prefork children),
every process writes its counters and histograms to files in that folder, and a scrape of any
web worker merges them all (``prometheus_client`` multiprocess mode); the scrape-time series are
read once, by the process answering.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

logger = logging.getLogger(__name__)

# prometheus_client adds the ``_total`` suffix to counter names.
API_PROBLEMS = Counter(
    "autoindex_api_problems",
    "Problem+json responses answered, by problem type (the ErrorCode value) and HTTP status.",
    ["type", "status"],
)
API_THROTTLED = Counter(
    "autoindex_api_throttled",
    "Requests refused by an API throttle (429), by throttle scope (a role or a view scope).",
    ["scope"],
)


def problem_count(*, code: str, status_code: int) -> None:
    """Count one problem response (called where every problem body is built)."""
    API_PROBLEMS.labels(type=str(code), status=str(status_code)).inc()


def throttled_count(*, scope: str | None) -> None:
    """Count one request refused by the throttle of ``scope``."""
    API_THROTTLED.labels(scope=scope or "").inc()


# ------------------------------------------------------------------------ scrape-time series


class ScrapeCollector(Protocol):
    def collect(self) -> Iterable[Any]: ...


class DatabasePoolCollector:
    """psycopg pool of the process answering the scrape, per database alias.

    ``autoindex_db_pool_size`` (connections open), ``_available`` (idle in the pool),
    ``_waiting`` (requests queued for a connection) and ``autoindex_db_pool_errors_total``
    (failed connection attempts plus requests that got no connection, since the pool opened).
    An alias without a pool (``DB_POOL_ENABLED`` false) reports nothing.
    """

    def collect(self) -> Iterator[Any]:
        size = GaugeMetricFamily(
            "autoindex_db_pool_size", "Connections the pool holds open.", labels=["alias"]
        )
        available = GaugeMetricFamily(
            "autoindex_db_pool_available", "Idle connections in the pool.", labels=["alias"]
        )
        waiting = GaugeMetricFamily(
            "autoindex_db_pool_waiting", "Requests waiting for a connection.", labels=["alias"]
        )
        errors = CounterMetricFamily(
            "autoindex_db_pool_errors",
            "Failed connection attempts and connection requests that failed (timeout, error).",
            labels=["alias"],
        )
        for alias in connections:
            pool = getattr(connections[alias], "pool", None)
            if pool is None:
                continue
            stats = pool.get_stats()
            size.add_metric([alias], stats.get("pool_size", 0))
            available.add_metric([alias], stats.get("pool_available", 0))
            waiting.add_metric([alias], stats.get("requests_waiting", 0))
            errors.add_metric(
                [alias], stats.get("connections_errors", 0) + stats.get("requests_errors", 0)
            )
        yield from (size, available, waiting, errors)


class _Guarded:
    """One scrape collector whose failure (a dependency down) leaves only its series out."""

    def __init__(self, name: str, collector: ScrapeCollector) -> None:
        self.name = name
        self.collector = collector
        self.up = True

    def collect(self) -> Iterator[Any]:
        try:
            families = list(self.collector.collect())
        except Exception:
            # Any error: a scrape must still show everything else (and that this part failed).
            logger.warning("metrics collector %s failed", self.name, exc_info=True)
            self.up = False
            return
        self.up = True
        yield from families


class _CollectorHealth:
    def __init__(self, guarded: list[_Guarded]) -> None:
        self.guarded = guarded

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "autoindex_metrics_collector_up",
            "1 when the scrape-time collector answered in this scrape, 0 when it failed.",
            labels=["collector"],
        )
        for guarded in self.guarded:
            up.add_metric([guarded.name], 1.0 if guarded.up else 0.0)
        yield up


@lru_cache(maxsize=4)
def _scrape_collectors(paths: tuple[str, ...]) -> tuple[_Guarded, ...]:
    return tuple(_Guarded(path.rsplit(".", 1)[-1], import_string(path)()) for path in paths)


def metrics_registry() -> CollectorRegistry:
    """What one scrape exports: the process's (or, in multiprocess mode, every process's)
    metrics, then the scrape-time collectors in ``METRICS_COLLECTORS`` order."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    guarded = list(_scrape_collectors(tuple(settings.METRICS_COLLECTORS)))
    for collector in guarded:
        registry.register(collector)
    # Registered last so it reports the outcome of this scrape's collectors.
    registry.register(_CollectorHealth(guarded))
    return registry


# ------------------------------------------------------------------------------------ view


def _client_allowed(request: HttpRequest) -> bool:
    from .throttling import client_ip

    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.METRICS_ALLOWED_NETWORKS]


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _denial(request: HttpRequest) -> JsonResponse | None:
    """The problem answered to a caller that may not read the metrics, or ``None``."""
    # Imported here: core.errors counts every problem through this module.
    from .errors import PROBLEM_CONTENT_TYPE, ErrorCode, problem_body

    expected = settings.METRICS_TOKEN
    presented = _bearer_token(request)
    if expected and presented is not None and hmac.compare_digest(presented, expected):
        return None
    if _client_allowed(request):
        return None
    if expected:
        code = ErrorCode.AUTHENTICATION_FAILED if presented else ErrorCode.NOT_AUTHENTICATED
        status_code, detail = 401, "Send the metrics token: Authorization: Bearer <token>."
    else:
        code, status_code = ErrorCode.PERMISSION_DENIED, 403
        detail = "The metrics are served to the configured networks only."
    body = problem_body(status_code=status_code, code=code, detail=detail, instance=request.path)
    response = JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    if expected:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_GET
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` in Prometheus' text format, for an allowed caller (module docstring);
    404 when ``METRICS_ENABLED`` is false."""
    if not settings.METRICS_ENABLED:
        from .errors import not_found_view

        return not_found_view(request)
    denial = _denial(request)
    if denial is not None:
        return denial
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
