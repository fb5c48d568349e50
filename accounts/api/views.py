"""Auth endpoints (v2): token, refresh, logout, me, register; the audit log for admins.

Views only parse input, apply the brute-force limits, call one service and render. Token,
refresh, logout and register take their credential in the body, so they do not run the
Bearer authentication (a stale access token sent along must not block signing in).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AuditEvent
from accounts.permissions import IsAdminRole
from accounts.selectors import audit_event_list
from accounts.services import audit_from_request, login_with_password, user_register
from accounts.tokens import RefreshTokenReusedError, token_refresh, token_revoke
from core.errors import ApplicationError
from core.openapi import problem_responses
from core.pagination import CataloguePagination
from core.throttling import BruteForceLimit, BruteForceLimited, brute_force_check, client_ip

from .filters import AuditEventFilter
from .serializers import (
    AuditEventOutputSerializer,
    MeOutputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenObtainInputSerializer,
    TokenPairOutputSerializer,
)

TAG = "auth"
EXAMPLE_PAIR = {
    "token_type": "Bearer",
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl",
    "access_expires_at": "2026-01-05T10:15:00Z",
    "refresh_expires_at": "2026-01-12T10:00:00Z",
    "session_expires_at": "2026-02-04T10:00:00Z",
}


class RegistrationClosedError(ApplicationError):
    code = "registration-closed"
    status_code = status.HTTP_403_FORBIDDEN
    title = "Registration is closed"


def _guard(request: Request, *, group: str, email: str, per_ip: str, per_email: str) -> None:
    """Count the attempt per client IP and per e-mail; audit the first refusal of a window."""
    try:
        brute_force_check(
            request,
            group=group,
            limits=[
                BruteForceLimit("ip", per_ip, client_ip(request)),
                BruteForceLimit("email", per_email, email.strip().lower()),
            ],
        )
    except BruteForceLimited as limited:
        if limited.first_block:
            audit_from_request(
                request,
                action=AuditEvent.Action.RATE_LIMITED,
                actor_email=email.strip().lower()[:254],
                details={"endpoint": group, "limit": limited.limit},
            )
        raise


class TokenObtainView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
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
            OpenApiExample("tokens", value=EXAMPLE_PAIR, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"]
        _guard(
            request,
            group="auth-token",
            email=email,
            per_ip=settings.AUTH_LOGIN_RATE_PER_IP,
            per_email=settings.AUTH_LOGIN_RATE_PER_EMAIL,
        )
        _, pair = login_with_password(
            request=request, email=email, password=data.validated_data["password"]
        )
        return Response(TokenPairOutputSerializer(pair).data)


class TokenRefreshView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=[TAG],
        summary="Rotate a refresh token → new access and refresh tokens",
        description=(
            "The submitted refresh token is blacklisted. Presenting it again is treated as "
            "theft: every session of the user is revoked and the reuse is audited (401). "
            "No refresh extends a session past `session_expires_at`."
        ),
        request=RefreshInputSerializer,
        responses={200: TokenPairOutputSerializer, **problem_responses(401)},
        examples=[
            OpenApiExample("tokens", value=EXAMPLE_PAIR, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            _, pair = token_refresh(raw=data.validated_data["refresh"])
        except RefreshTokenReusedError as reuse:
            audit_from_request(
                request,
                action=AuditEvent.Action.TOKEN_REUSE,
                actor=reuse.user,
                details={"jti": reuse.jti, "sessions_revoked": reuse.revoked},
            )
            raise
        return Response(TokenPairOutputSerializer(pair).data)


class LogoutView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=[TAG],
        summary="Sign out: blacklist a refresh token",
        description=(
            "The refresh token is the credential. Idempotent. Access tokens are not stored "
            "and stay valid until they expire (15 minutes at most)."
        ),
        request=RefreshInputSerializer,
        responses={204: None, **problem_responses(401)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = token_revoke(raw=data.validated_data["refresh"])
        audit_from_request(request, action=AuditEvent.Action.LOGOUT, actor=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
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
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(MeOutputSerializer(request.user).data)


class RegisterView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
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
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not settings.REGISTRATION_OPEN:
            raise RegistrationClosedError("Self-service registration is not available.")
        raw_email = request.data.get("email") if isinstance(request.data, dict) else None
        _guard(
            request,
            group="auth-register",
            email=raw_email if isinstance(raw_email, str) else "",
            per_ip=settings.AUTH_REGISTER_RATE_PER_IP,
            per_email=settings.AUTH_REGISTER_RATE_PER_EMAIL,
        )
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        audit_from_request(request, action=AuditEvent.Action.REGISTERED, actor=user, target=user)
        return Response(MeOutputSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["audit"],
    summary="Audit log (admin): who did what, when, from where",
    responses={200: AuditEventOutputSerializer(many=True)},
)
class AuditEventListView(generics.ListAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = AuditEventOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = AuditEventFilter

    def get_queryset(self) -> Any:
        return audit_event_list()
