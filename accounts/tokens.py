"""JWT issue, rotation and revocation (simplejwt tokens + its blacklist app).

- Access tokens live ``ACCESS_TOKEN_LIFETIME`` (15 min), refresh tokens
  ``REFRESH_TOKEN_LIFETIME`` (7 days). Every refresh rotates: the submitted refresh token is
  blacklisted and a new one issued.
- Rotation alone would renew a session forever, so every token of one login carries the
  absolute end of its chain (``chain_exp`` = login + ``JWT_REFRESH_CHAIN_LIFETIME``, 30 days);
  no token of the chain expires after it, and a refresh after it is refused (ASVS 7.3.2).
- A rotated (blacklisted) refresh token presented again means it leaked or a client is buggy:
  every live refresh token of that user is revoked and the reuse is audited.
- A password change invalidates earlier tokens (``CHECK_REVOKE_TOKEN``).

Tokens are never logged: only their ``jti`` may appear in logs or audit details.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import aware_utcnow, datetime_from_epoch, get_md5_hash_password

from core.errors import ApplicationError, ErrorCode

from .models import User

logger = logging.getLogger(__name__)

CHAIN_EXP_CLAIM = "chain_exp"
WWW_AUTHENTICATE = 'Bearer realm="api"'


class TokenInvalidError(ApplicationError):
    """401: the refresh token is malformed, expired, revoked or not ours."""

    code = ErrorCode.TOKEN_NOT_VALID
    status_code = 401
    title = "Token is invalid or expired"

    def __init__(self, detail: str = "The token is invalid or expired.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


class RefreshTokenReusedError(TokenInvalidError):
    """A rotated refresh token was presented again; the user's sessions were revoked."""

    def __init__(self, *, user: User | None, revoked: int, jti: str) -> None:
        super().__init__("The token is invalid or expired.")
        self.user = user
        self.revoked = revoked
        self.jti = jti


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    chain_expires_at: datetime


def _chain_end(now: datetime) -> int:
    return int((now + settings.JWT_REFRESH_CHAIN_LIFETIME).timestamp())


def token_pair_issue(*, user: User, chain_exp: int | None = None) -> TokenPair:
    """Issue an access + refresh pair for ``user`` and record the refresh as outstanding.

    ``chain_exp`` (epoch seconds) is the absolute end of the session: a new login starts a
    chain, a rotation passes the old token's value on. Neither token expires after it.
    """
    refresh = RefreshToken()
    now = refresh.current_time
    chain_end = chain_exp if chain_exp is not None else _chain_end(now)
    refresh[jwt_settings.USER_ID_CLAIM] = str(getattr(user, jwt_settings.USER_ID_FIELD))
    if jwt_settings.CHECK_REVOKE_TOKEN:
        refresh[jwt_settings.REVOKE_TOKEN_CLAIM] = get_md5_hash_password(user.password)
    refresh[CHAIN_EXP_CLAIM] = chain_end
    refresh["exp"] = min(refresh["exp"], chain_end)
    access = refresh.access_token
    access["exp"] = min(access["exp"], chain_end)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=now,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_at=datetime_from_epoch(access["exp"]),
        refresh_expires_at=datetime_from_epoch(refresh["exp"]),
        chain_expires_at=datetime_from_epoch(chain_end),
    )


def _decode_refresh(raw: str) -> dict[str, Any]:
    """Verify signature, expiry, audience/issuer and type; the payload or a 401."""
    try:
        # The stubs say Token; the backend decodes the encoded string.
        payload: dict[str, Any] = token_backend.decode(raw, verify=True)  # type: ignore[arg-type]
    except TokenBackendExpiredToken:
        raise TokenInvalidError("The token has expired.") from None
    except TokenBackendError:
        raise TokenInvalidError() from None
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise TokenInvalidError("A refresh token is required.")
    if not payload.get(jwt_settings.JTI_CLAIM) or CHAIN_EXP_CLAIM not in payload:
        raise TokenInvalidError()
    return payload


def _revoke_all(user: User | None) -> int:
    """Blacklist every unexpired outstanding refresh token of ``user``; returns how many."""
    if user is None:
        return 0
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=aware_utcnow()).exclude(
        blacklistedtoken__isnull=False
    )
    tokens = list(live.values_list("pk", flat=True))
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in tokens], ignore_conflicts=True
    )
    return len(tokens)


def token_refresh(*, raw: str) -> tuple[User, TokenPair]:
    """Rotate a refresh token: blacklist it and issue a new pair in the same chain.

    Raises :class:`TokenInvalidError` (401) for anything not acceptable and
    :class:`RefreshTokenReusedError` when the token was already rotated or revoked — in that
    case every live refresh token of the user has been revoked (committed) before raising.
    The outstanding row is locked, so two concurrent refreshes of one token cannot both win.
    """
    payload = _decode_refresh(raw)
    jti = str(payload[jwt_settings.JTI_CLAIM])
    reuse: RefreshTokenReusedError | None = None
    refreshed: tuple[User, TokenPair] | None = None
    with transaction.atomic():
        outstanding = (
            OutstandingToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(jti=jti)
            .first()
        )
        if outstanding is None:
            raise TokenInvalidError()
        user = outstanding.user
        if BlacklistedToken.objects.filter(token=outstanding).exists():
            reuse = RefreshTokenReusedError(user=user, revoked=_revoke_all(user), jti=jti)
        else:
            if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
                raise TokenInvalidError()
            revoke_claim = payload.get(jwt_settings.REVOKE_TOKEN_CLAIM)
            if jwt_settings.CHECK_REVOKE_TOKEN and revoke_claim != get_md5_hash_password(
                user.password
            ):
                raise TokenInvalidError("The password changed; sign in again.")
            chain_exp = int(payload[CHAIN_EXP_CLAIM])
            if chain_exp <= int(aware_utcnow().timestamp()):
                raise TokenInvalidError("The session reached its maximum lifetime.")
            BlacklistedToken.objects.create(token=outstanding)
            refreshed = (user, token_pair_issue(user=user, chain_exp=chain_exp))
    if reuse is not None or refreshed is None:
        logger.warning("rotated refresh token reused; user sessions revoked", extra={"jti": jti})
        raise reuse or TokenInvalidError()
    return refreshed


def token_revoke(*, raw: str) -> User | None:
    """Blacklist a refresh token (logout); idempotent. Returns its user.

    Raises :class:`TokenInvalidError` for a token that is not a valid refresh token of ours.
    """
    payload = _decode_refresh(raw)
    jti = str(payload[jwt_settings.JTI_CLAIM])
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_related("user").filter(jti=jti).first()
        if outstanding is None:
            raise TokenInvalidError()
        BlacklistedToken.objects.get_or_create(token=outstanding)
    return outstanding.user


def tokens_flush_expired() -> int:
    """Delete outstanding (and so blacklisted) tokens past their expiry; returns how many.

    What ``manage.py flushexpiredtokens`` does, with a count for the task result.
    """
    _, per_model = OutstandingToken.objects.filter(expires_at__lte=aware_utcnow()).delete()
    return per_model.get(OutstandingToken._meta.label, 0)
