"""The backup catalogue in the admin: read-only, bounded queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from operations.models import Backup

pytestmark = pytest.mark.django_db


def test_changelist_lists_backups_with_bounded_queries(admin_client, django_assert_max_num_queries):
    for number in range(20):
        Backup.objects.create(
            name=f"autoindex-{number:02d}",
            status=Backup.Status.SUCCEEDED,
            storage="local",
            sha256=f"{number:064x}",
            size_bytes=1024 * number,
        )

    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:operations_backup_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 20
    assert b"19.0\xc2\xa0KB" in response.content


def test_backups_cannot_be_added_changed_or_deleted(admin_client):
    backup = Backup.objects.create(name="b", status=Backup.Status.FAILED, storage="local")

    add = admin_client.get(reverse("admin:operations_backup_add"))
    change = admin_client.post(
        reverse("admin:operations_backup_change", args=[backup.pk]), {"name": "renamed"}
    )
    delete = admin_client.post(
        reverse("admin:operations_backup_delete", args=[backup.pk]), {"post": "yes"}
    )

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    backup.refresh_from_db()
    assert backup.name == "b"
