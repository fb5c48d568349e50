"""Retired MVP features: 410 problem+json naming the retirement and the successor, if any.

Retired for good (whatever the switches say): news and sentiment (no provider in v2), the AI
adjustment of the strategy, the cache tools (v2's cache is keyed by published run: nothing to
invalidate), ``test-refresh``, the TwelveData status page and Google
sign-in (it issued tokens for any e-mail without verification).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponseBase
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from core.errors import api_v1_gone_view

from .base import V1APIView, V1Gone
from .headers import v1_call_log


@dataclass(frozen=True)
class Retirement:
    route: str  # the MVP route, as in docs/api-v1.md
    feature: str  # what was retired (the problem's ``retired`` member)
    reason: str
    successor: str | None


class RetiredView(V1APIView):
    """Answers every method of one retired route with 410 (before authentication)."""

    retirement: ClassVar[Retirement]
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        retirement = self.retirement
        then = f" Use {retirement.successor}." if retirement.successor else ""
        raise V1Gone(
            f"{retirement.route} is retired: {retirement.reason}.{then}",
            retired=retirement.feature,
            successor=retirement.successor,
        )

    def call_group(self) -> str:
        return "retired"

    @classmethod
    def of(cls, retirement: Retirement) -> Any:
        """The view function of ``retirement``."""
        view: type[RetiredView] = type(
            "Retired",
            (cls,),
            {
                "retirement": retirement,
                "route_name": retirement.route,
                "successor": retirement.successor,
            },
        )
        return view.as_view()


NEWS = "news and sentiment are not part of AutoIndex (no news provider)"
CACHE = "the cache is keyed by published run, so there is nothing to inspect or invalidate"

RETIREMENTS: dict[str, Retirement] = {
    "auth/google": Retirement(
        "POST /api/v1/auth/google",
        "google-sign-in",
        "it issued tokens for any e-mail without verification",
        "/api/v2/auth/token",
    ),
    "strategy/config/ai-adjust": Retirement(
        "POST /api/v1/strategy/config/ai-adjust",
        "ai-adjust",
        "AI adjustments of the strategy are not supported",
        "/api/v2/strategies/",
    ),
    "diagnostics/cache-invalidate": Retirement(
        "POST /api/v1/diagnostics/cache-invalidate", "cache-tools", CACHE, None
    ),
    "diagnostics/clear-market-cache": Retirement(
        "POST /api/v1/diagnostics/clear-market-cache", "cache-tools", CACHE, None
    ),
    "diagnostics/test-refresh": Retirement(
        "POST /api/v1/diagnostics/test-refresh",
        "test-refresh",
        "refreshes run in workers and report per symbol",
        "/api/v2/jobs/refresh/",
    ),
    "diagnostics/twelvedata-status": Retirement(
        "GET /api/v1/diagnostics/twelvedata-status",
        "twelvedata-status",
        "vendor credits are reported per refresh run",
        "/api/v2/jobs/refresh/",
    ),
}
NEWS_ROUTES = ("search", "trending", "refresh", "stats", "article", "similar", "sentiment")


def unknown_route_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    """Any other path under ``/api/v1``: the catch-all 410 of ``core.errors``, counted."""
    response = api_v1_gone_view(request, *args, **kwargs)
    v1_call_log(group="unknown", route=request.path, user=None, status=response.status_code)
    return response
