"""``restore``: a backup restored into a fresh database reproduces the published index exactly
(the same levels, the same allocation rows, the same published run); it refuses without
``--confirm``, while writers run (unless ``--force``) and when the file is corrupted; the
backup catalogue of the target survives a restore."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from accounts.models import AuditEvent
from market.models import RefreshRun
from operations.backups import (
    ChecksumMismatch,
    RestoreRefused,
    backup_create,
    backup_restore,
)
from operations.backups.manifest import contents_read
from operations.backups.postgres import Database
from operations.models import Backup
from portfolio.models import Allocation, Index, IndexRun, IndexValue
from portfolio.services import index_run_compute
from tests.operations.conftest import BACKUP_DB, flip_one_byte
from tests.portfolio.published import published_index_build, run_build

pytestmark = BACKUP_DB


@pytest.fixture
def published_backup(backup_dir):
    """A published index (and one superseded run before it), then a backup of it all."""
    index = published_index_build(slug="restore-test", assets=5, days=150, rebalance_every=15)
    run_build(index=index, days=150, rebalance_every=15, shift=3.0)  # publishes: supersedes
    published = IndexRun.objects.get(index=index, status=IndexRun.Status.PUBLISHED)
    return backup_create(), published


def levels(run_id: int, using: str = "default") -> list[tuple]:
    rows = IndexValue.objects.using(using).filter(run_id=run_id).order_by("date")
    return list(rows.values_list("date", "level"))


def allocation_rows(run_id: int, using: str = "default") -> list[tuple]:
    rows = Allocation.objects.using(using).filter(run_id=run_id)
    return list(rows.order_by("rebalance_date", "asset_id").values_list(
        "rebalance_date", "asset_id", "weight"
    ))  # fmt: skip


def test_restore_into_a_fresh_database_reproduces_the_published_index(
    published_backup, fresh_database
):
    backup, published = published_backup

    result = backup_restore(name=backup.name, using=fresh_database)

    restored_run = IndexRun.objects.using(fresh_database).get(
        index__slug="restore-test", status=IndexRun.Status.PUBLISHED
    )
    assert restored_run.pk == published.pk
    assert restored_run.last_level == published.last_level
    assert levels(published.pk, fresh_database) == levels(published.pk)
    assert len(levels(published.pk)) == 150
    assert allocation_rows(published.pk, fresh_database) == allocation_rows(published.pk)
    assert len(allocation_rows(published.pk)) == 10 * 5
    assert result.unapplied_migrations == []
    assert result.catalogue_rows == 0  # a new database has no catalogue to keep


def test_the_restored_database_holds_exactly_the_manifests_rows(published_backup, fresh_database):
    backup, _published = published_backup

    backup_restore(name=backup.name, using=fresh_database)

    target = Database.from_settings(connections[fresh_database].settings_dict)
    with target.connect() as conn, conn.transaction(), conn.cursor() as cursor:
        restored = contents_read(cursor)
    audit = "public.accounts_auditevent"
    # Everything as backed up, and the restore itself audited on top (written after it).
    assert {t: n for t, n in restored["tables"].items() if t != audit} == {
        t: n for t, n in backup.manifest["tables"].items() if t != audit
    }
    assert restored["tables"][audit] == backup.manifest["tables"][audit] + 1
    event = AuditEvent.objects.using(fresh_database).get(action=AuditEvent.Action.BACKUP_RESTORED)
    assert (event.actor, event.details["backup"]) == (None, backup.name)
    assert restored["published_runs"] == backup.manifest["published_runs"]


def test_a_second_restore_replaces_everything_but_keeps_the_targets_catalogue(
    published_backup, fresh_database
):
    backup, published = published_backup
    backup_restore(name=backup.name, using=fresh_database)
    IndexValue.objects.using(fresh_database).filter(run_id=published.pk).delete()
    kept = Backup.objects.using(fresh_database).create(
        name="made-on-the-target", status=Backup.Status.FAILED, storage="local"
    )

    result = backup_restore(name=backup.name, using=fresh_database)

    assert levels(published.pk, fresh_database) == levels(published.pk)
    assert list(Backup.objects.using(fresh_database).values_list("pk", "name")) == [
        (kept.pk, "made-on-the-target")
    ]
    assert result.catalogue_rows == 1
    # The identity sequence continues after the carried rows.
    later = Backup.objects.using(fresh_database).create(
        name="later", status=Backup.Status.FAILED, storage="local"
    )
    assert later.pk > kept.pk


def test_restore_refuses_while_a_refresh_runs_unless_forced(published_backup, fresh_database):
    backup, _published = published_backup
    backup_restore(name=backup.name, using=fresh_database)
    running = RefreshRun.objects.using(fresh_database).create(trigger=RefreshRun.Trigger.CLI)

    with pytest.raises(RestoreRefused) as refused:
        backup_restore(name=backup.name, using=fresh_database)

    assert f"still running: refresh run #{running.pk}" in str(refused.value)
    assert "stop the web, worker and beat processes" in str(refused.value)
    assert RefreshRun.objects.using(fresh_database).filter(pk=running.pk).exists()
    backup_restore(name=backup.name, using=fresh_database, force=True)
    assert not RefreshRun.objects.using(fresh_database).filter(pk=running.pk).exists()


def test_a_corrupted_file_is_refused_before_anything_changes(
    published_backup, fresh_database, backup_dir
):
    backup, published = published_backup
    backup_restore(name=backup.name, using=fresh_database)
    IndexValue.objects.using(fresh_database).filter(run_id=published.pk).delete()
    flip_one_byte(backup_dir / backup.dump_key)

    with pytest.raises(ChecksumMismatch, match=f"checksum mismatch: expected {backup.sha256}"):
        backup_restore(name=backup.name, using=fresh_database)

    assert levels(published.pk, fresh_database) == []


def test_the_command_refuses_without_confirm_and_says_what_it_would_do(published_backup):
    backup, published = published_backup

    with pytest.raises(CommandError) as refused:
        call_command("restore", backup.name, stdout=StringIO(), stderr=StringIO())

    message = str(refused.value)
    assert message.startswith("not restoring without --confirm: this would replace the contents")
    assert f"with backup {backup.name}" in message
    assert "stop the app's writers first" in message
    assert len(levels(published.pk)) == 150


def test_the_command_restores_with_confirm_and_prints_what_it_restored(
    published_backup, fresh_database
):
    backup, published = published_backup
    out = StringIO()

    call_command(
        "restore", backup.name, "--confirm", database=fresh_database, stdout=out, stderr=StringIO()
    )

    assert f"restored {backup.name} into " in out.getvalue()
    assert f"restore-test run #{published.pk}" in out.getvalue()
    assert levels(published.pk, fresh_database) == levels(published.pk)


def test_the_command_refuses_while_writers_run_on_the_configured_database(published_backup):
    backup, _published = published_backup
    running = RefreshRun.objects.create(trigger=RefreshRun.Trigger.CLI)

    with pytest.raises(CommandError, match=f"still running: refresh run #{running.pk}"):
        call_command("restore", backup.name, "--confirm", stdout=StringIO(), stderr=StringIO())


def test_the_demo_index_computed_by_the_engine_survives_backup_and_restore(
    backup_dir, fresh_database
):
    """Real prices, real engine output (floats of every magnitude): equal to the last bit."""
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.get(slug="autoindex")
    run = index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    backup = backup_create()

    backup_restore(name=backup.name, using=fresh_database)

    assert len(levels(run.pk)) > 2000
    assert levels(run.pk, fresh_database) == levels(run.pk)
    assert allocation_rows(run.pk, fresh_database) == allocation_rows(run.pk)
    restored = IndexRun.objects.using(fresh_database).get(pk=run.pk)
    assert (restored.status, restored.metrics) == (IndexRun.Status.PUBLISHED, run.metrics)
