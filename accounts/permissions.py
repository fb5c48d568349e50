"""DRF permission classes: one role per endpoint (see ``accounts.roles`` for what each means).

An anonymous caller gets 401 (DRF answers ``NotAuthenticated`` when no credentials were sent);
an authenticated caller without the role gets 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .roles import Role, user_has_role


class HasRole(BasePermission):
    required_role: Role = Role.VIEWER
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and user_has_role(request.user, self.required_role))


class IsViewer(HasRole):
    """viewer, analyst or admin."""

    required_role = Role.VIEWER


class IsAnalyst(HasRole):
    """analyst or admin."""

    required_role = Role.ANALYST


class IsAdminRole(HasRole):
    """admin role or superuser."""

    required_role = Role.ADMIN


class ViewerReadsAnalystWrites(BasePermission):
    """Safe methods for viewers and up; every other method for analysts and up."""

    message = HasRole.message

    def has_permission(self, request: Request, view: Any) -> bool:
        role = Role.VIEWER if request.method in SAFE_METHODS else Role.ANALYST
        return bool(request.user and user_has_role(request.user, role))


class IsViewerOrPublicIndexSummary(BasePermission):
    """For the public index summary: anyone may read when ``PUBLIC_INDEX_SUMMARY`` is on,
    otherwise viewers and up."""

    message = HasRole.message

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS and getattr(settings, "PUBLIC_INDEX_SUMMARY", False):
            return True
        return bool(request.user and user_has_role(request.user, Role.VIEWER))
