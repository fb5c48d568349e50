"""Request-id middleware: accept a well-formed ``X-Request-ID`` or generate one, echo it back."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .request_context import REQUEST_ID_HEADER, accept_or_generate, request_id_var


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accept_or_generate(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Cleared on ``request_finished`` (core.apps), not here: Django logs 4xx/5xx responses
        # after the middleware chain has returned, and those lines need the id too.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
