"""The headers every ``/api/v1`` answer carries, and the one log line per v1 call.

- ``Deprecation: @<epoch>`` (RFC 9745): when v1 was deprecated (``API_V1_DEPRECATED_AT``);
- ``Sunset: <HTTP date>`` (RFC 8594): when it stops for good (``API_V1_SUNSET``);
- ``Link: <successor>; rel="successor-version"``: the v2 route that replaces the answered one
  (``/api/v2/`` when there is no closer successor).

The ``v1 call`` log line (logger ``compat.calls``) is how operators see which route groups are
still used before switching one off (docs/api-v1.md, "Sunset plan"): one line per request with
the group, the route name, the user id (``None`` when anonymous) and the status; the metric
``autoindex_api_v1_calls_total`` counts the same answers by group, route and status.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from django.utils.http import http_date

from compat.metrics import v1_call_count

call_logger = logging.getLogger("compat.calls")

DEFAULT_SUCCESSOR = "/api/v2/"


def deprecation_headers(*, successor: str | None = None) -> dict[str, str]:
    """``Deprecation``, ``Sunset`` and ``Link`` for an answer whose v2 successor is
    ``successor`` (a path)."""
    deprecated_at = datetime.fromisoformat(settings.API_V1_DEPRECATED_AT)
    sunset = datetime.fromisoformat(settings.API_V1_SUNSET)
    return {
        "Deprecation": f"@{int(deprecated_at.timestamp())}",
        "Sunset": http_date(sunset.timestamp()),
        "Link": f'<{successor or DEFAULT_SUCCESSOR}>; rel="successor-version"',
    }


def deprecation_headers_apply(response: HttpResponseBase, *, successor: str | None) -> None:
    """Set the three headers on ``response`` (replacing any already there)."""
    for header, value in deprecation_headers(successor=successor).items():
        response[header] = value


def v1_call_log(*, group: str, route: str, user: Any, status: int) -> None:
    """Log one ``v1 call`` (info) with ``route_group``, ``route``, ``user_id`` and ``status``,
    and count it (``autoindex_api_v1_calls_total``, without the user)."""
    v1_call_count(group=group, route=route, status=status)
    user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
    call_logger.info(
        "v1 call",
        extra={"route_group": group, "route": route, "user_id": user_id, "status": status},
    )
