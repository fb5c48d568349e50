"""Per-role API throttle: one rate for anonymous callers, one per role (``DEFAULT_THROTTLE_RATES``).

Counts per user id (per client IP when anonymous) on the fail-open cache; see
``core.throttling`` for why API throttles fail open and brute-force limits do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request

from core.throttling import CountingRateThrottle, FailOpenThrottleMixin

from .roles import Role, user_role

if TYPE_CHECKING:
    from rest_framework.views import APIView

ANON_SCOPE = "anon"


class RoleRateThrottle(FailOpenThrottleMixin, CountingRateThrottle):
    scope: str | None = None

    def _scope_for(self, request: Request) -> str:
        user = request.user
        if not (user and user.is_authenticated):
            return ANON_SCOPE
        # A signed-in user without a role is throttled like a viewer.
        return (user_role(user) or Role.VIEWER).value

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = self._scope_for(request)
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
