"""Archiving superseded runs to verified files, and restoring them bit for bit."""

from __future__ import annotations

import datetime
import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from portfolio.models import Allocation, IndexRun, IndexValue
from portfolio.selectors import index_runs_archivable
from portfolio.services import (
    RunArchiveCorruptError,
    RunArchiveError,
    archive_files,
    index_run_archive,
    index_run_archive_restore,
    index_run_publish,
    index_runs_archive,
)
from portfolio.tasks import runs_archive
from tests.factories import AnalystFactory, UserFactory
from tests.portfolio.published import published_index_build, run_build

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


def days_ago(days: int) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


@pytest.fixture(autouse=True)
def archive_settings(settings, tmp_path):
    settings.RUN_ARCHIVE_DIR = tmp_path / "run-archive"
    settings.RUN_ARCHIVE_AFTER_DAYS = 30
    settings.RUN_ARCHIVE_KEEP_SUPERSEDED = 3
    return settings


def backdate(run: IndexRun, days: int) -> None:
    started = days_ago(days)
    IndexRun.objects.filter(pk=run.pk).update(
        started_at=started, finished_at=started + datetime.timedelta(seconds=12)
    )


@pytest.fixture
def runs():
    """Five superseded runs (ages 200, 150, 100, 90, 10 days), the published run (80 days old),
    a failed run and a never-published succeeded run (both 300 days old)."""
    index = published_index_build(slug="archived", days=60, publish=False)
    built = {}
    for name, shift, age in (
        ("s200", 0.0, 200),
        ("s150", 0.5, 150),
        ("s100", 1.0, 100),
        ("s90", 1.5, 90),
        ("s10", 2.0, 10),
        ("published", 2.5, 80),
    ):
        built[name] = run_build(index=index, days=60, rebalance_every=10, shift=shift)
        backdate(built[name], age)
    built["failed"] = run_build(index=index, days=60, status=IndexRun.Status.FAILED)
    built["unpublished"] = run_build(index=index, days=60, shift=9.0, publish=False)
    for name in ("failed", "unpublished"):
        backdate(built[name], 300)
    for run in built.values():
        run.refresh_from_db()
    assert [built[name].status for name in ("s200", "s10", "published", "unpublished")] == [
        "superseded",
        "superseded",
        "published",
        "succeeded",
    ]
    return built


def rows_of(run: IndexRun):
    levels = list(IndexValue.objects.filter(run=run).order_by("date").values_list("date", "level"))
    weights = list(
        Allocation.objects.filter(run=run)
        .order_by("rebalance_date", "asset_id")
        .values_list("rebalance_date", "asset_id", "weight")
    )
    return levels, weights


def total_levels_of(run: IndexRun):
    return list(
        IndexValue.objects.filter(run=run).order_by("date").values_list("date", "total_level")
    )


def test_policy_selects_old_superseded_runs_beyond_the_newest_kept(runs):
    selected = list(index_runs_archivable(now=NOW))
    keep_one = list(index_runs_archivable(now=NOW, keep_superseded=1))
    shorter_window = list(index_runs_archivable(now=NOW, after_days=5, keep_superseded=0))

    # The newest three superseded (s10, s90, s100) stay; the published, failed and
    # never-published runs are never selected, however old.
    assert selected == [runs["s200"], runs["s150"]]
    assert keep_one == [runs["s200"], runs["s150"], runs["s100"], runs["s90"]]
    assert shorter_window == [*keep_one, runs["s10"]]


