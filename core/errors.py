"""RFC 9457 problem details for every error the service returns.

Domain errors subclass :class:`ApplicationError` with a stable ``code`` (the problem ``type``).
DRF exceptions go through :func:`problem_exception_handler`; Django's 404/500 handlers
(``handler404``/``handler500`` in ``config/urls.py``) answer in the same shape. No stack trace or
SQL reaches a client: unexpected exceptions become a generic 500 and are logged server-side.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.http import http_date
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .metrics import problem_count
from .request_context import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://autoindex.example/problems/"


class ErrorCode(StrEnum):
    """Every problem ``type`` the service answers: ``PROBLEM_TYPE_BASE`` + the code.

    The one catalogue (docs/api.md lists it; a test keeps the two in step). Codes are stable:
    clients switch on them. Framework errors keep DRF's code with ``-`` for ``_``; a domain
    error (:class:`ApplicationError`) names its own.
    """

    # The request itself (400, 401, 403, 404, 405, 406, 415)
    INVALID = "invalid"  # field or parameter errors, listed in ``errors``
    PARSE_ERROR = "parse-error"  # a body that is not valid JSON
    BAD_REQUEST = "bad-request"  # Django refused the request (e.g. a bad Host header)
    NOT_AUTHENTICATED = "not-authenticated"
    AUTHENTICATION_FAILED = "authentication-failed"
    TOKEN_NOT_VALID = "token-not-valid"  # noqa: S105  an expired, revoked or malformed JWT
    BAD_AUTHORIZATION_HEADER = "bad-authorization-header"
    USER_NOT_FOUND = "user-not-found"  # the token's user no longer exists
    USER_INACTIVE = "user-inactive"
    PASSWORD_CHANGED = "password-changed"  # noqa: S105  the token predates a password change
    INVALID_CREDENTIALS = "invalid-credentials"
    REGISTRATION_CLOSED = "registration-closed"
    PERMISSION_DENIED = "permission-denied"
    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    NOT_ACCEPTABLE = "not-acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    PAYLOAD_TOO_LARGE = "payload-too-large"  # 413: a body over DATA_UPLOAD_MAX_MEMORY_SIZE
    API_VERSION_GONE = "api-version-gone"  # 410: /api/v1/
    # The request is well-formed but the state or the data cannot answer it (409, 422)
    APPLICATION_ERROR = "application-error"  # the generic domain error (400)
    CONFLICT = "conflict"
    UNPROCESSABLE = "unprocessable"
    INVALID_SIMULATION_INPUT = "invalid-simulation-input"
    UNKNOWN_CURRENCY = "unknown-currency"
    SIMULATION_OUT_OF_RANGE = "simulation-out-of-range"
    CREDIT_BUDGET_EXCEEDED = "credit-budget-exceeded"  # a refresh over the vendor credit budget
    # 409: kind=total on a published run computed before total-return levels existed
    TOTAL_RETURN_UNAVAILABLE = "total-return-unavailable"
    # Too many requests (429)
    THROTTLED = "throttled"  # a per-role or per-scope throttle
    RATE_LIMITED = "rate-limited"  # the brute-force limits of sign-in and registration
    # The service (500, 503)
    SERVER_ERROR = "server-error"
    SERVICE_UNAVAILABLE = "service-unavailable"
    QUEUE_UNAVAILABLE = "queue-unavailable"  # the broker refused a job; nothing was started
    DATABASE_UNAVAILABLE = "database-unavailable"  # PostgreSQL unreachable or out of connections


# The code an answer of a status gets when its framework code is not in the catalogue (a
# library added one): the client still sees a documented type; the server logs the original.
FALLBACK_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID,
    401: ErrorCode.AUTHENTICATION_FAILED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.THROTTLED,
}


def framework_code(code: object, status_code: int) -> ErrorCode:
    """The catalogue code of a DRF/Django error code: ``not_authenticated`` →
    ``not-authenticated``; one outside the catalogue → the status's fallback (logged)."""
    normalized = str(code).replace("_", "-")
    try:
        return ErrorCode(normalized)
    except ValueError:
        logger.warning("error code not in the catalogue", extra={"code": normalized})
        return FALLBACK_CODES.get(status_code, ErrorCode.SERVER_ERROR)


