"""The v1 auth bridge: the MVP's token shapes, issuing our JWTs (usable on v1 and v2)."""

from __future__ import annotations

import jwt
import pytest
from django.test import Client

from accounts.models import AuditEvent, User
from tests.compat.conftest import MvpClient, assert_v1_headers
from tests.factories import TEST_PASSWORD, ViewerFactory

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "Tr1cky-Horse-Battery!"


def _login(email: str, password: str):
    return MvpClient().post("auth/login", {"email": email, "password": password})


def test_login_answers_the_mvp_token_shape_with_refresh_and_lifetime():
    user = ViewerFactory()

    response = _login(user.email, TEST_PASSWORD)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in"}
    assert body["token_type"] == "bearer"
    assert 14 * 60 <= body["expires_in"] <= 15 * 60
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["user_id"] == str(user.pk)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_SUCCEEDED).count() == 1
    assert_v1_headers(response, "/api/v2/auth/token")


def test_the_login_token_works_on_v1_and_v2():
    user = ViewerFactory()
    token = _login(user.email, TEST_PASSWORD).json()["access_token"]

    v1 = MvpClient(token=token).get("auth/me")
    v2 = Client().get("/api/v2/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert v1.status_code == 200
    assert v1.json()["email"] == user.email
    assert v2.status_code == 200
    assert v2.json()["id"] == user.pk


def test_login_with_a_wrong_password_is_the_mvp_401():
    user = ViewerFactory()

    response = _login(user.email, "wrong password")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid credentials"}


def test_login_with_a_bad_email_is_the_mvp_422_list():
    response = _login("not-an-email", "whatever")

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "email"]


def test_me_answers_the_mvp_fields():
    user = ViewerFactory()

    body = MvpClient(user).get("auth/me").json()

    assert body["id"] == user.pk
    assert body["email"] == user.email
    assert body["is_google_user"] is False
    assert body["created_at"] == user.date_joined.replace(tzinfo=None).isoformat()
    assert body["role"] == "viewer"


def test_me_without_and_with_a_bad_token_is_the_mvp_401():
    anonymous = MvpClient().get("auth/me")
    forged = MvpClient(token="not.a.jwt").get("auth/me")

    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Not authenticated"}
    assert forged.status_code == 401
    assert forged.json() == {"detail": "Invalid token"}
    assert_v1_headers(anonymous)


def test_refresh_rotates_the_refresh_token_sent_by_the_latest_client():
    user = ViewerFactory()
    first = _login(user.email, TEST_PASSWORD).json()

    response = MvpClient().post("auth/refresh", {"refresh_token": first["refresh_token"]})

    assert response.status_code == 200
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert MvpClient(token=second["access_token"]).get("auth/me").status_code == 200
    # The rotated token is spent: presenting it again is refused.
    replay = MvpClient().post("auth/refresh", {"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json() == {"detail": "Invalid token"}


def test_refresh_with_only_the_access_token_is_refused():
    """The MVP re-signed the Bearer access token; that would let a leaked access token live
    on, so a refresh token is required."""
    user = ViewerFactory()

    response = MvpClient(user).post("auth/refresh")

    assert response.status_code == 401
    assert response.json() == {"detail": "A refresh token is required: sign in again"}


def test_logout_revokes_the_refresh_token():
    user = ViewerFactory()
    tokens = _login(user.email, TEST_PASSWORD).json()

    response = MvpClient().post("auth/logout", {"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 200
    assert response.json() == {"message": "Successfully logged out"}
    after = MvpClient().post("auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert after.status_code == 401
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGOUT).count() == 1


def test_logout_without_a_token_answers_the_mvp_message():
    response = MvpClient().post("auth/logout")

    assert response.status_code == 200
    assert response.json() == {"message": "Successfully logged out"}


def test_register_is_closed_unless_registration_is_open(settings):
    settings.REGISTRATION_OPEN = False

    response = MvpClient().post(
        "auth/register", {"email": "new@example.com", "password": STRONG_PASSWORD}
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Registration is closed"}
    assert not User.objects.filter(email="new@example.com").exists()


def test_register_creates_a_viewer_and_signs_them_in(settings):
    settings.REGISTRATION_OPEN = True

    response = MvpClient().post(
        "auth/register",
        {"email": "new@example.com", "password": STRONG_PASSWORD, "name": "New Person"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "bearer"
    me = MvpClient(token=body["access_token"]).get("auth/me").json()
    assert me["email"] == "new@example.com"
    assert me["role"] == "viewer"
    assert User.objects.get(email="new@example.com").first_name == "New Person"


def test_register_refuses_a_taken_email_and_a_weak_password(settings):
    settings.REGISTRATION_OPEN = True
    existing = ViewerFactory()

    taken = MvpClient().post(
        "auth/register", {"email": existing.email, "password": STRONG_PASSWORD}
    )
    weak = MvpClient().post("auth/register", {"email": "weak@example.com", "password": "123"})

    assert taken.status_code == 400
    assert taken.json() == {"detail": "Email already registered"}
    assert weak.status_code == 400, weak.content
    assert weak.json()["detail"].startswith("Password does not meet security requirements")


def test_a_stale_bearer_token_does_not_block_signing_in():
    user = ViewerFactory()

    response = MvpClient(token="expired.or.junk").post(
        "auth/login", {"email": user.email, "password": TEST_PASSWORD}
    )

    assert response.status_code == 200
