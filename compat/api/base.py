"""The base of every served ``/api/v1`` view: MVP error shapes, switches, headers, counting.

:class:`V1APIView` is a DRF view of the v2 stack (our JWTs, role permissions, throttles) that
answers like the MVP:

- errors are ``{"detail": "<string>"}`` (``application/json``) with the MVP's status codes:
  401 ``Not authenticated`` (no token) / ``Invalid token``; 403 for a role that may not do it;
  404/400 with the route's own message; 405 ``Method Not Allowed``; 422 for invalid input, with
  ``detail`` a list of ``{"loc", "msg", "type"}`` as the MVP's pydantic errors; 429
  ``Rate limit exceeded. Please try again later.`` (plus ``Retry-After``); 500 ``Internal
  server error`` (never a trace); 503 when the database or the broker is unavailable;
- a switched-off route group (:mod:`compat.switches`) and a retired feature answer 410
  problem+json (:class:`V1Gone`) naming the retirement and the successor;
- every answer carries ``Deprecation``/``Sunset``/``Link`` and is counted once
  (:mod:`compat.headers`).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, NoReturn

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsViewer
from compat.switches import RouteGroup, group_is_served
from core.errors import (
    PROBLEM_CONTENT_TYPE,
    ApplicationError,
    ErrorCode,
    database_unavailable,
    problem_body,
)

from .headers import deprecation_headers, v1_call_log

logger = logging.getLogger(__name__)

NOT_AUTHENTICATED = "Not authenticated"
INVALID_TOKEN = "Invalid token"  # noqa: S105 - a message, not a secret
RATE_LIMITED = "Rate limit exceeded. Please try again later."
SERVER_ERROR = "Internal server error"


class V1Error(Exception):
    """An MVP-shaped error: ``{"detail": detail}`` with ``status_code``.

    ``detail`` is a string, except for 422 where it is the MVP's list of field errors.
    """

    def __init__(
        self, status_code: int, detail: Any, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}


class V1Gone(Exception):
    """410 problem+json: a retired feature or a switched-off route group.

    ``retired`` names what was retired (``news``, ``route-group:auth``, …) and ``successor``
    the v2 route that replaces it (``None`` when nothing does).
    """

    def __init__(self, detail: str, *, retired: str, successor: str | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retired = retired
        self.successor = successor


def gone_response(exc: V1Gone, *, instance: str) -> Response:
    body = problem_body(
        status_code=410,
        code=ErrorCode.API_VERSION_GONE,
        title="Retired from API v1",
        detail=exc.detail,
        instance=instance,
        retired=exc.retired,
        successor=exc.successor,
    )
    return Response(body, status=410, content_type=PROBLEM_CONTENT_TYPE)


def validation_detail(detail: Any, location: tuple[str, ...] = ("body",)) -> list[dict[str, Any]]:
    """DRF's nested validation errors as the MVP's (pydantic's) list: ``loc``, ``msg``,
    ``type``."""
    if isinstance(detail, dict):
        return [
            error
            for key, value in detail.items()
            for error in validation_detail(value, (*location, str(key)))
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [_field_error(item, location) for item in detail]
        return [
            error
            for position, item in enumerate(detail)
            for error in validation_detail(item, (*location, str(position)))
        ]
    return [_field_error(detail, location)]


def _field_error(message: Any, location: tuple[str, ...]) -> dict[str, Any]:
    code = getattr(message, "code", None) or "invalid"
    return {"type": str(code), "loc": list(location), "msg": str(message)}


def _django_error(exc: Exception) -> V1Error | None:
    """The answer to Django's own exceptions (``None`` for any other)."""
    if isinstance(exc, Http404):
        return V1Error(404, str(exc) or "Not Found")
    if isinstance(exc, DjangoPermissionDenied):
        return V1Error(403, str(exc) or "Not allowed")
    if isinstance(exc, RequestDataTooBig):
        return V1Error(413, "Request body too large")
    if isinstance(exc, SuspiciousOperation):
        return V1Error(400, "Bad Request")
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return V1Error(422, validation_detail(detail))
    return None


def v1_error_for(exc: Exception) -> V1Error:
    """The MVP-shaped error answered for ``exc`` (anything a v1 view may raise)."""
    if isinstance(exc, V1Error):
        return exc
    # A database outage is a 503 with Retry-After (as on v2); so is a broker refusal
    # (``QueueUnavailableError``, an ApplicationError).
    exc = database_unavailable(exc) or exc
    if isinstance(exc, ApplicationError):
        return V1Error(exc.status_code, exc.detail, headers=exc.headers)
    django_error = _django_error(exc)
    if django_error is not None:
        return django_error
    if isinstance(exc, exceptions.ValidationError):
        location = ("query",) if getattr(exc, "v1_location", "") == "query" else ("body",)
        return V1Error(422, validation_detail(exc.detail, location))
    if isinstance(exc, exceptions.NotAuthenticated):
        return V1Error(401, NOT_AUTHENTICATED)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return V1Error(401, INVALID_TOKEN)
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None)
        headers = {"Retry-After": str(max(int(wait), 1))} if wait is not None else {}
        return V1Error(429, RATE_LIMITED, headers=headers)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return V1Error(405, "Method Not Allowed")
    if isinstance(exc, exceptions.ParseError):
        return V1Error(422, [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}])
    if isinstance(exc, exceptions.APIException):
        return V1Error(exc.status_code, str(exc.detail))
    logger.exception("unhandled error in /api/v1")
    return V1Error(500, SERVER_ERROR)


class V1APIView(APIView):
    """A served v1 route. Subclasses set ``route_group``, ``route_name`` and ``successor``.

    Default permission: any signed-in user with a role (``viewer`` and up; MVP: any user).
    """

    route_group: ClassVar[RouteGroup]
    route_name = ""
    successor: str | None = None
    permission_classes = [IsViewer]
    # Not in the OpenAPI schema (it documents v2); docs/api-v1.md is v1's reference.
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication: a retired group answers 410 whatever the credentials.
        if not group_is_served(self.route_group):
            raise V1Gone(
                f"The /api/v1 {self.route_group.value} routes are retired. "
                f"Use {self.successor or '/api/v2/'}.",
                retired=f"route-group:{self.route_group.value}",
                successor=self.successor,
            )
        super().initial(request, *args, **kwargs)

    def call_group(self) -> str:
        """The route group the call is counted under."""
        return self.route_group.value

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> NoReturn:
        # DRF answers an anonymous caller NotAuthenticated only when an authenticator offers a
        # header; the MVP's "Not authenticated" is the same 401 either way.
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated()
        raise V1Error(403, message or "Not allowed")

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, V1Gone):
            return gone_response(exc, instance=self.request.path)
        error = v1_error_for(exc)
        response = Response({"detail": error.detail}, status=error.status_code)
        for header, value in error.headers.items():
            response[header] = value
        if error.status_code == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        for header, value in deprecation_headers(successor=self.successor).items():
            response[header] = value
        v1_call_log(
            group=self.call_group(),
            route=self.route_name,
            # Only a user already authenticated: reading ``request.user`` here would run the
            # authenticators again (and raise) after a 401 or a 410 before authentication.
            user=getattr(request, "_user", None),
            status=response.status_code,
        )
        return response