class ApplicationError(Exception):
    """A domain error a client can act on. ``code`` (from :class:`ErrorCode`, the catalogue) is
    stable and machine-readable."""

    code: ErrorCode = ErrorCode.APPLICATION_ERROR
    status_code: int = status.HTTP_400_BAD_REQUEST
    title = "Request could not be processed"

    def __init__(
        self,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        # Response headers the client needs to act on the error (e.g. ``Retry-After``).
        self.headers = headers or {}


class UnprocessableError(ApplicationError):
    code = ErrorCode.UNPROCESSABLE
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    title = "Request is valid but cannot be processed"


class ConflictError(ApplicationError):
    code = ErrorCode.CONFLICT
    status_code = status.HTTP_409_CONFLICT
    title = "Conflict with the current state"


class RateLimitedError(ApplicationError):
    """Too many attempts; ``Retry-After`` says when the window ends."""

    code = ErrorCode.RATE_LIMITED
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, extra: dict[str, Any] | None = None):
        super().__init__(detail, extra=extra, headers={"Retry-After": str(max(retry_after, 1))})
        self.retry_after = max(retry_after, 1)


class ServiceUnavailableError(ApplicationError):
    """A dependency the request cannot safely go without is down (fail closed)."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    title = "Service temporarily unavailable"

    def __init__(self, detail: str, *, retry_after: int = 30) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


# REQUEST SIZE AND SHAPE (hostile input: bodies too large, Django's suspicious requests)


class PayloadTooLarge(exceptions.APIException):
    """413: the body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (``core.parsers`` for API
    bodies; Django's ``RequestDataTooBig`` anywhere else)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self) -> None:
        super().__init__(
            f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            self.default_code,
        )


class SuspiciousRequest(exceptions.APIException):
    """400: Django refused the request (``SuspiciousOperation``) while a DRF view read it."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request could not be understood."


def _suspicious_as_api_exception(exc: Exception) -> Exception | None:
    """The API answer to Django's ``SuspiciousOperation`` family (413 for a body too large,
    else 400); ``None`` for any other exception."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):
        return SuspiciousRequest()
    return None


# DATABASE UNAVAILABLE: what a query raises when PostgreSQL is down, unreachable, or every
# pooled connection is busy for longer than DB_POOL_TIMEOUT (Django wraps psycopg's errors,
# ``PoolTimeout`` included, in its own ``OperationalError``/``InterfaceError``).
DATABASE_UNAVAILABLE_ERRORS = (DatabaseOperationalError, DatabaseInterfaceError, PoolTimeout)
DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableError(ServiceUnavailableError):
    """PostgreSQL could not answer in time: 503 ``database-unavailable`` with ``Retry-After``.

    Raised for the client in place of the driver's error (never a raw 500): by the DRF
    exception handler for API views, by ``server_error_view`` for everything else.
    """

    code = ErrorCode.DATABASE_UNAVAILABLE
    title = "Database temporarily unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database is unavailable. Try again shortly.",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )


def database_unavailable(error: BaseException | None) -> DatabaseUnavailableError | None:
    """The client's error for ``error`` when it says the database is unavailable, else None.

    Logged as a warning with the driver's message (the client sees none of it).
    """
    if not isinstance(error, DATABASE_UNAVAILABLE_ERRORS):
        return None
    logger.warning("database unavailable: %s", type(error).__name__, exc_info=error)
    return DatabaseUnavailableError()


def problem_body(
    *,
    status_code: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail or "",
        "instance": instance,
        "request_id": current_request_id(),
    }
    body.update(extra)
    problem_count(code=code, status_code=status_code)
    return body


