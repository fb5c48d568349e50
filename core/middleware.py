"""Request-id middleware (accept a well-formed ``X-Request-ID`` or generate one, echo it back)
and the Content-Security-Policy middleware."""

from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .request_context import (
    REQUEST_ID_HEADER,
    accept_or_generate,
    client_ip_var,
    request_id_var,
)
from .throttling import client_ip


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_or_generate(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Cleared on ``request_finished`` (core.apps), not here: Django logs 4xx/5xx responses
        # after the middleware chain has returned, and those lines need the id too.
        request_id_var.set(request_id)
        client_ip_var.set(client_ip(request))
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp with per-path additions (``CONTENT_SECURITY_POLICY_PATH_UPDATES``).

    The base policy (``CONTENT_SECURITY_POLICY``) is strict; a few HTML pages need a little
    more (the admin and Swagger UI ship inline ``<style>`` blocks). Additions are keyed by
    path prefix and merged like ``@csp_update``; a view's own decorator still wins.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only or parts.update is not None:
            return parts
        updates: dict[str, dict[str, list[str]]] = getattr(
            settings, "CONTENT_SECURITY_POLICY_PATH_UPDATES", {}
        )
        for prefix, update in updates.items():
            if request.path_info.startswith(prefix):
                parts.update = update
                break
        return parts