def test_archiving_removes_the_rows_and_keeps_the_summary(runs):
    summary_before = IndexRun.objects.filter(pk=runs["s200"].pk).values(
        "status", "last_level", "data_through", "metrics", "config_snapshot", "universe_snapshot"
    )[0]
    levels, weights = rows_of(runs["s200"])

    report = index_runs_archive(now=NOW)

    assert [run.pk for run in report.archived] == [runs["s200"].pk, runs["s150"].pk]
    archived = IndexRun.objects.get(pk=runs["s200"].pk)
    assert rows_of(archived) == ([], [])
    assert IndexRun.objects.filter(pk=archived.pk).values(*summary_before)[0] == summary_before
    assert archived.archived_at == NOW
    assert archived.archive_location == f"archived/{archived.pk}"
    assert (archived.archived_value_count, archived.archived_allocation_count) == (
        len(levels),
        len(weights),
    )
    for name in ("s100", "s90", "s10", "published", "unpublished"):
        run = IndexRun.objects.get(pk=runs[name].pk)
        assert run.archived_at is None
        assert IndexValue.objects.filter(run=run).count() == 60


def test_archive_files_match_the_recorded_checksums(runs, archive_settings):
    index_runs_archive(now=NOW)
    run = IndexRun.objects.get(pk=runs["s200"].pk)
    folder = archive_settings.RUN_ARCHIVE_DIR / run.archive_location

    manifest_bytes = (folder / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)

    assert hashlib.sha256(manifest_bytes).hexdigest() == run.archive_sha256
    assert sorted(path.name for path in folder.iterdir()) == [
        "allocations.parquet",
        "levels.parquet",
        "manifest.json",
    ]
    for name, recorded in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == recorded["sha256"]
    assert manifest["files"]["levels.parquet"]["rows"] == run.archived_value_count == 60
    assert manifest["run"]["metrics"] == run.metrics
    assert run.archive_bytes == sum(path.stat().st_size for path in folder.iterdir())


def test_restore_brings_back_byte_identical_rows(runs, capsys):
    run = runs["s200"]
    levels, weights = rows_of(run)
    index_runs_archive(now=NOW)

    call_command("archive_restore", str(run.pk), verbosity=0)

    restored = IndexRun.objects.get(pk=run.pk)
    assert rows_of(restored) == (levels, weights)
    after_levels, after_weights = rows_of(restored)
    assert [level.hex() for _, level in after_levels] == [level.hex() for _, level in levels]
    assert [weight.hex() for *_, weight in after_weights] == [w.hex() for *_, w in weights]
    assert (restored.archived_at, restored.archive_location, restored.archive_sha256) == (
        None,
        "",
        "",
    )
    assert restored.archive_restored_at is not None
    assert restored.status == IndexRun.Status.SUPERSEDED
    assert f"run #{run.pk} restored" in capsys.readouterr().out


