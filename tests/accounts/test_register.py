"""Self-service registration (only when REGISTRATION_OPEN)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import AuditEvent, User
from accounts.roles import Role, user_role
from tests.api.conftest import api_url, assert_problem
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD = {"email": "New.User@Example.com", "password": "a long passphrase 42", "first_name": "N"}


@pytest.fixture(autouse=True)
def _frozen_clock():
    """django-ratelimit counts in fixed windows: keep every attempt of a test in one window."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture(autouse=True)
def _open(settings):
    settings.REGISTRATION_OPEN = True


def register(api_client, **changes):
    return api_client.post(api_url("auth-register"), {**GOOD, **changes}, format="json")


def test_registration_creates_a_viewer_and_is_audited(api_client):
    response = register(api_client)

    assert response.status_code == 201, response.content
    assert response.json()["roles"] == ["viewer"]
    user = User.objects.get(email__iexact="new.user@example.com")
    assert user_role(user) == Role.VIEWER
    assert not user.is_staff
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REGISTERED, actor=user).exists()


@pytest.mark.parametrize("password", ["short", "password123", "12345678901234"])
def test_weak_password_is_a_field_error(api_client, password):
    body = assert_problem(register(api_client, password=password), 400)
    assert {error["pointer"] for error in body["errors"]} == {"#/password"}


def test_password_similar_to_the_email_is_rejected(api_client):
    body = assert_problem(register(api_client, password="new.user@example.com"), 400)
    assert body["errors"][0]["pointer"] == "#/password"


def test_taken_email_is_a_field_error_ignoring_case(api_client):
    UserFactory(email="new.user@example.com")
    body = assert_problem(register(api_client), 400)
    assert body["errors"][0]["pointer"] == "#/email"


def test_closed_registration_is_403(api_client, settings):
    settings.REGISTRATION_OPEN = False
    body = assert_problem(register(api_client), 403)
    assert body["type"].endswith("/registration-closed")


def test_registration_is_limited_per_email(api_client):
    statuses = [register(api_client, password="short").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