def _field_errors(detail: Any, pointer: str = "#") -> list[dict[str, str]]:
    """Flatten DRF's nested error detail into RFC 9457 ``errors`` with JSON pointers."""
    if isinstance(detail, dict):
        return [
            error
            for key, value in detail.items()
            for error in _field_errors(value, f"{pointer}/{key}")
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"detail": str(item), "pointer": pointer} for item in detail]
        return [
            error
            for index, item in enumerate(detail)
            for error in _field_errors(item, f"{pointer}/{index}")
        ]
    return [{"detail": str(detail), "pointer": pointer}]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF ``EXCEPTION_HANDLER``: every error becomes problem+json; 5xx never leak details."""
    exc = database_unavailable(exc) or exc
    request = context.get("request")
    if request is not None:
        # Errors are JSON whatever the view renders on success (e.g. the YAML schema view).
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = PROBLEM_CONTENT_TYPE
    instance = request.path if request is not None else None
    exc = _as_api_exception(exc)
    if isinstance(exc, ApplicationError):
        return _application_problem(exc, instance)

    # Imported here: throttle classes (imported while rest_framework.views loads) import this
    # module, so a module-level import of rest_framework.views would be circular.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error", extra={"path": instance})
        body = problem_body(
            status_code=500,
            code=ErrorCode.SERVER_ERROR,
            detail="An unexpected error occurred. Quote the request id when reporting it.",
            instance=instance,
        )
        return _problem_response(body, 500)
    assert isinstance(exc, exceptions.APIException)  # noqa: S101 - DRF handled it, so it is one
    return _api_problem(exc, response, instance)


def _as_api_exception(exc: Exception) -> Exception:
    """The DRF exception answered for Django's own ``ValidationError``, ``Http404`` and
    ``PermissionDenied``; any other exception unchanged.

    DRF maps the last two itself, but to a new object; mapping them here means the problem is
    built from the exception actually answered. This is the one place Django validation errors
    become API errors: services raise them (``full_clean``) and views let them through.
    """
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=_django_validation_detail(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    suspicious = _suspicious_as_api_exception(exc)
    if suspicious is not None:
        return suspicious
    return exc


def _django_validation_detail(error: DjangoValidationError) -> dict[str, Any] | list[str]:
    """Django's messages in DRF's shape: per field, with errors across fields (Django's
    ``NON_FIELD_ERRORS``, ``__all__``) under DRF's key (``non_field_errors``) as serializers
    report them."""
    if not hasattr(error, "error_dict"):
        return error.messages
    errors: dict[str, Any] = dict(error.message_dict)
    if NON_FIELD_ERRORS in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
    return errors


def _application_problem(exc: ApplicationError, instance: str | None) -> Response:
    body = problem_body(
        status_code=exc.status_code,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=instance,
        **exc.extra,
    )
    problem = _problem_response(body, exc.status_code)
    for header, value in exc.headers.items():
        problem[header] = value
    return problem


def _api_problem(
    exc: exceptions.APIException, response: Response, instance: str | None
) -> Response:
    """The problem for an exception DRF answered with ``response`` (its status and the headers
    a client needs: ``Retry-After``, ``WWW-Authenticate``, ``Allow``)."""
    extra: dict[str, Any] = {}
    detail: str
    if isinstance(exc, exceptions.ValidationError):
        detail = "The request has invalid fields."
        extra["errors"] = _field_errors(exc.detail)
    elif isinstance(exc.detail, dict | list):
        detail = str(exc.default_detail)
    else:
        detail = str(exc.detail)
    code = exc.get_codes() if not isinstance(exc.detail, dict | list) else exc.default_code
    body = problem_body(
        status_code=response.status_code,
        code=framework_code(code, response.status_code),
        detail=detail,
        instance=instance,
        **extra,
    )
    problem = _problem_response(body, response.status_code)
    for header in ("Retry-After", "WWW-Authenticate", "Allow"):
        if header in response:
            problem[header] = response[header]
    return problem


def _problem_response(body: dict[str, Any], status_code: int) -> Response:
    return Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def _django_problem(
    request: HttpRequest, status_code: int, code: ErrorCode, detail: str
) -> JsonResponse:
    body = problem_body(status_code=status_code, code=code, detail=detail, instance=request.path)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 404, ErrorCode.NOT_FOUND, "No resource at this address.")


def server_error_view(request: HttpRequest) -> JsonResponse:
    """``handler500``: called by Django while it handles the exception (a non-DRF view's or a
    middleware's), so ``sys.exc_info()`` names it; a database outage answers 503 instead."""
    unavailable = database_unavailable(sys.exc_info()[1])
    if unavailable is not None:
        response = _django_problem(request, 503, unavailable.code, unavailable.detail)
        for header, value in unavailable.headers.items():
            response[header] = value
        return response
    return _django_problem(
        request, 500, ErrorCode.SERVER_ERROR, "An unexpected error occurred. Quote the request id."
    )


def permission_denied_view(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return _django_problem(request, 403, ErrorCode.PERMISSION_DENIED, "You may not do this.")


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler400``: Django's refusals outside DRF; a body too large is a 413."""
    if isinstance(exception, RequestDataTooBig):
        return _django_problem(
            request,
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
        )
    return _django_problem(
        request, 400, ErrorCode.BAD_REQUEST, "The request could not be understood."
    )


__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "ApplicationError",
    "ConflictError",
    "DatabaseUnavailableError",
    "Http404",
    "PermissionDenied",
    "RateLimitedError",
    "ServiceUnavailableError",
    "UnprocessableError",
    "problem_exception_handler",
]


def api_v1_gone_view(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """``/api/v1/…``: reserved for the MVP's clients; answers 410 until compatibility lands.

    ``Deprecation`` (RFC 9745, the moment v1 was deprecated), ``Sunset`` (RFC 8594, when it
    stops for good: ``API_V1_SUNSET``) and a ``Link`` to the successor version.
    """
    response = _django_problem(
        request, 410, ErrorCode.API_VERSION_GONE, "API v1 is not served. Use /api/v2/."
    )
    deprecated_at = datetime.fromisoformat(settings.API_V1_DEPRECATED_AT)
    sunset = datetime.fromisoformat(settings.API_V1_SUNSET)
    response["Deprecation"] = f"@{int(deprecated_at.timestamp())}"
    response["Sunset"] = http_date(sunset.timestamp())
    response["Link"] = '</api/v2/>; rel="successor-version"'
    return response