def test_a_tampered_archive_refuses_to_restore_and_changes_nothing(runs, archive_settings):
    index_runs_archive(now=NOW)
    run = IndexRun.objects.get(pk=runs["s200"].pk)
    levels_file = archive_settings.RUN_ARCHIVE_DIR / run.archive_location / "levels.parquet"
    tampered = bytearray(levels_file.read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    levels_file.write_bytes(bytes(tampered))

    with pytest.raises(CommandError, match=r"levels\.parquet does not match its SHA-256"):
        call_command("archive_restore", str(run.pk), verbosity=0)

    assert IndexRun.objects.get(pk=run.pk).archive_sha256 == run.archive_sha256
    assert rows_of(run) == ([], [])


def test_a_missing_archive_file_is_a_clear_error(runs, archive_settings):
    index_runs_archive(now=NOW)
    run = IndexRun.objects.get(pk=runs["s150"].pk)
    (archive_settings.RUN_ARCHIVE_DIR / run.archive_location / "allocations.parquet").unlink()

    with pytest.raises(RunArchiveCorruptError, match=r"allocations\.parquet is missing"):
        index_run_archive_restore(run=run)


def test_restore_refuses_a_run_that_is_not_archived_or_still_has_rows(runs):
    index_runs_archive(now=NOW)
    archived = IndexRun.objects.get(pk=runs["s200"].pk)
    IndexValue.objects.create(run=archived, date=datetime.date(2030, 1, 1), level=1.0)

    with pytest.raises(RunArchiveError, match="is not archived"):
        index_run_archive_restore(run=runs["s10"])
    with pytest.raises(RunArchiveError, match="still has rows"):
        index_run_archive_restore(run=archived)
    assert Allocation.objects.filter(run=archived).count() == 0


def test_the_published_run_is_never_archived(runs):
    with pytest.raises(RunArchiveError, match=r"\(published\) is not archivable"):
        index_run_archive(run=runs["published"], now=NOW)
    with pytest.raises(RunArchiveError, match="not archivable"):
        index_run_archive(run=runs["s10"], now=NOW)

    assert IndexValue.objects.filter(run=runs["published"]).count() == 60


def test_the_database_refuses_an_archived_run_as_the_published_one(runs):
    index_runs_archive(now=NOW)

    with (
        pytest.raises(IntegrityError, match="portfolio_indexrun_published_not_archived"),
        transaction.atomic(),
    ):
        IndexRun.objects.filter(pk=runs["s200"].pk).update(status=IndexRun.Status.PUBLISHED)

    assert IndexRun.objects.get(pk=runs["published"].pk).status == IndexRun.Status.PUBLISHED


def test_archiving_is_idempotent_and_a_restored_run_stays_restored(runs):
    first = index_runs_archive(now=NOW)
    index_run_archive_restore(run=runs["s200"], now=NOW)
    second = index_runs_archive(now=NOW)

    assert len(first.archived) == 2
    assert second.archived == ()
    assert IndexValue.objects.filter(run=runs["s200"]).count() == 60


def test_the_task_archives_and_returns_its_summary(runs):
    first = runs_archive()
    second = runs_archive()

    assert first["archived"] == 2
    assert first["run_ids"] == [runs["s200"].pk, runs["s150"].pk]
    assert first["values"] == 120
    assert first["allocations"] == 2 * 6 * 4
    assert first["bytes"] > 0
    assert second["archived"] == 0


def test_archive_runs_command_dry_run_then_archive(runs, capsys):
    call_command("archive_runs", "--dry-run", verbosity=0)
    listed = capsys.readouterr().out
    assert IndexRun.objects.filter(archived_at__isnull=False).count() == 0

    call_command("archive_runs", verbosity=0)
    printed = capsys.readouterr().out

    assert f"#{runs['s200'].pk}" in listed
    assert f"#{runs['s150'].pk}" in listed
    assert "archived 2 runs" in printed
    assert IndexRun.objects.filter(archived_at__isnull=False).count() == 2


def test_archive_restore_command_names_an_unknown_run():
    with pytest.raises(CommandError, match="no index run #999999"):
        call_command("archive_restore", "999999", verbosity=0)


def test_an_archived_runs_detail_still_answers_and_says_it_is_archived(runs):
    index_runs_archive(now=NOW)
    client = APIClient()
    client.force_authenticate(user=AnalystFactory())
    url = reverse(
        "api:index-run-detail",
        kwargs={"version": "v2", "slug": "archived", "pk": runs["s200"].pk},
    )

    body = client.get(url).json()

    assert body["status"] == "superseded"
    assert body["archived_at"] is not None
    assert body["metrics"] == IndexRun.objects.get(pk=runs["s200"].pk).metrics


def test_admin_restores_an_archived_run(runs, client):
    index_runs_archive(now=NOW)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:portfolio_indexrun_changelist"),
        {"action": "restore_runs", "_selected_action": [runs["s200"].pk, runs["s10"].pk]},
        follow=True,
    )

    assert IndexValue.objects.filter(run=runs["s200"]).count() == 60
    assert [str(message) for message in response.context["messages"]] == [
        f"Run #{runs['s200'].pk} of Archived Index restored from its archive.",
        f"run #{runs['s10'].pk} is not archived",
    ]


