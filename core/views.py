"""Health endpoints for load balancers and orchestrators.

``/health/ready`` answers 503 only when a dependency it needs to serve is down (PostgreSQL,
Redis). Advisories — conditions an operator must hear about that do not stop the service,
such as a stale verified backup — are reported beside them and never change the status code.
They are named in the ``HEALTH_READY_ADVISORIES`` setting (name → dotted path of a function
returning a dict with a ``status``), because core imports no app.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def health_live(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; checks nothing else."""
    return JsonResponse({"status": "ok"})


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


@require_GET
@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Ready to serve: PostgreSQL and Redis answer. 503 with the failing part otherwise.

    ``advisories`` (e.g. ``backup``: ok / stale / none) are informative and never fatal.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:
        logger.warning("readiness: database check failed", exc_info=True)
        checks["database"] = "error"
    try:
        caches["strict"].set("health:ready", "1", timeout=5)
        checks["redis"] = "ok"
    except Exception:
        logger.warning("readiness: redis check failed", exc_info=True)
        checks["redis"] = "error"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "error", "checks": checks, "advisories": _advisories()},
        status=200 if ready else 503,
    )
