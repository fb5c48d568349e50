"""``backup_verify``: a backup restores into a scratch database with exactly the manifest's
rows; a flipped byte, a missing partition or an unapplied migration fails it, saying which;
the scratch database is always dropped; readiness reports the newest verified backup."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from market.partitions import partition_name
from operations.backups import backup_create, backup_verify
from operations.models import Backup
from operations.selectors import backup_health
from operations.tasks import backup_verify_task
from tests.operations.conftest import BACKUP_DB, database_exists, flip_one_byte
from tests.portfolio.published import published_index_build

pytestmark = BACKUP_DB

PRICES_2023 = f"public.{partition_name(2023)}"


@pytest.fixture
def backup(backup_dir) -> Backup:
    published_index_build(slug="verify-test", assets=3, days=60)
    return backup_create()


def test_a_fresh_backup_verifies_and_its_scratch_database_is_dropped(backup):
    verified = backup_verify()

    assert verified.pk == backup.pk
    assert verified.verification_status == Backup.Verification.OK
    assert verified.verification_error == ""
    report = verified.verification_report
    assert report["problems"] == []
    assert report["restored"] == backup.manifest["totals"]
    assert report["scratch_database"].startswith("autoindex_verify_")
    assert not database_exists(report["scratch_database"])
    assert set(report["seconds"]) == {"download", "checksum", "restore", "compare", "migrations"}
    stored = Backup.objects.get(pk=backup.pk)
    assert (stored.verification_status, stored.verified_at) == ("ok", verified.verified_at)


def test_one_flipped_byte_fails_on_the_checksum_and_restores_nothing(backup, backup_dir):
    path = backup_dir / backup.dump_key
    flip_one_byte(path)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()

    verified = backup_verify(name=backup.name)

    assert verified.verification_status == Backup.Verification.FAILED
    assert verified.verification_error == (
        f"checksum mismatch: expected {backup.sha256}, got {actual} ({backup.dump_key})"
    )
    assert "scratch_database" not in verified.verification_report
    assert set(verified.verification_report["seconds"]) == {"download", "checksum"}


def test_every_difference_from_the_manifest_is_reported(backup, backup_dir):
    """The catalogue and the stored manifest both claim one more 2023 price and a partition that
    does not exist (the file itself is intact): both differences are named."""
    expected = backup.manifest["tables"][PRICES_2023]
    backup.manifest["tables"][PRICES_2023] = expected + 1
    backup.manifest["price_partitions"].append("market_price_y1999")
    backup.save()
    (backup_dir / backup.manifest_key).write_text(json.dumps(backup.manifest))

    verified = backup_verify(name=backup.name)

    assert verified.verification_report["problems"] == [
        f"table {PRICES_2023}: expected {expected + 1} rows, found {expected}",
        "price partition market_price_y1999 is missing",
    ]
    assert verified.verification_error == (
        f"2 problems: table {PRICES_2023}: expected {expected + 1} rows, found {expected}; "
        "price partition market_price_y1999 is missing"
    )
    assert not database_exists(verified.verification_report["scratch_database"])


def test_a_changed_manifest_file_fails_before_any_restore(backup, backup_dir):
    (backup_dir / backup.manifest_key).write_text(json.dumps({**backup.manifest, "rows": 1}))

    verified = backup_verify(name=backup.name)

    assert verified.verification_error == (
        f"{backup.manifest_key} differs from the catalogue's copy"
    )
    assert "scratch_database" not in verified.verification_report


def test_a_backup_the_current_code_would_migrate_fails_migrate_check(backup_dir):
    recorded = MigrationRecorder.Migration.objects.get(app="operations", name="0001_initial")
    recorded.delete()
    try:
        unmigrated = backup_create()
    finally:
        MigrationRecorder.Migration.objects.create(
            id=recorded.id, app=recorded.app, name=recorded.name, applied=recorded.applied
        )

    verified = backup_verify(name=unmigrated.name)

    assert verified.verification_report["problems"] == [
        "migrate --check: 1 migration(s) of the current code are not applied in the backup "
        "(operations.0001_initial)"
    ]


def test_the_command_verifies_the_newest_backup_by_default(backup):
    out = StringIO()

    call_command("backup_verify", stdout=out, stderr=StringIO())

    assert f"backup {backup.name} verified" in out.getvalue()
    assert Backup.objects.get(pk=backup.pk).verification_status == "ok"


def test_the_command_exits_non_zero_with_the_reason(backup, backup_dir):
    flip_one_byte(backup_dir / backup.dump_key)

    with pytest.raises(CommandError, match=r"failed verification: checksum mismatch: expected"):
        call_command("backup_verify", backup.name, stdout=StringIO(), stderr=StringIO())


def test_nothing_to_verify_is_a_clear_error(backup_dir):
    with pytest.raises(CommandError) as raised:
        call_command("backup_verify", stdout=StringIO(), stderr=StringIO())
    assert str(raised.value) == "no backup to verify yet"

    with pytest.raises(CommandError) as raised:
        call_command("backup_verify", "nope", stdout=StringIO(), stderr=StringIO())
    assert str(raised.value) == "no backup named 'nope'"


def test_the_daily_task_returns_the_result(backup):
    summary = backup_verify_task()

    assert (summary["backup"], summary["verification"]) == (backup.name, "ok")
    assert summary["verification_error"] is None


def test_readiness_reports_none_ok_then_stale_and_stays_200(backup, client, settings):
    settings.BACKUP_VERIFY_MAX_AGE_HOURS = 48
    settings.HEALTH_READY_CHECKS = {}  # the app checks (heartbeats, freshness) are not at issue
    assert client.get("/health/ready").json()["advisories"]["backup"] == {
        "status": "none",
        "max_age_hours": 48,
    }

    verified = backup_verify()
    response = client.get("/health/ready")

    assert response.status_code == 200
    advisory = response.json()["advisories"]["backup"]
    assert advisory["status"] == "ok"
    assert (advisory["backup"], advisory["verified_at"]) == (
        backup.name,
        verified.verified_at.isoformat(),
    )

    Backup.objects.filter(pk=backup.pk).update(created_at=timezone.now() - dt.timedelta(hours=49))
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["advisories"]["backup"]["status"] == "stale"
    assert response.json()["advisories"]["backup"]["age_hours"] == pytest.approx(49, abs=0.1)


def test_the_backup_advisory_costs_one_query(backup, django_assert_num_queries):
    backup_verify()

    with django_assert_num_queries(1):
        assert backup_health()["status"] == "ok"


def test_a_failing_advisory_is_reported_and_never_makes_readiness_fail(client, settings):
    settings.HEALTH_READY_ADVISORIES = {"backup": "operations.selectors.no_such_function"}
    settings.HEALTH_READY_CHECKS = {}

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["advisories"] == {"backup": {"status": "error"}}
