"""``backup``: a custom-format dump and a manifest whose row counts are the live ones, table by
table, taken in the dump's own snapshot; stored with its checksum; one at a time."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.recorder import MigrationRecorder

from market.models import Price
from market.partitions import DEFAULT_PARTITION, partition_name
from operations.backups import BackupAlreadyRunning, backup_create, backup_verify
from operations.backups.create import BACKUP_LOCK
from operations.models import Backup
from operations.tasks import backup_create_task
from portfolio.models import IndexRun
from tests.operations.conftest import BACKUP_DB, live_counts
from tests.portfolio.published import published_index_build

pytestmark = BACKUP_DB

DAYS = 120  # trading days from 2023-01-02: all in 2023
BENCHMARK_CLOSES = DAYS - len(range(6, DAYS, 7))  # the benchmark misses every seventh day
REBALANCES = len(range(0, DAYS, 20))


@pytest.fixture
def published():
    index = published_index_build(slug="backup-test", assets=4, days=DAYS)
    return index, IndexRun.objects.get(index=index, status=IndexRun.Status.PUBLISHED)


def test_manifest_row_counts_equal_the_live_counts_table_by_table(backup_dir, published):
    index, run = published

    backup = backup_create()

    manifest = backup.manifest
    assert manifest["tables"] == live_counts()
    assert manifest["tables"][f"public.{partition_name(2023)}"] == BENCHMARK_CLOSES == 103
    assert manifest["tables"][f"public.{DEFAULT_PARTITION}"] == 0
    assert manifest["tables"]["public.portfolio_indexvalue"] == DAYS
    assert manifest["totals"] == {
        "tables": len(manifest["tables"]),
        "rows": sum(manifest["tables"].values()),
    }
    assert [
        {key: value for key, value in entry.items() if not key.endswith("_md5")}
        for entry in manifest["published_runs"]
    ] == [
        {
            "index_id": index.pk,
            "index": "backup-test",
            "run_id": run.pk,
            "values": DAYS,
            "allocations": REBALANCES * 4,
        }
    ]


def test_manifest_lists_partitions_migrations_and_the_database(backup_dir, published):
    backup = backup_create()

    manifest = backup.manifest
    years = Price.objects.dates("date", "year")
    assert {partition_name(day.year) for day in years} <= set(manifest["price_partitions"])
    assert DEFAULT_PARTITION in manifest["price_partitions"]
    applied = MigrationRecorder.Migration.objects.order_by("id").values_list("app", "name")
    expected: dict[str, list[str]] = {}
    for app, name in applied:
        expected.setdefault(app, []).append(name)
    assert manifest["migrations"] == expected
    assert manifest["database"] == backup.name.rsplit("-", 2)[0]
    assert manifest["server_version"].split(".")[0].isdigit()
    assert dt.datetime.fromisoformat(manifest["snapshot_at"]) >= backup.created_at


def test_stored_files_carry_the_recorded_checksum_size_and_manifest(backup_dir, published):
    backup = backup_create()

    dump = (backup_dir / f"{backup.name}.dump").read_bytes()
    stored_manifest = json.loads((backup_dir / f"{backup.name}.json").read_text())
    assert backup.status == Backup.Status.SUCCEEDED
    assert hashlib.sha256(dump).hexdigest() == backup.sha256 == backup.manifest["dump"]["sha256"]
    assert len(dump) == backup.size_bytes == backup.manifest["dump"]["size_bytes"]
    assert dump.startswith(b"PGDMP")  # pg_dump's custom format
    assert stored_manifest == backup.manifest
    assert (backup_dir / f"{backup.name}.dump").stat().st_mode & 0o777 == 0o600
    assert set(backup.timings) == {"snapshot", "dump", "upload", "retention"}


def test_counts_are_those_of_the_dumped_snapshot_while_the_app_writes(backup_dir, published):
    """A row committed after the snapshot, while pg_dump runs, is in neither the counts nor the
    dump: the restored copy matches the manifest exactly."""
    index, _run = published
    asset = index.benchmark
    before = live_counts()[f"public.{partition_name(2023)}"]

    def write_during_dump(phase: str) -> None:
        if phase == "dump":
            Price.objects.create(asset=asset, date=dt.date(2023, 12, 29), close=Decimal("1.5"))

    backup = backup_create(progress=write_during_dump)

    assert live_counts()[f"public.{partition_name(2023)}"] == before + 1
    assert backup.manifest["tables"][f"public.{partition_name(2023)}"] == before
    verified = backup_verify(name=backup.name)
    assert verified.verification_status == Backup.Verification.OK, verified.verification_error


def test_the_backup_command_prints_a_summary(backup_dir, published):
    out, err = StringIO(), StringIO()

    call_command("backup", stdout=out, stderr=err)

    backup = Backup.objects.get()
    text = out.getvalue()
    assert f"backup {backup.name} succeeded" in text
    for label, value in [
        ("size", f"({backup.size_bytes} bytes)"),
        ("tables", str(backup.manifest["totals"]["tables"])),
        ("rows", str(backup.manifest["totals"]["rows"])),
        ("sha256", backup.sha256),
    ]:
        assert any(line.split()[:1] == [label] and value in line for line in text.splitlines()), (
            label
        )


def test_a_failing_pg_dump_is_one_line_and_a_failed_row(backup_dir, settings, tmp_path):
    settings.BACKUP_PG_BIN_DIR = str(tmp_path / "no-postgres-here")

    with pytest.raises(CommandError) as raised:
        call_command("backup", stdout=StringIO(), stderr=StringIO())

    assert str(raised.value) == (
        f"pg_dump not found in BACKUP_PG_BIN_DIR ({settings.BACKUP_PG_BIN_DIR})"
    )
    backup = Backup.objects.get()
    assert (backup.status, backup.error) == (Backup.Status.FAILED, str(raised.value))
    assert not backup_dir.exists() or not any(backup_dir.iterdir())


def test_only_one_backup_runs_at_a_time(backup_dir, other_connection):
    other_connection.execute("SELECT pg_advisory_lock(hashtext(%s))", [BACKUP_LOCK])

    with pytest.raises(BackupAlreadyRunning, match="another backup is running"):
        backup_create()

    assert backup_create_task() == {"skipped": "another backup is running; one runs at a time"}
    assert not Backup.objects.exists()


def test_a_backup_left_running_by_a_dead_process_is_marked_failed(backup_dir):
    dead = Backup.objects.create(name="dead", storage="local", location="x", dump_key="d")

    backup_create()

    dead.refresh_from_db()
    assert dead.status == Backup.Status.FAILED
    assert dead.error == "abandoned: the process running it stopped before it finished"


def test_the_nightly_task_returns_a_summary(backup_dir):
    summary = backup_create_task()

    backup = Backup.objects.get()
    assert summary == {
        "backup": backup.name,
        "status": "succeeded",
        "size_bytes": backup.size_bytes,
        "tables": backup.manifest["totals"]["tables"],
        "rows": backup.manifest["totals"]["rows"],
        "seconds": backup.timings,
        "pruned": [],
        "verification": None,
        "verification_error": None,
    }
    json.dumps(summary)  # JSON-ready, as a task result must be
