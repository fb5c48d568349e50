"""Health endpoints for load balancers and orchestrators (docs/operations-monitoring.md).

``/health/live`` checks nothing but the process. ``/health/ready`` reports every check as
``ok``, ``degraded`` or ``down`` and answers 503 only when the app cannot serve: PostgreSQL is
down. Redis or the broker down (job triggers refused, the default cache fails soft), a missing
worker or beat heartbeat, stale prices, an old published run or an open vendor breaker are
``degraded`` readiness at 200 — the app still serves what it has, and taking it out of a load
balancer would only turn a degradation into an outage.

Core imports no app: the app checks are named in ``HEALTH_READY_CHECKS`` (name → dotted path
of a function returning a dict with a ``status`` of ok / degraded / down and its figures) and
run only while the database answers (most read it; a dead database would make each wait on
the pool), and so do the advisories. A check marked ``@needs("redis")`` (``core.health``) is
``degraded`` without being called while Redis is down; a check that raises is ``degraded``.
Advisories (``HEALTH_READY_ADVISORIES``, e.g. a stale verified backup) are informative only
and never change the status or the code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import needs_of

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def health_live(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; checks nothing else."""
    return JsonResponse({"status": "ok"})


OK, DEGRADED, DOWN = "ok", "degraded", "down"


def _advisories() -> dict[str, Any]:
    """Each configured advisory's answer; ``{"status": "error"}`` for one that fails."""
    answers: dict[str, Any] = {}
    for name, path in getattr(settings, "HEALTH_READY_ADVISORIES", {}).items():
        try:
            answers[name] = import_string(path)()
        except Exception:
            logger.warning("readiness: advisory %s failed", name, exc_info=True)
            answers[name] = {"status": "error"}
    return answers


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    caches["strict"].set("health:ready", "1", timeout=5)


def _broker() -> None:
    """One connection to the broker, bounded like a task send (``CELERY_SEND_TIMEOUT``)."""
    with current_app.connection_for_write() as broker:
        broker.ensure_connection(
            max_retries=1, interval_start=0, timeout=settings.CELERY_SEND_TIMEOUT
        )


def _probe(name: str, probe: Callable[[], None]) -> str:
    try:
        probe()
    except Exception:
        logger.warning("readiness: %s check failed", name, exc_info=True)
        return DOWN
    return OK


def _app_check(name: str, path: str, probes: dict[str, str]) -> dict[str, Any]:
    try:
        check = import_string(path)
        missing = [need for need in needs_of(check) if probes.get(need) != OK]
        if missing:
            return {"status": DEGRADED, "reason": f"{', '.join(missing)} down"}
        answer = dict(check())
    except Exception:
        logger.warning("readiness: check %s failed", name, exc_info=True)
        return {"status": DEGRADED, "error": "the check failed"}
    if answer.get("status") not in (OK, DEGRADED, DOWN):
        answer["status"] = DEGRADED
    return answer


@require_GET
@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Ready to serve: 200 unless PostgreSQL is down (503); every check ok / degraded / down.

    ``checks`` maps each check to its state; ``details`` holds the app checks' figures (ages,
    thresholds, what is stale); ``advisories`` (e.g. ``backup``: ok / stale / none) are
    informative and never fatal. ``status`` is ``down`` with the 503, else ``degraded`` when
    any check is not ``ok``, else ``ok``.
    """
    probes = {
        "database": _probe("database", _database),
        "redis": _probe("redis", _redis),
        "broker": _probe("broker", _broker),
    }
    checks: dict[str, str] = dict(probes)
    details: dict[str, Any] = {}
    advisories: dict[str, Any] = {}
    serving = checks["database"] == OK
    if serving:
        for name, path in getattr(settings, "HEALTH_READY_CHECKS", {}).items():
            details[name] = _app_check(name, path, probes)
            checks[name] = details[name]["status"]
        advisories = _advisories()
    if not serving:
        status = DOWN
    elif any(state != OK for state in checks.values()):
        status = DEGRADED
    else:
        status = OK
    return JsonResponse(
        {"status": status, "checks": checks, "details": details, "advisories": advisories},
        status=200 if serving else 503,
    )
