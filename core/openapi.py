"""OpenAPI building blocks: every error response is documented as ``application/problem+json``.

:class:`ProblemAutoSchema` (the project's ``DEFAULT_SCHEMA_CLASS``) adds the problem responses an
operation can produce to whatever the view declares — 400 when it takes parameters or a body,
401/403 when it needs authentication, 404 for a path parameter or a paginated list, 413 and 415
for a body, 429 when it is throttled, 500 and 503 (a dependency down) always — so a new
endpoint is documented correctly without repeating them. Anything else an endpoint answers
(409, 422, a job's 503 ``queue-unavailable``, or 401 on a public login
endpoint) is declared with :func:`problem_responses` in the ``extend_schema(responses=...)`` of
its app's schema module (``<app>/api/schema.py``), which decorates the view class with
``extend_schema_view`` so the view itself holds no OpenAPI detail.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, ErrorCode

PROBLEM_DESCRIPTIONS: dict[int, tuple[ErrorCode, str]] = {
    # status: (the usual problem code of the catalogue, what it means for this API)
    400: (ErrorCode.INVALID, "The request has invalid fields or parameters; see `errors`."),
    401: (ErrorCode.NOT_AUTHENTICATED, "Missing, expired or invalid credentials."),
    403: (ErrorCode.PERMISSION_DENIED, "Authenticated, but the role does not allow this."),
    404: (ErrorCode.NOT_FOUND, "No such resource (or page / cursor)."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "The method is not allowed on this resource."),
    409: (ErrorCode.CONFLICT, "Conflicts with the current state of the resource."),
    410: (ErrorCode.API_VERSION_GONE, "This API version is no longer served."),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "The body is larger than `DATA_UPLOAD_MAX_MEMORY_SIZE`."),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send `application/json`."),
    422: (ErrorCode.UNPROCESSABLE, "Valid, but cannot be processed in the current state."),
    429: (ErrorCode.THROTTLED, "Too many requests; retry after `Retry-After` seconds."),
    500: (ErrorCode.SERVER_ERROR, "Unexpected error; quote `request_id` when reporting it."),
    503: (
        ErrorCode.SERVICE_UNAVAILABLE,
        "A required dependency is down; retry after `Retry-After`.",
    ),
}


class ProblemFieldErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What is wrong with this field.")
    pointer = serializers.CharField(help_text="JSON pointer to the field, e.g. `#/email`.")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, with the request id and per-field errors."""

    type = serializers.CharField(help_text="URI identifying the problem type (stable).")
    title = serializers.CharField(help_text="Short summary of the problem type.")
    status = serializers.IntegerField(help_text="The HTTP status code.")
    detail = serializers.CharField(allow_blank=True, help_text="What went wrong this time.")
    instance = serializers.CharField(allow_null=True, help_text="The request path.")
    request_id = serializers.CharField(
        allow_null=True, help_text="The X-Request-ID of this request, for support."
    )
    errors = ProblemFieldErrorSerializer(  # type: ignore[assignment]  # a field, not .errors
        many=True, required=False, help_text="Per-field validation errors (400 only)."
    )


def problem_example(status_code: int, *, path: str = "/api/v2/...") -> dict[str, Any]:
    code, detail = PROBLEM_DESCRIPTIONS.get(status_code, ("error", ""))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "instance": path,
        "request_id": "3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
    }
    if status_code == 400:
        body["errors"] = [{"detail": "This field is required.", "pointer": "#/email"}]
    return body


def problem_response(status_code: int, description: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(
        response=ProblemSerializer,
        description=description or PROBLEM_DESCRIPTIONS.get(status_code, ("", ""))[1],
        examples=[
            OpenApiExample(
                f"problem-{status_code}",
                value=problem_example(status_code),
                status_codes=[str(status_code)],
                media_type=PROBLEM_CONTENT_TYPE,
                response_only=True,
            )
        ],
    )


def problem_responses(
    *status_codes: int, **descriptions: str
) -> dict[tuple[int, str], OpenApiResponse]:
    """``@extend_schema(responses={200: Out, **problem_responses(409, 422)})``.

    ``descriptions`` override the default text per status, keyed ``s409="..."``.
    """
    return {
        (code, PROBLEM_CONTENT_TYPE): problem_response(code, descriptions.get(f"s{code}"))
        for code in status_codes
    }


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular schema that documents the problem responses every operation can give."""

    def _implicit_problem_statuses(self) -> set[int]:
        # 503: any operation may meet PostgreSQL (or, for jobs, the queue) down.
        statuses = {500, 503}
        has_body = self.method in {"POST", "PUT", "PATCH"}
        if has_body:
            statuses |= {400, 413, 415}
        if self._get_parameters():
            statuses.add(400)
        if "{" in self.path:
            statuses.add(404)
        if self.method == "GET" and self._is_list_view() and self._get_paginator():
            statuses |= {400, 404}
        permissions = self.view.get_permissions()
        if any(not isinstance(permission, AllowAny) for permission in permissions):
            statuses |= {401, 403}
        if self.view.get_throttles():
            statuses.add(429)
        return statuses

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status_code in sorted(self._implicit_problem_statuses()):
            if str(status_code) in responses:
                continue
            responses[str(status_code)] = self._get_response_for_code(
                problem_response(status_code), str(status_code), [PROBLEM_CONTENT_TYPE], direction
            )
        return dict(sorted(responses.items()))


_BLANK_STRING = {"type": "string", "maxLength": 0}


def blank_text_any_of(result: Any, generator: Any, request: Any, public: Any) -> Any:
    """drf-spectacular postprocessing hook: a text field that allows blank and has a pattern is
    stated as ``oneOf: [the text, a blank string]``. Where the text branch accepts the blank
    string as well (no ``minLength``, a pattern matching ``""``, as ``TEXT_PATTERN`` does), a
    blank value matches both branches and ``oneOf`` (exactly one) would refuse what the field
    accepts; ``anyOf`` states it (a client validating with the schema, and schemathesis, then
    agree with the API)."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            branches = node.get("oneOf")
            if (
                isinstance(branches, list)
                and len(branches) == 2
                and branches[1] == _BLANK_STRING
                and _accepts_blank(branches[0])
            ):
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


def _accepts_blank(schema: Any) -> bool:
    if not isinstance(schema, dict) or schema.get("type") != "string":
        return False
    if schema.get("minLength") or "format" in schema:
        return False
    pattern = schema.get("pattern")
    return pattern is None or re.search(pattern, "") is not None
