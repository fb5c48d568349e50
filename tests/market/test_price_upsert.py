"""prices_upsert: the only write path for prices — insert, update with revisions, never delete."""

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import IntegrityError

from market.models import Price, PriceRevision
from market.services import UpsertResult, prices_upsert
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db

DAY_1, DAY_2, DAY_3 = (
    datetime.date(2024, 3, 4),
    datetime.date(2024, 3, 5),
    datetime.date(2024, 3, 6),
)


def _rows(asset_id, *bars):
    """bars: (date, open, high, low, close, volume)."""
    return pd.DataFrame(
        [(asset_id, *bar) for bar in bars],
        columns=["asset_id", "date", "open", "high", "low", "close", "volume"],
    )


def test_first_upsert_inserts_exact_values():
    asset = AssetFactory()
    rows = _rows(
        asset.pk,
        (DAY_1, "170.1", "171.25", "169.5", "170.98765432", 1000),
        (DAY_2, Decimal("171"), Decimal("172"), Decimal("170"), Decimal("171.5"), 2000),
    )

    result = prices_upsert(rows, source="test")

    assert result == UpsertResult(
        inserted=2, updated=0, unchanged=0, revisions=0, changed_asset_ids=frozenset({asset.pk})
    )
    stored = Price.objects.get(asset=asset, date=DAY_1)
    assert (stored.open, stored.high, stored.low, stored.close, stored.volume) == (
        Decimal("170.1"),
        Decimal("171.25"),
        Decimal("169.5"),
        Decimal("170.98765432"),
        1000,
    )
    assert stored.source == "test"


def test_missing_open_high_low_and_volume_are_stored_as_null():
    asset = AssetFactory()
    rows = _rows(asset.pk, (DAY_1, None, np.nan, None, "1.0843", None))

    prices_upsert(rows, source="test")

    stored = Price.objects.get(asset=asset, date=DAY_1)
    assert (stored.open, stored.high, stored.low, stored.volume) == (None, None, None, None)
    assert stored.close == Decimal("1.0843")


def test_rerun_with_same_values_writes_nothing_and_changed_close_is_revised():
    asset = AssetFactory()
    first = _rows(
        asset.pk,
        (DAY_1, 10, 11, 9, "10.5", 100),
        (DAY_2, 10, 11, 9, "10.6", 100),
        (DAY_3, 10, 11, 9, "10.7", 100),
    )
    prices_upsert(first, source="test")
    ingested_before = dict(Price.objects.values_list("date", "ingested_at"))

    again = prices_upsert(first, source="test")
    revised_rows = first.copy()
    revised_rows.loc[1, "close"] = "10.65"  # a vendor revision of DAY_2
    revised_rows.loc[2, "volume"] = 150  # a volume-only change: updated, no close revision
    revised = prices_upsert(revised_rows, source="test", refresh_run_id=None)

    assert again == UpsertResult(inserted=0, updated=0, unchanged=3, revisions=0)
    assert revised == UpsertResult(
        inserted=0, updated=2, unchanged=1, revisions=1, changed_asset_ids=frozenset({asset.pk})
    )
    revision = PriceRevision.objects.get()
    assert (revision.asset_id, revision.date) == (asset.pk, DAY_2)
    assert (revision.old_close, revision.new_close) == (Decimal("10.6"), Decimal("10.65"))
    assert Price.objects.get(asset=asset, date=DAY_1).ingested_at == ingested_before[DAY_1]
    assert Price.objects.get(asset=asset, date=DAY_3).volume == 150


def test_duplicate_keys_keep_the_last_row():
    asset = AssetFactory()
    rows = _rows(asset.pk, (DAY_1, 1, 2, 1, "1.5", 10), (DAY_1, 1, 2, 1, "1.75", 10))

    result = prices_upsert(rows, source="test")

    assert result.inserted == 1
    assert Price.objects.get(asset=asset, date=DAY_1).close == Decimal("1.75")


def test_unknown_asset_rejects_the_whole_batch():
    asset = AssetFactory()
    rows = pd.concat(
        [_rows(asset.pk, (DAY_1, 1, 2, 1, "1.5", 10)), _rows(987654, (DAY_1, 1, 2, 1, "1.5", 10))]
    )

    with pytest.raises(IntegrityError, match="1 asset id"):
        prices_upsert(rows, source="test")

    assert not Price.objects.filter(asset=asset).exists()


@pytest.mark.parametrize("close", [np.nan, None, np.inf])
def test_missing_or_infinite_close_is_refused_before_writing(close):
    asset = AssetFactory()
    rows = _rows(asset.pk, (DAY_1, 1, 2, 1, "1.5", 10), (DAY_2, 1, 2, 1, close, 10))

    with pytest.raises(ValueError, match="close"):
        prices_upsert(rows, source="test")

    assert not Price.objects.filter(asset=asset).exists()


def test_constraint_violation_rejects_the_whole_batch():
    asset = AssetFactory()
    rows = _rows(asset.pk, (DAY_1, 1, 2, 1, "1.5", 10), (DAY_2, 1, 1, 2, "-3", 10))

    with pytest.raises(IntegrityError, match="market_price_close_positive"):
        prices_upsert(rows, source="test")

    assert not Price.objects.filter(asset=asset).exists()


def test_batch_mixing_new_and_stored_keys_inserts_and_updates():
    stored_asset, new_asset = AssetFactory(), AssetFactory()
    prices_upsert(_rows(stored_asset.pk, (DAY_1, 1, 2, 1, "1.5", 10)), source="test")
    batch = pd.concat(
        [
            _rows(stored_asset.pk, (DAY_1, 1, 2, 1, "1.55", 10), (DAY_2, 1, 2, 1, "1.6", 10)),
            _rows(new_asset.pk, (DAY_1, 5, 6, 4, "5.5", 20)),
        ]
    )

    result = prices_upsert(batch, source="test")

    assert result == UpsertResult(
        inserted=2,
        updated=1,
        unchanged=0,
        revisions=1,
        changed_asset_ids=frozenset({stored_asset.pk, new_asset.pk}),
    )

    assert Price.objects.get(asset=stored_asset, date=DAY_1).close == Decimal("1.55")
    assert Price.objects.filter(asset=new_asset).count() == 1


def test_only_assets_with_inserted_or_changed_rows_count_as_changed():
    changed_asset, unchanged_asset = AssetFactory(), AssetFactory()
    prices_upsert(_rows(changed_asset.pk, (DAY_1, 1, 2, 1, "1.5", 10)), source="test")
    prices_upsert(_rows(unchanged_asset.pk, (DAY_1, 1, 2, 1, "2.5", 10)), source="test")
    batch = pd.concat(
        [
            _rows(changed_asset.pk, (DAY_1, 1, 2, 1, "1.5", 10), (DAY_2, 1, 2, 1, "1.6", 10)),
            _rows(unchanged_asset.pk, (DAY_1, 1, 2, 1, "2.5", 10)),
        ]
    )

    result = prices_upsert(batch, source="test")

    assert (result.inserted, result.unchanged) == (1, 2)
    assert result.changed_asset_ids == frozenset({changed_asset.pk})
