"""``/api/v1/auth/*``: the MVP's sign-in shapes over v2's accounts services and JWTs.

Login and registration answer ``{"access_token", "token_type": "bearer", "refresh_token",
"expires_in"}``: the access token is our short-lived JWT (usable on v1 and v2 alike),
``expires_in`` its real remaining lifetime in seconds, ``refresh_token`` our rotating refresh
token. The same brute-force limits as v2 apply (same limit groups: v1 gives no extra budget),
every outcome is audited by the services, registration obeys ``REGISTRATION_OPEN`` and v2's
password validators. ``auth/google`` is retired (it issued tokens for any e-mail).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.serializers import RegisterInputSerializer as V2RegisterInputSerializer
from accounts.models import User
from accounts.roles import user_role
from accounts.services import (
    InvalidCredentialsError,
    attempt_limits_apply,
    login_with_password,
    session_logout,
    session_refresh,
    user_register,
)
from accounts.tokens import TokenInvalidError, TokenPair
from compat.switches import RouteGroup
from core.throttling import BruteForceLimit, client_ip

from .base import INVALID_TOKEN, V1APIView, V1Error, validation_detail
from .serializers import LoginInputSerializer, RefreshTokenInputSerializer, RegisterInputSerializer
from .shapes import naive_utc


def token_body(pair: TokenPair) -> dict[str, Any]:
    """The MVP's token answer, plus the refresh token and lifetime its latest client reads."""
    remaining = (pair.access_expires_at - timezone.now()).total_seconds()
    return {
        "access_token": pair.access,
        "token_type": "bearer",
        "refresh_token": pair.refresh,
        "expires_in": max(int(remaining), 0),
    }


def _limit_attempt(
    request: Request, *, group: str, email: str, per_ip: str, per_email: str
) -> None:
    attempt_limits_apply(
        request=request,
        group=group,
        email=email,
        limits=[
            BruteForceLimit("ip", per_ip, client_ip(request)),
            BruteForceLimit("email", per_email, email.strip().lower()),
        ],
    )


def _sign_in(request: Request, *, email: str, password: str) -> Response:
    try:
        _, pair = login_with_password(request=request, email=email, password=password)
    except InvalidCredentialsError:
        raise V1Error(401, "Invalid credentials") from None
    return Response(token_body(pair))


class _AuthView(V1APIView):
    route_group = RouteGroup.AUTH
    # Credentials are in the body: a stale Bearer token sent along must not block signing in.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class LoginView(_AuthView):
    route_name = "auth/login"
    successor = "/api/v2/auth/token"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"]
        _limit_attempt(
            request,
            group="auth-token",
            email=email,
            per_ip=settings.AUTH_LOGIN_RATE_PER_IP,
            per_email=settings.AUTH_LOGIN_RATE_PER_EMAIL,
        )
        return _sign_in(request, email=email, password=data.validated_data["password"])


class RegisterView(_AuthView):
    """Registration signs the new user in (the MVP's client goes to the dashboard next)."""

    route_name = "auth/register"
    successor = "/api/v2/auth/register"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not settings.REGISTRATION_OPEN:
            raise V1Error(403, "Registration is closed")
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"]
        _limit_attempt(
            request,
            group="auth-register",
            email=email,
            per_ip=settings.AUTH_REGISTER_RATE_PER_IP,
            per_email=settings.AUTH_REGISTER_RATE_PER_EMAIL,
        )
        # v2's own input rules (e-mail normalised and unique, Django's password validators).
        v2_body = {"email": email, "password": data.validated_data["password"]}
        if data.validated_data["name"]:
            v2_body["first_name"] = data.validated_data["name"]
        checked = V2RegisterInputSerializer(data=v2_body)
        if not checked.is_valid():
            raise _registration_error(checked.errors)
        user_register(**checked.validated_data)
        return _sign_in(request, email=email, password=data.validated_data["password"])


def _registration_error(errors: Any) -> V1Error:
    """The MVP's answers: 400 for a taken e-mail or a weak password, else the 422 list."""
    if "password" in errors:
        messages = " ".join(str(message) for message in errors["password"])
        return V1Error(400, f"Password does not meet security requirements: {messages}")
    if any("already exists" in str(message) for message in errors.get("email", [])):
        return V1Error(400, "Email already registered")
    return V1Error(422, validation_detail(errors))


class MeView(V1APIView):
    route_group = RouteGroup.AUTH
    route_name = "auth/me"
    successor = "/api/v2/auth/me"
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        assert isinstance(user, User)  # noqa: S101 - IsAuthenticated
        role = user_role(user)
        return Response(
            {
                "id": user.pk,
                "email": user.email,
                # Imported Google users have no usable password (compat.importer).
                "is_google_user": not user.has_usable_password(),
                "created_at": naive_utc(user.date_joined),
                "role": role.value if role else None,
            }
        )


class RefreshView(_AuthView):
    """Rotates the refresh token sent as ``refresh_token`` (or ``refresh``).

    The MVP re-signed the Bearer access token itself; that would let a leaked access token
    extend a session, so it is refused: without a refresh token the answer is 401.
    """

    route_name = "auth/refresh"
    successor = "/api/v2/auth/token/refresh"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        raw = data.raw_token()
        if not raw:
            raise V1Error(401, "A refresh token is required: sign in again")
        try:
            _, pair = session_refresh(raw=raw)
        except TokenInvalidError:
            raise V1Error(401, INVALID_TOKEN) from None
        return Response(token_body(pair))


class LogoutView(_AuthView):
    """Revokes the refresh token when one is sent; always the MVP's message otherwise."""

    route_name = "auth/logout"
    successor = "/api/v2/auth/logout"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        raw = data.raw_token()
        if raw:
            try:
                session_logout(raw=raw)
            except TokenInvalidError:
                raise V1Error(401, INVALID_TOKEN) from None
        return Response({"message": "Successfully logged out"})
