"""Soft delete, restore and the two managers (exercised through Asset, a soft-deletable model).

The database already holds the default universe (a data migration), so queries here are
restricted to the rows each test creates.
"""

import pytest
from django.core.exceptions import ValidationError

from market.models import Asset
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


def test_delete_hides_row_from_default_manager_but_keeps_it():
    asset = AssetFactory(symbol="SOFTA")

    asset.delete()

    assert not Asset.objects.filter(pk=asset.pk).exists()
    stored = Asset.all_objects.get(pk=asset.pk)
    assert stored.deleted_at is not None
    assert stored.is_deleted


def test_queryset_delete_is_soft_and_counts_only_live_rows():
    created = [asset.pk for asset in AssetFactory.create_batch(3)]
    dead = AssetFactory()
    dead.delete()
    created.append(dead.pk)

    count, _ = Asset.objects.filter(pk__in=created).delete()

    assert count == 3
    assert Asset.objects.filter(pk__in=created).count() == 0
    assert Asset.all_objects.filter(pk__in=created).count() == 4


def test_restore_brings_row_back():
    asset = AssetFactory(symbol="SOFTB")
    asset.delete()

    Asset.all_objects.get(pk=asset.pk).restore()

    assert Asset.objects.get(pk=asset.pk).deleted_at is None


def test_restore_refuses_when_a_live_duplicate_exists():
    deleted = AssetFactory(symbol="SOFTC")
    deleted.delete()
    AssetFactory(symbol="SOFTC")

    with pytest.raises(ValidationError, match="live asset with this symbol already exists"):
        Asset.all_objects.get(pk=deleted.pk).restore()
    assert Asset.all_objects.get(pk=deleted.pk).deleted_at is not None


def test_hard_delete_removes_the_row():
    asset = AssetFactory()

    asset.hard_delete()

    assert not Asset.all_objects.filter(pk=asset.pk).exists()


def test_all_objects_queryset_helpers_split_alive_and_dead():
    alive = AssetFactory()
    dead = AssetFactory()
    dead.delete()
    mine = Asset.all_objects.filter(pk__in=[alive.pk, dead.pk])

    assert list(mine.alive()) == [alive]
    assert list(mine.dead()) == [Asset.all_objects.get(pk=dead.pk)]
    assert mine.dead().restore() == 1
    assert Asset.objects.filter(pk__in=[alive.pk, dead.pk]).count() == 2
