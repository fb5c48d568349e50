"""Role groups from the data migration, role helpers, the append-only audit log and its admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.models import AuditEvent
from accounts.roles import Role, roles_of, sync_role_permissions, user_has_role, user_role
from accounts.services import audit_record
from tests.factories import AdminRoleFactory, AnalystFactory, UserFactory, ViewerFactory

pytestmark = pytest.mark.django_db


def _perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_migration_creates_the_groups_with_their_permissions():
    viewer, analyst, admin = _perms("viewer"), _perms("analyst"), _perms("admin")
    assert "market.view_asset" in viewer
    assert "market.change_asset" not in viewer
    assert {"market.change_asset", "market.add_refreshrun"} <= analyst
    assert "accounts.view_auditevent" not in analyst
    assert {"accounts.change_user", "accounts.view_auditevent"} <= admin
    assert viewer <= analyst <= admin


def test_sync_is_idempotent_and_keeps_hand_granted_permissions():
    group = Group.objects.get(name="viewer")
    extra = Group.objects.get(name="admin").permissions.get(codename="view_auditevent")
    group.permissions.add(extra)

    missing = sync_role_permissions()

    assert "accounts.view_auditevent" in _perms("viewer")
    assert set(missing) == {"viewer", "analyst", "admin"}


def test_roles_are_hierarchical_and_superusers_are_admins():
    analyst = AnalystFactory()
    superuser = UserFactory(is_superuser=True)
    nobody = UserFactory()

    assert user_role(analyst) == Role.ANALYST
    assert roles_of(analyst) == ["viewer", "analyst"]
    assert user_has_role(analyst, Role.VIEWER)
    assert not user_has_role(analyst, Role.ADMIN)
    assert user_role(superuser) == Role.ADMIN
    assert user_role(nobody) is None
    assert user_role(AdminRoleFactory()) == Role.ADMIN
    assert user_role(ViewerFactory()) == Role.VIEWER


def test_audit_events_are_append_only():
    event = audit_record(action="test.event", details={"n": 1})

    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()


def test_deleting_a_user_keeps_their_audit_events():
    user = ViewerFactory()
    audit_record(action="test.event", actor=user)

    user.delete()

    event = AuditEvent.objects.get(action="test.event")
    assert event.actor is None
    assert event.actor_email == user.email


def test_audit_admin_is_read_only(admin_client):
    audit_record(action="test.event")
    event = AuditEvent.objects.get()

    assert admin_client.get("/admin/accounts/auditevent/").status_code == 200
    assert admin_client.get("/admin/accounts/auditevent/add/").status_code == 403
    assert admin_client.post(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403


def test_role_change_in_the_admin_is_audited(admin_client, admin_user):
    user = ViewerFactory()
    analyst_group = Group.objects.get(name="analyst")

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "email": user.email,
            "first_name": "",
            "last_name": "",
            "is_active": "on",
            "groups": [analyst_group.pk],
            "user_permissions": [],
        },
    )

    assert response.status_code == 302, response.content[:500]
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROLE_CHANGED)
    assert event.actor == admin_user
    assert event.target_id == str(user.pk)
    assert event.details == {"added": ["analyst"], "removed": ["viewer"], "groups": ["analyst"]}
