"""JWT sign-in, rotation, reuse detection, logout, expiry and the absolute session cap."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from rest_framework.test import APIClient
from rest_framework_simplejwt import state
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import AuditEvent
from accounts.tasks import flush_expired_tokens
from accounts.tokens import token_pair_issue
from tests.api.conftest import api_url, assert_problem
from tests.factories import TEST_PASSWORD, ViewerFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def sign_in(client: APIClient, user) -> dict:
    response = client.post(
        api_url("auth-token"), {"email": user.email, "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client: APIClient, token: str):
    return client.post(api_url("auth-token-refresh"), {"refresh": token}, format="json")


def me(client: APIClient, access: str):
    return client.get(api_url("auth-me"), HTTP_AUTHORIZATION=f"Bearer {access}")


def test_sign_in_returns_a_pair_and_is_audited(api_client):
    user = ViewerFactory()

    tokens = sign_in(api_client, user)

    assert tokens["token_type"] == "Bearer"
    profile = me(api_client, tokens["access"]).json()
    assert profile["email"] == user.email
    assert profile["role"] == "viewer"
    assert profile["roles"] == ["viewer"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_SUCCEEDED)
    assert event.actor == user
    assert event.ip == "127.0.0.1"
    assert event.request_id


@pytest.mark.parametrize("email_case", ["same", "upper"])
def test_wrong_password_is_401_and_audited_without_the_password(api_client, email_case):
    user = ViewerFactory()
    email = user.email if email_case == "same" else user.email.upper()

    response = api_client.post(
        api_url("auth-token"), {"email": email, "password": "wrong-password"}, format="json"
    )

    assert_problem(response, 401)
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.actor is None
    assert event.actor_email == user.email.lower()
    assert "wrong-password" not in str(event.details)


def test_unknown_email_and_inactive_user_get_the_same_answer(api_client):
    inactive = ViewerFactory(is_active=False)
    answers = [
        api_client.post(
            api_url("auth-token"), {"email": email, "password": TEST_PASSWORD}, format="json"
        ).json()["detail"]
        for email in (inactive.email, "nobody@example.com")
    ]
    assert answers[0] == answers[1]


def test_refresh_rotates_and_blacklists_the_old_token(api_client):
    tokens = sign_in(api_client, ViewerFactory())

    rotated = refresh(api_client, tokens["refresh"])

    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != tokens["refresh"]
    assert me(api_client, new["access"]).status_code == 200
    assert OutstandingToken.objects.filter(blacklistedtoken__isnull=False).count() == 1


def test_reusing_a_rotated_refresh_token_is_rejected_audited_and_revokes_the_chain(api_client):
    user = ViewerFactory()
    tokens = sign_in(api_client, user)
    new = refresh(api_client, tokens["refresh"]).json()

    reuse = refresh(api_client, tokens["refresh"])

    assert_problem(reuse, 401)
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REUSE)
    assert event.actor == user
    assert event.details["sessions_revoked"] == 1
    # The attacker's (or victim's) newer token of the same user is dead too.
    assert_problem(refresh(api_client, new["refresh"]), 401)


def test_logout_blacklists_the_refresh_token(api_client):
    user = ViewerFactory()
    tokens = sign_in(api_client, user)

    response = api_client.post(
        api_url("auth-logout"), {"refresh": tokens["refresh"]}, format="json"
    )

    assert response.status_code == 204
    assert_problem(refresh(api_client, tokens["refresh"]), 401)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGOUT, actor=user).exists()


def test_access_token_expires_after_15_minutes(api_client):
    user = ViewerFactory()
    with time_machine.travel(START, tick=False) as clock:
        access = sign_in(api_client, user)["access"]
        clock.shift(dt.timedelta(minutes=14, seconds=59))
        assert me(api_client, access).status_code == 200
        clock.shift(dt.timedelta(seconds=2))
        assert_problem(me(api_client, access), 401)


def test_refresh_token_expires_after_7_days(api_client):
    user = ViewerFactory()
    with time_machine.travel(START, tick=False) as clock:
        token = sign_in(api_client, user)["refresh"]
        clock.shift(dt.timedelta(days=7, seconds=1))
        assert_problem(refresh(api_client, token), 401)


def test_rotation_cannot_extend_a_session_past_30_days(api_client):
    user = ViewerFactory()
    with time_machine.travel(START, tick=False) as clock:
        tokens = sign_in(api_client, user)
        cap = dt.datetime.fromisoformat(tokens["session_expires_at"])
        assert cap == START + dt.timedelta(days=30)
        for _ in range(4):  # days 6, 12, 18, 24: each rotation still inside the cap
            clock.shift(dt.timedelta(days=6))
            response = refresh(api_client, tokens["refresh"])
            assert response.status_code == 200
            tokens = response.json()
            assert dt.datetime.fromisoformat(tokens["refresh_expires_at"]) <= cap
            assert dt.datetime.fromisoformat(tokens["access_expires_at"]) <= cap
        clock.shift(dt.timedelta(days=6, seconds=1))  # day 30 + 1 s
        assert_problem(refresh(api_client, tokens["refresh"]), 401)


def test_refresh_token_is_not_an_access_token(api_client):
    tokens = sign_in(api_client, ViewerFactory())
    assert_problem(me(api_client, tokens["refresh"]), 401)


def test_access_token_cannot_be_refreshed(api_client):
    tokens = sign_in(api_client, ViewerFactory())
    assert_problem(refresh(api_client, tokens["access"]), 401)


def test_tampered_token_is_rejected(api_client):
    access = sign_in(api_client, ViewerFactory())["access"]
    header, payload, signature = access.split(".")
    tampered = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )
    assert_problem(me(api_client, tampered), 401)


def test_token_for_another_audience_is_rejected(api_client):
    access = sign_in(api_client, ViewerFactory())["access"]
    # simplejwt builds its token backend once; point that instance at another audience.
    backend = state.token_backend
    original = backend.audience
    backend.audience = "someone-else"
    try:
        assert_problem(me(api_client, access), 401)
    finally:
        backend.audience = original


def test_password_change_invalidates_earlier_tokens(api_client):
    user = ViewerFactory()
    tokens = sign_in(api_client, user)
    user.set_password("a brand new passphrase 99")
    user.save()

    assert_problem(me(api_client, tokens["access"]), 401)
    assert_problem(refresh(api_client, tokens["refresh"]), 401)


def test_tokens_never_reach_the_logs(api_client, caplog):
    user = ViewerFactory()
    with caplog.at_level(logging.DEBUG):
        tokens = sign_in(api_client, user)
        new = refresh(api_client, tokens["refresh"]).json()
        refresh(api_client, tokens["refresh"])  # reuse: logged as a warning
        api_client.post(api_url("auth-logout"), {"refresh": new["refresh"]}, format="json")
        me(api_client, "garbage.token.value")
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for token in (tokens["access"], tokens["refresh"], new["access"], new["refresh"]):
        assert token not in logged
        assert token.split(".")[2] not in logged  # not even the signature


def test_flush_task_deletes_expired_tokens_only():
    user = ViewerFactory()
    with time_machine.travel(START, tick=False):
        token_pair_issue(user=user)
    token_pair_issue(user=user)

    with time_machine.travel(START + dt.timedelta(days=8), tick=False):
        assert flush_expired_tokens() == {"deleted": 1}
    assert OutstandingToken.objects.count() == 1


def test_flush_is_scheduled_daily_by_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="accounts.tasks.flush_expired_tokens")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.day_of_week) == ("4", "*")
