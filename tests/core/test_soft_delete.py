"""Soft delete, restore and the two managers (exercised through Asset, a soft-deletable model)."""

import pytest
from django.core.exceptions import ValidationError

from market.models import Asset
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


def test_delete_hides_row_from_default_manager_but_keeps_it():
    asset = AssetFactory(symbol="AAPL")

    asset.delete()

    assert not Asset.objects.filter(pk=asset.pk).exists()
    stored = Asset.all_objects.get(pk=asset.pk)
    assert stored.deleted_at is not None
    assert stored.is_deleted


def test_queryset_delete_is_soft_and_counts_only_live_rows():
    AssetFactory.create_batch(3)
    AssetFactory().delete()

    count, _ = Asset.objects.all().delete()

    assert count == 3
    assert Asset.objects.count() == 0
    assert Asset.all_objects.count() == 4


def test_restore_brings_row_back():
    asset = AssetFactory(symbol="MSFT")
    asset.delete()

    Asset.all_objects.get(pk=asset.pk).restore()

    assert Asset.objects.get(pk=asset.pk).deleted_at is None


def test_restore_refuses_when_a_live_duplicate_exists():
    deleted = AssetFactory(symbol="NVDA")
    deleted.delete()
    AssetFactory(symbol="NVDA")

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

    assert list(Asset.all_objects.alive()) == [alive]
    assert list(Asset.all_objects.dead()) == [Asset.all_objects.get(pk=dead.pk)]
    assert Asset.all_objects.dead().restore() == 1
    assert Asset.objects.count() == 2
