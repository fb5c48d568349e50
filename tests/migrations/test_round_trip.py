"""Every migration of the project's apps can be rolled back (docs/migrations.md).

On a scratch database (``tests/migrations/scratch.py``): migrate everything forwards once, then
per app roll its latest migration back and forwards again, and roll the whole app back to zero
and forwards again; each time the schema must come back exactly as the first forward run left
it. Apps and migrations are read from the migration loader, so a migration or an app added
later is covered without editing this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings
from django.db.migrations import Migration, RunPython
from django.db.migrations.loader import MigrationLoader

from tests.migrations.scratch import (
    Schema,
    ScratchDatabase,
    schema_differences,
    scratch_database,
)

pytestmark = pytest.mark.slow  # about two minutes: every step is a manage.py process


def migration_loader() -> MigrationLoader:
    """The migrations on disk (no database needed)."""
    return MigrationLoader(None, ignore_no_migrations=True)


def project_app_labels() -> list[str]:
    """The project's own apps (``LOCAL_APPS``) that have a migrations package."""
    migrated = migration_loader().migrated_apps
    return [
        app_config.label
        for app_config in apps.get_app_configs()
        if app_config.name in settings.LOCAL_APPS and app_config.label in migrated
    ]


@dataclass(frozen=True)
class LatestMigration:
    app_label: str
    name: str
    previous: str  # the app's migration before it, or "zero" for an initial migration


def latest_migration(loader: MigrationLoader, app_label: str) -> LatestMigration:
    """The app's latest migration; skips the test while the app has none."""
    leaves = loader.graph.leaf_nodes(app_label)
    if not leaves:
        pytest.skip(f"{app_label} has no migration yet")
    assert len(leaves) == 1, f"{app_label} has several latest migrations {leaves}: merge them"
    (leaf,) = leaves
    parents = sorted(
        parent.key[1]
        for parent in loader.graph.node_map[leaf].parents
        if parent.key[0] == app_label
    )
    return LatestMigration(app_label, name=leaf[1], previous=parents[0] if parents else "zero")


def backwards_plan_to_zero(loader: MigrationLoader, app_label: str) -> list[Migration]:
    """What ``migrate <app_label> zero`` unapplies from a fully migrated database, in order:
    the app's migrations and every migration (of any app) that depends on them."""
    plan: dict[tuple[str, str], None] = {}
    for root in loader.graph.root_nodes(app_label):
        plan.update(dict.fromkeys(loader.graph.backwards_plan(root)))
    return [loader.graph.nodes[key] for key in plan]


def first_irreversible(plan: list[Migration]) -> Migration | None:
    """The migration at which a backwards run of ``plan`` stops with ``IrreversibleError``."""
    return next(
        (migration for migration in plan if any(not op.reversible for op in migration.operations)),
        None,
    )


def test_first_irreversible_is_the_first_migration_of_the_plan_without_a_reverse():
    schema_change = Migration("0002_schema_change", "demo")
    schema_change.operations = [RunPython(RunPython.noop, RunPython.noop)]
    seeding = Migration("0001_seeding", "demo")
    seeding.operations = [RunPython(RunPython.noop)]  # no reverse: irreversible

    assert first_irreversible([schema_change, seeding]) is seeding
    assert first_irreversible([schema_change]) is None


@pytest.fixture(scope="module")
def scratch() -> Iterator[ScratchDatabase]:
    with scratch_database() as database:
        database.manage("migrate", "--no-input")
        yield database


@pytest.fixture(scope="module")
def forward_schema(scratch: ScratchDatabase) -> Schema:
    """The schema after the first forward run of every migration."""
    schema = scratch.schema()
    assert ("accounts", "0001_initial") in schema["migrations"]
    return schema


def migrate_what_is_unapplied(database: ScratchDatabase, forward_schema: Schema) -> None:
    """Apply every migration again (one more ``migrate``, only if some is unapplied)."""
    if database.applied_migrations() != forward_schema["migrations"]:
        database.manage("migrate", "--no-input")


@pytest.fixture
def migrated(scratch: ScratchDatabase, forward_schema: Schema) -> ScratchDatabase:
    """The scratch database, fully migrated whatever a failed test before left behind."""
    migrate_what_is_unapplied(scratch, forward_schema)
    return scratch


PROJECT_APPS = project_app_labels()


@pytest.mark.parametrize("app_label", PROJECT_APPS)
def test_latest_migration_rolls_back_and_forward_to_the_same_schema(
    app_label, migrated, forward_schema
):
    latest = latest_migration(migration_loader(), app_label)

    migrated.manage("migrate", app_label, latest.previous, "--no-input")
    assert (app_label, latest.name) not in migrated.applied_migrations()
    migrated.manage("migrate", app_label, latest.name, "--no-input")
    assert (app_label, latest.name) in migrated.applied_migrations()
    # The rollback also unapplied what depends on the latest migration (other apps' migrations).
    migrate_what_is_unapplied(migrated, forward_schema)

    assert schema_differences(forward_schema, migrated.schema()) == {}


@pytest.mark.parametrize("app_label", PROJECT_APPS)
def test_app_rolls_back_to_zero_and_forward_to_the_same_schema(app_label, migrated, forward_schema):
    loader = migration_loader()
    latest_migration(loader, app_label)  # skips an app without migrations
    blocker = first_irreversible(backwards_plan_to_zero(loader, app_label))

    result = migrated.manage("migrate", app_label, "zero", "--no-input", check=blocker is None)

    if blocker is None:
        assert not {key for key in migrated.applied_migrations() if key[0] == app_label}
    else:  # a migration documented as irreversible stops the run, and no other one
        assert result.returncode != 0
        assert "IrreversibleError: Operation " in result.stderr
        assert f" in {blocker} is not reversible" in result.stderr
    migrated.manage("migrate", "--no-input")
    assert schema_differences(forward_schema, migrated.schema()) == {}


def test_models_need_no_new_migration_after_the_round_trips(migrated):
    drift = migrated.manage("makemigrations", "--check", "--dry-run", "--no-input", check=False)

    assert drift.returncode == 0, f"models and migrations differ:\n{drift.stdout}{drift.stderr}"
