"""OpenAPI description of the accounts API (drf-spectacular), kept out of the views.

One ``extend_schema_view`` per view class, applied as its decorator: the ``auth/*`` endpoints
(token, refresh, logout, me, register) and the admins' audit log. Error responses beyond the
implicit ones are declared with :func:`core.openapi.problem_responses`.
"""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view

from core.openapi import problem_responses

from .serializers import (
    AuditEventOutputSerializer,
    MeOutputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenObtainInputSerializer,
    TokenPairOutputSerializer,
)

TAG = "auth"


class CachedUserJWTScheme(SimpleJWTScheme):
    """Our authentication class verifies simplejwt's bearer tokens (the user from a cache):
    the same ``jwtAuth`` security scheme in the schema. Registered by being defined."""

    target_class = "accounts.authentication.CachedUserJWTAuthentication"


EXAMPLE_PAIR = {
    "token_type": "Bearer",
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl",
    "access_expires_at": "2026-01-05T10:15:00Z",
    "refresh_expires_at": "2026-01-12T10:00:00Z",
    "session_expires_at": "2026-02-04T10:00:00Z",
}
_PAIR_EXAMPLE = OpenApiExample(
    "tokens", value=EXAMPLE_PAIR, response_only=True, status_codes=["200"]
)

token_obtain_schema = extend_schema_view(
    post=extend_schema(
        tags=[TAG],
        summary="Sign in: e-mail + password → access and refresh tokens",
        description=(
            "Brute-force limits per client IP and per e-mail answer 429 with `Retry-After`; "
            "when the limiter's store is down the endpoint fails closed with 503."
        ),
        request=TokenObtainInputSerializer,
        responses={
            200: TokenPairOutputSerializer,
            **problem_responses(401, 503, s401="E-mail or password is incorrect."),
        },
        examples=[
            OpenApiExample(
                "credentials",
                value={"email": "analyst@example.com", "password": "correct horse"},
                request_only=True,
            ),
            _PAIR_EXAMPLE,
        ],
    ),
)

token_refresh_schema = extend_schema_view(
    post=extend_schema(
        tags=[TAG],
        summary="Rotate a refresh token → new access and refresh tokens",
        description=(
            "The submitted refresh token is blacklisted. Presenting it again is treated as "
            "theft: every session of the user is revoked and the reuse is audited (401). "
            "No refresh extends a session past `session_expires_at`."
        ),
        request=RefreshInputSerializer,
        responses={200: TokenPairOutputSerializer, **problem_responses(401)},
        examples=[_PAIR_EXAMPLE],
    ),
)

logout_schema = extend_schema_view(
    post=extend_schema(
        tags=[TAG],
        summary="Sign out: blacklist a refresh token",
        description=(
            "The refresh token is the credential. Idempotent. Access tokens are not stored "
            "and stay valid until they expire (15 minutes at most)."
        ),
        request=RefreshInputSerializer,
        responses={204: None, **problem_responses(401)},
    ),
)

me_schema = extend_schema_view(
    get=extend_schema(
        tags=[TAG],
        summary="The signed-in user: profile and roles",
        responses={200: MeOutputSerializer},
        examples=[
            OpenApiExample(
                "analyst",
                value={
                    "id": 7,
                    "email": "analyst@example.com",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "role": "analyst",
                    "roles": ["viewer", "analyst"],
                    "is_staff": False,
                    "date_joined": "2026-01-05T10:00:00Z",
                    "last_login": "2026-01-06T08:30:00Z",
                },
                response_only=True,
            )
        ],
    ),
)

register_schema = extend_schema_view(
    post=extend_schema(
        tags=[TAG],
        summary="Create an account (viewer role) when registration is open",
        description=(
            "Only when `REGISTRATION_OPEN` is on (403 `registration-closed` otherwise). "
            "Django's password validators apply. Rate-limited per IP and per e-mail; fails "
            "closed (503) when the limiter is down. Sign in afterwards with `auth/token`."
        ),
        request=RegisterInputSerializer,
        responses={
            201: MeOutputSerializer,
            **problem_responses(403, 503, s403="Registration is closed."),
        },
        examples=[
            OpenApiExample(
                "new user",
                value={
                    "email": "new.user@example.com",
                    "password": "a long passphrase nobody guesses",
                    "first_name": "New",
                    "last_name": "User",
                },
                request_only=True,
            )
        ],
    ),
)

audit_event_list_schema = extend_schema_view(
    get=extend_schema(
        tags=["audit"],
        summary="Audit log (admin): who did what, when, from where",
        responses={200: AuditEventOutputSerializer(many=True)},
    ),
)
