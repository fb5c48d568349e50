"""User writes in the admin go through ``accounts.services``: role (group) assignments are
audited as ``accounts.role_changed``, flag and profile changes as ``accounts.user_updated``
with the diff, new users as ``accounts.user_created``."""

from __future__ import annotations

from typing import cast

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import AuditEvent, User
from tests.admin.helpers import (
    admin_form_data,
    audit_mark,
    event_target,
    events_since,
    stored_details,
    target_of,
)
from tests.factories import ViewerFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a new and long enough passphrase"


@pytest.fixture
def viewer() -> User:
    return cast(User, ViewerFactory(email="viewer@example.com"))


def _change_url(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def _group_pk(name: str) -> str:
    return str(Group.objects.get(name=name).pk)


def _post_change(staff, user: User, **changes):
    data = admin_form_data(staff.client, _change_url(user))
    data.update(changes)
    response = staff.client.post(_change_url(user), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return data


def test_adding_the_analyst_group_records_role_changed_with_the_added_role(user_admin, viewer):
    mark = audit_mark()

    _post_change(user_admin, viewer, groups=[_group_pk("viewer"), _group_pk("analyst")])

    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.ROLE_CHANGED, user_admin.user)
    assert event_target(event) == ("accounts.user", str(viewer.pk), "viewer@example.com")
    assert stored_details(event) == {
        "added": ["analyst"],
        "removed": [],
        "groups": ["analyst", "viewer"],
    }
    assert sorted(viewer.groups.values_list("name", flat=True)) == ["analyst", "viewer"]


def test_replacing_a_role_records_role_changed_with_added_and_removed(user_admin, viewer):
    mark = audit_mark()

    _post_change(user_admin, viewer, groups=[_group_pk("analyst")])

    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.ROLE_CHANGED, user_admin.user)
    assert stored_details(event) == {
        "added": ["analyst"],
        "removed": ["viewer"],
        "groups": ["analyst"],
    }


def test_changing_is_staff_and_is_active_records_user_updated_with_the_diff(user_admin, viewer):
    data = admin_form_data(user_admin.client, _change_url(viewer))
    data.pop("is_active")  # unticked
    data["is_staff"] = "on"
    mark = audit_mark()

    response = user_admin.client.post(_change_url(viewer), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.USER_UPDATED, user_admin.user)
    assert event_target(event) == target_of(viewer)
    assert stored_details(event) == {
        "changes": {
            "is_active": {"old": True, "new": False},
            "is_staff": {"old": False, "new": True},
        }
    }
    viewer.refresh_from_db()
    assert (viewer.is_active, viewer.is_staff) == (False, True)


def test_saving_the_user_unchanged_records_nothing(user_admin, viewer):
    mark = audit_mark()

    _post_change(user_admin, viewer)

    assert events_since(mark) == []


def test_adding_a_user_records_user_created(user_admin):
    add_url = reverse("admin:accounts_user_add")
    mark = audit_mark()

    response = user_admin.client.post(
        add_url,
        {"email": "Newcomer@Example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="Newcomer@example.com")  # the domain is normalised
    assert response["Location"] == _change_url(user)
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.USER_CREATED, user_admin.user)
    assert event_target(event) == ("accounts.user", str(user.pk), "Newcomer@example.com")
    assert stored_details(event) == {"email": "Newcomer@example.com", "usable_password": True}
    assert user.check_password(NEW_PASSWORD)
    assert (user.is_staff, user.is_superuser, list(user.groups.all())) == (False, False, [])


def test_adding_a_user_without_password_based_login_gives_an_unusable_password(user_admin):
    mark = audit_mark()

    user_admin.client.post(
        reverse("admin:accounts_user_add"),
        {"email": "sso-only@example.com", "usable_password": "false"},
    )

    user = User.objects.get(email="sso-only@example.com")
    assert not user.check_password("")
    assert not user.has_usable_password()
    [event] = events_since(mark)
    assert stored_details(event) == {"email": "sso-only@example.com", "usable_password": False}


def test_granting_a_permission_directly_to_a_user_is_audited(user_admin, viewer):
    permission = Permission.objects.get(codename="change_user", content_type__app_label="accounts")
    mark = audit_mark()

    _post_change(user_admin, viewer, user_permissions=[str(permission.pk)])

    assert viewer.user_permissions.get() == permission
    assert [event_target(event) for event in events_since(mark)] == [target_of(viewer)]


def test_deleting_users_with_the_admin_action_is_audited(superuser, viewer):
    mark = audit_mark()

    superuser.client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [viewer.pk], "post": "yes"},
    )

    assert not User.objects.filter(pk=viewer.pk).exists()
    assert [(e.actor, e.target_type, e.target_id) for e in events_since(mark)] == [
        (superuser.user, "accounts.user", str(viewer.pk))
    ]


def test_changing_what_a_role_may_do_is_audited(superuser):
    analyst_role = Group.objects.get(name="analyst")
    permission = Permission.objects.get(codename="view_auditevent")
    before = set(analyst_role.permissions.values_list("pk", flat=True))
    mark = audit_mark()

    superuser.client.post(
        reverse("admin:auth_group_change", args=[analyst_role.pk]),
        {"name": "analyst", "permissions": [str(pk) for pk in before | {permission.pk}]},
    )

    [event] = events_since(mark)
    assert (event.action, event.actor) == (
        AuditEvent.Action.ROLE_PERMISSIONS_CHANGED,
        superuser.user,
    )
    assert event_target(event) == ("auth.group", str(analyst_role.pk), "analyst")
    details = stored_details(event)
    assert (details["added"], details["removed"]) == (["accounts.view_auditevent"], [])
