"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

import logging

from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def health_live(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; checks nothing else."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def health_ready(request: HttpRequest) -> JsonResponse:
    """Ready to serve: PostgreSQL and Redis answer. 503 with the failing part otherwise."""
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
        {"status": "ok" if ready else "error", "checks": checks}, status=200 if ready else 503
    )