def test_admin_refuses_to_publish_an_archived_run(runs, client):
    index_runs_archive(now=NOW)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:portfolio_indexrun_changelist"),
        {"action": "publish_run", "_selected_action": [runs["s200"].pk]},
        follow=True,
    )

    assert [str(message) for message in response.context["messages"]] == [
        f"Run #{runs['s200'].pk} is archived: restore it first."
    ]
    assert IndexRun.objects.get(pk=runs["published"].pk).status == IndexRun.Status.PUBLISHED


def test_archiving_and_restoring_are_audited_with_the_actor(runs):
    analyst = AnalystFactory()
    run = runs["s200"]

    index_run_archive(run=run, now=NOW, actor=analyst)
    index_run_archive_restore(run=run, now=NOW, actor=analyst)

    archived, restored = AuditEvent.objects.order_by("id").filter(
        action__in=[AuditEvent.Action.RUN_ARCHIVED, AuditEvent.Action.RUN_RESTORED]
    )
    assert (archived.action, archived.actor, archived.target_id) == (
        AuditEvent.Action.RUN_ARCHIVED,
        analyst,
        str(run.pk),
    )
    assert archived.details["location"] == f"{run.index.slug}/{run.pk}"
    assert restored.action == AuditEvent.Action.RUN_RESTORED
    assert restored.details["sha256"] == archived.details["sha256"]


def test_an_archived_run_cannot_be_published_until_restored(runs):
    run = index_run_archive(run=runs["s200"], now=NOW)

    with pytest.raises(ValueError, match="is archived: restore it from its archive first"):
        index_run_publish(run=run)


def test_restore_brings_back_the_total_return_levels_bit_for_bit(runs):
    run = runs["s200"]
    total_levels = total_levels_of(run)
    index_runs_archive(now=NOW)

    restored = index_run_archive_restore(run=run, now=NOW)

    after = total_levels_of(restored)
    assert [total.hex() for _, total in after] == [total.hex() for _, total in total_levels]
    assert after[-1][1] == pytest.approx(runs["s200"].last_total_level, rel=0)


def _old_run_to_archive(archive_settings):
    """A superseded run computed before total-return levels existed (null), archivable."""
    archive_settings.RUN_ARCHIVE_KEEP_SUPERSEDED = 0
    index = published_index_build(slug="pre-total", days=30, publish=False)
    old = run_build(index=index, days=30, rebalance_every=10, with_total=False)
    run_build(index=index, days=30, rebalance_every=10, shift=1.0)
    backdate(old, 200)
    return IndexRun.objects.get(pk=old.pk)


def test_a_run_without_total_levels_restores_them_as_null(archive_settings):
    run = _old_run_to_archive(archive_settings)
    levels, weights = rows_of(run)

    index_run_archive(run=run, now=NOW)
    restored = index_run_archive_restore(run=run, now=NOW)

    assert rows_of(restored) == (levels, weights)
    assert {total for _, total in total_levels_of(restored)} == {None}


def test_a_version_1_archive_without_a_total_level_column_still_restores(
    archive_settings, monkeypatch
):
    run = _old_run_to_archive(archive_settings)
    levels, weights = rows_of(run)
    # Archive it as the code before total-return levels did: version 1, two level columns.
    monkeypatch.setattr(archive_files, "LEVELS_SCHEMA", archive_files.LEVELS_SCHEMA_V1)
    monkeypatch.setattr(archive_files, "ARCHIVE_FORMAT_VERSION", 1)
    index_run_archive(run=run, now=NOW)
    monkeypatch.undo()
    folder = archive_settings.RUN_ARCHIVE_DIR / f"pre-total/{run.pk}"
    assert json.loads((folder / "manifest.json").read_bytes())["version"] == 1

    restored = index_run_archive_restore(run=run, now=NOW)

    assert rows_of(restored) == (levels, weights)
    assert {total for _, total in total_levels_of(restored)} == {None}
