"""Auth endpoints (v2): token, refresh, logout, me, register; the audit log for admins.

Views only parse input, apply the brute-force limits, call one service and render; the
services record the audit events (sign-in, refresh reuse, logout, registration, limits). Token,
refresh, logout and register take their credential in the body, so they do not run the
Bearer authentication (a stale access token sent along must not block signing in). The OpenAPI
description of each view is in :mod:`accounts.api.schema`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminRole
from accounts.selectors import audit_event_list
from accounts.services import (
    attempt_limits_apply,
    login_with_password,
    session_logout,
    session_refresh,
    user_register,
)
from core.errors import ApplicationError, ErrorCode
from core.pagination import CataloguePagination
from core.throttling import BruteForceLimit, client_ip

from .filters import AuditEventFilter
from .schema import (
    audit_event_list_schema,
    logout_schema,
    me_schema,
    register_schema,
    token_obtain_schema,
    token_refresh_schema,
)
from .serializers import (
    AuditEventOutputSerializer,
    MeOutputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenObtainInputSerializer,
    TokenPairOutputSerializer,
)


class RegistrationClosedError(ApplicationError):
    code = ErrorCode.REGISTRATION_CLOSED
    status_code = status.HTTP_403_FORBIDDEN
    title = "Registration is closed"


def _guard(request: Request, *, group: str, email: str, per_ip: str, per_email: str) -> None:
    """Count the attempt per client IP and per e-mail (the service audits a refusal)."""
    attempt_limits_apply(
        request=request,
        group=group,
        email=email,
        limits=[
            BruteForceLimit("ip", per_ip, client_ip(request)),
            BruteForceLimit("email", per_email, email.strip().lower()),
        ],
    )


@token_obtain_schema
class TokenObtainView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

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


@token_refresh_schema
class TokenRefreshView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, pair = session_refresh(raw=data.validated_data["refresh"])
        return Response(TokenPairOutputSerializer(pair).data)


@logout_schema
class LogoutView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session_logout(raw=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@me_schema
class MeView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(MeOutputSerializer(request.user).data)


@register_schema
class RegisterView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

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
        return Response(MeOutputSerializer(user).data, status=status.HTTP_201_CREATED)


@audit_event_list_schema
class AuditEventListView(generics.ListAPIView):
    permission_classes = [IsAdminRole]
    serializer_class = AuditEventOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = AuditEventFilter

    def get_queryset(self) -> Any:
        return audit_event_list()
