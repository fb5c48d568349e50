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


def test_values_only_the_server_can_round_are_stored_as_its_cast_does():
    asset = AssetFactory()
    # 9 decimals and 10 million or more: sent as float8 and cast by PostgreSQL.
    rows = _rows(
        asset.pk,
        (DAY_1, "1.123456785", "1.2", "1", "1.123456789", 10),
        (DAY_2, None, None, None, "12345678.9", None),
    )

    first = prices_upsert(rows, source="test")
    again = prices_upsert(rows, source="test")

    assert (first.inserted, again.unchanged, again.updated) == (2, 2, 0)
    stored = Price.objects.get(asset=asset, date=DAY_1)
    assert (stored.open, stored.close) == (Decimal("1.12345679"), Decimal("1.12345679"))
    assert Price.objects.get(asset=asset, date=DAY_2).close == Decimal("12345678.90000000")


def test_rows_with_different_missing_columns_in_one_batch_round_trip():
    asset = AssetFactory()
    rows = _rows(
        asset.pk,
        (DAY_1, "10", "11", "9", "10.5", 100),
        (DAY_2, None, "11", None, "10.6", None),
        (DAY_3, None, None, None, "10.7", 300),
    )
    prices_upsert(rows, source="test")
    again = prices_upsert(rows, source="test")
    revised_rows = rows.copy()
    revised_rows.loc[1, "volume"] = 200  # NULL → a value: a change
    revised = prices_upsert(revised_rows, source="test")

    assert again == UpsertResult(unchanged=3)
    assert revised == UpsertResult(updated=1, unchanged=2, changed_asset_ids=frozenset({asset.pk}))
    stored = {
        price.date: (price.open, price.high, price.low, price.close, price.volume)
        for price in Price.objects.filter(asset=asset)
    }
    assert stored == {
        DAY_1: (Decimal("10"), Decimal("11"), Decimal("9"), Decimal("10.5"), 100),
        DAY_2: (None, Decimal("11"), None, Decimal("10.6"), 200),
        DAY_3: (None, None, None, Decimal("10.7"), 300),
    }


def test_a_failure_after_the_updates_leaves_nothing_of_the_batch():
    stored_asset, new_asset = AssetFactory(), AssetFactory()
    prices_upsert(_rows(stored_asset.pk, (DAY_1, 1, 2, 1, "1.5", 10)), source="test")
    # The stored row's new close is written and its revision logged before the new rows go in;
    # the new asset's row then breaks low ≤ high.
    batch = pd.concat(
        [
            _rows(stored_asset.pk, (DAY_1, 1, 2, 1, "1.55", 10)),
            _rows(new_asset.pk, (DAY_1, 5, 4, 6, "5.5", 20)),
        ]
    )

    with pytest.raises(IntegrityError, match="market_price_low_lte_high"):
        prices_upsert(batch, source="test")

    assert Price.objects.get(asset=stored_asset, date=DAY_1).close == Decimal("1.5")
    assert not Price.objects.filter(asset=new_asset).exists()
    assert not PriceRevision.objects.exists()


def test_a_new_batch_breaking_a_constraint_on_its_last_row_leaves_nothing():
    asset = AssetFactory()
    rows = _rows(
        asset.pk, *((DAY_1 + datetime.timedelta(days=n), 1, 2, 1, "1.5", 10) for n in range(500))
    )
    rows.loc[499, "close"] = "0"

    with pytest.raises(IntegrityError, match="market_price_close_positive"):
        prices_upsert(rows, source="test")

    assert not Price.objects.filter(asset=asset).exists()
