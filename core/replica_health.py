"""Readiness check of the read replica (``HEALTH_READY_CHECKS["database_replica"]``).

Registered only when ``DATABASE_REPLICA_URL`` is set. It probes the replica afresh (one
connection, one query: ``core.replica.LAG_QUERY``) and answers ``ok`` while reads may use it, or
``degraded`` when it is down or lagging beyond ``DATABASE_REPLICA_MAX_LAG_SECONDS`` — never
``down``: reads then fall back to the primary, so the app still serves everything, and taking
it out of the load balancer would only turn a degradation into an outage.
"""

from __future__ import annotations

from typing import Any

from core.replica import DOWN, replica_configured, replica_probe


def replica_lag() -> dict[str, Any]:
    """``ok`` with the lag and its threshold, or ``degraded`` saying why reads use the primary."""
    if not replica_configured():
        return {"status": "ok", "configured": False}
    state = replica_probe()
    answer: dict[str, Any] = {
        "status": "ok" if state.usable else "degraded",
        "lag_seconds": None if state.lag_seconds is None else round(state.lag_seconds, 3),
        "max_lag_seconds": state.max_lag_seconds,
    }
    reason = state.fallback_reason
    if reason is not None:
        what = "does not answer" if reason == DOWN else "lags behind the primary"
        answer["reason"] = f"{reason}: the replica {what}, reads use the primary"
    return answer
