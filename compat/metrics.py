"""How much the MVP's ``/api/v1`` is still used, per route (docs/metrics.md, docs/api-v1.md).

``autoindex_api_v1_calls_total{route_group, route, status}`` counts every v1 answer; the
``v1 call`` log line beside it also names the user. A group whose count stops growing can be
switched off (its waffle switch) before its Sunset.
"""

from __future__ import annotations

from prometheus_client import Counter

V1_CALLS = Counter(
    "autoindex_api_v1_calls",
    "Answers of the MVP's /api/v1, by route group, route name and HTTP status.",
    ["route_group", "route", "status"],
)


def v1_call_count(*, group: str, route: str, status: int) -> None:
    """Count one v1 answer."""
    V1_CALLS.labels(route_group=group, route=route, status=str(status)).inc()
