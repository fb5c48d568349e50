"""DRF authentication: simplejwt access tokens, the user from its cached snapshot.

:class:`CachedUserJWTAuthentication` verifies the token exactly as simplejwt's
``JWTAuthentication`` does (signature, expiry, audience, issuer, type) and then applies the same
user checks — the user exists, is active, and its password did not change since the token was
issued — against ``accounts.user_cache``'s snapshot instead of a fresh row: a request within
``AUTH_USER_CACHE_SECONDS`` of the user's last read costs no query (docs/api.md, "Caching").
The failures are simplejwt's, raised with a plain code so that each has its own problem type
(``user-not-found``, ``user-inactive``, ``password-changed``; simplejwt's own exception nests
its code, which made all three the generic ``authentication-failed``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from .user_cache import AuthSnapshot, user_snapshot_get


class CachedUserJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Token) -> Any:
        return snapshot_user(
            validated_token, user_snapshot_get(user_id=token_user_id(validated_token))
        )


def token_user_id(validated_token: Token) -> Any:
    try:
        return validated_token[jwt_settings.USER_ID_CLAIM]
    except KeyError as error:
        raise InvalidToken("Token contained no recognizable user identification") from error


def snapshot_user(validated_token: Token, snapshot: AuthSnapshot | None) -> Any:
    """The token's user from its snapshot, after simplejwt's user checks (raises
    ``AuthenticationFailed``)."""
    if snapshot is None:
        raise AuthenticationFailed(_("User not found"), code="user_not_found")
    user = snapshot.user()
    if jwt_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
        raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
    if (
        jwt_settings.CHECK_REVOKE_TOKEN
        and validated_token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != snapshot.revoke_digest
    ):
        raise AuthenticationFailed(
            _("The user's password has been changed."), code="password_changed"
        )
    return user
