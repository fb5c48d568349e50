"""``manage.py grant_role EMAIL ROLE [--create]``: one role per user, audited (README steps)."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import AuditEvent, User
from tests.factories import TEST_PASSWORD, AdminRoleFactory, UserFactory, ViewerFactory

pytestmark = pytest.mark.django_db


def grant(*args: str) -> str:
    out = io.StringIO()
    call_command("grant_role", *args, stdout=out)
    return out.getvalue()


def signed_in_role(email: str, password: str) -> tuple[int, str | None, int]:
    """What the user sees: the API's role for them and whether the admin lets them in."""
    api = APIClient()
    token = api.post("/api/v2/auth/token", {"email": email, "password": password}, format="json")
    me = api.get("/api/v2/auth/me", HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    admin = APIClient()
    admin.login(email=email, password=password)
    return token.status_code, me.json()["role"], admin.get("/admin/").status_code


def test_granting_analyst_to_a_viewer_changes_the_role_the_api_and_the_admin_see():
    viewer = ViewerFactory(email="ana@example.com")

    output = grant("ana@example.com", "analyst")

    assert output == "ana@example.com: viewer -> analyst; can sign in to the admin\n"
    assert signed_in_role("ana@example.com", TEST_PASSWORD) == (200, "analyst", 200)
    events = AuditEvent.objects.filter(target_id=str(viewer.pk)).order_by("pk")
    assert [(event.action, event.details) for event in events] == [
        (
            AuditEvent.Action.USER_UPDATED,
            {"changes": {"is_staff": {"old": False, "new": True}}},
        ),
        (
            AuditEvent.Action.ROLE_CHANGED,
            {"added": ["analyst"], "removed": ["viewer"], "groups": ["analyst"]},
        ),
    ]
    assert events[1].actor is None


def test_demoting_an_admin_to_viewer_takes_the_admin_away():
    AdminRoleFactory(email="boss@example.com", is_staff=True)

    output = grant("boss@example.com", "viewer")

    assert output == "boss@example.com: admin -> viewer; API only (not staff)\n"
    token_status, role, admin_status = signed_in_role("boss@example.com", TEST_PASSWORD)
    assert (token_status, role) == (200, "viewer")
    assert admin_status == 302  # to the admin's login page


def test_create_makes_the_user_with_a_password_printed_once():
    output = grant("new@example.com", "viewer", "--create")

    first, second = output.splitlines()
    assert first == "new@example.com: no role -> viewer; API only (not staff)"
    match = re.fullmatch(r"created new@example.com with password: (\S{16})", second)
    assert match is not None
    assert signed_in_role("new@example.com", match.group(1))[:2] == (200, "viewer")
    actions = list(
        AuditEvent.objects.filter(target_repr__contains="new@example.com")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [AuditEvent.Action.USER_CREATED, AuditEvent.Action.ROLE_CHANGED]


def test_the_same_role_again_changes_and_records_nothing():
    ViewerFactory(email="same@example.com")
    before = AuditEvent.objects.count()

    assert grant("same@example.com", "viewer") == (
        "same@example.com: already viewer; API only (not staff)\n"
    )
    assert AuditEvent.objects.count() == before


def test_other_groups_are_kept():
    user = UserFactory(email="grp@example.com")
    user.groups.add(Group.objects.create(name="newsletter"))

    grant("grp@example.com", "admin")

    assert set(User.objects.get(pk=user.pk).groups.values_list("name", flat=True)) == {
        "admin",
        "newsletter",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("nobody@example.com", "viewer"),
            "no user nobody@example.com (add --create to create one)",
        ),
        (
            ("root@example.com", "analyst"),
            "root@example.com is a superuser (always admin): clear is_superuser first",
        ),
    ],
)
def test_refusals_say_why(args, message):
    User.objects.create_superuser(email="root@example.com", password=TEST_PASSWORD)

    with pytest.raises(CommandError, match=re.escape(message)):
        grant(*args)


def test_an_unknown_role_is_refused():
    ViewerFactory(email="v@example.com")

    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        grant("v@example.com", "owner")
