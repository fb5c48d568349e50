"""Asset invariants: live-symbol uniqueness (partial index), symbol and currency formats.

The default universe (AAPL, TSLA, GLD, …) already exists after migrate, so tests use symbols
outside it.
"""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import AuditEvent
from core.errors import ConflictError
from market.models import Asset
from market.services import asset_create
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db


def test_live_duplicate_symbol_is_a_conflict_with_a_clear_error():
    asset_create(actor=None, symbol="ORCL", asset_class="equity")

    with pytest.raises(ConflictError) as excinfo:
        asset_create(actor=None, symbol="ORCL", asset_class="equity")

    assert excinfo.value.detail == "A live asset with this symbol already exists."
    assert Asset.objects.filter(symbol="ORCL").count() == 1


def test_database_rejects_live_duplicate_even_without_validation():
    AssetFactory(symbol="ORCL")

    with pytest.raises(IntegrityError, match="market_asset_symbol_live_uniq"), transaction.atomic():
        Asset.objects.create(symbol="ORCL", asset_class="equity")


def test_deleted_symbol_can_be_created_again():
    AssetFactory(symbol="INTC").delete()

    recreated = asset_create(actor=None, symbol="INTC", asset_class="equity")

    assert Asset.objects.get(symbol="INTC") == recreated
    assert Asset.all_objects.filter(symbol="INTC").count() == 2


@pytest.mark.parametrize("symbol", ["ORCL", "BRK.B", "NZD/USD", "^DJI", "BF-B", "A1"])
def test_valid_symbols_are_accepted(symbol):
    assert asset_create(actor=None, symbol=symbol, asset_class="equity").symbol == symbol


@pytest.mark.parametrize("symbol", ["aapl", "AA PL", "", "A" * 21, "AAPL$", "ÄPPL"])
def test_invalid_symbols_are_rejected(symbol):
    with pytest.raises(ValidationError) as excinfo:
        asset_create(actor=None, symbol=symbol, asset_class="equity")
    assert "symbol" in excinfo.value.message_dict


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "12A"])
def test_invalid_currency_is_rejected(currency):
    with pytest.raises(ValidationError) as excinfo:
        asset_create(actor=None, symbol="AAPL", asset_class="equity", currency=currency)
    assert (
        "A currency is a three-letter ISO 4217 code such as USD."
        in excinfo.value.message_dict["currency"]
    )


def test_unknown_asset_class_is_rejected():
    with pytest.raises(ValidationError) as excinfo:
        asset_create(actor=None, symbol="AAPL", asset_class="crypto")
    assert "asset_class" in excinfo.value.message_dict


def test_asset_changes_are_kept_in_history():
    asset = asset_create(actor=None, symbol="IAU", asset_class="commodity", name="Gold")
    asset.name = "SPDR Gold Shares"
    asset.save()

    assert [record.name for record in asset.history.order_by("history_date")] == [
        "Gold",
        "SPDR Gold Shares",
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_concurrent_create_of_the_same_symbol_is_a_conflict_not_a_500():
    """The pre-check cannot see a concurrent, uncommitted insert: the unique index decides."""
    inserted, release = threading.Event(), threading.Event()

    def other_request() -> None:
        try:
            with transaction.atomic():
                Asset.objects.create(symbol="ORCL", asset_class="equity")
                inserted.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    other = threading.Thread(target=other_request)
    other.start()
    assert inserted.wait(timeout=10)
    threading.Timer(0.5, release.set).start()  # commit while our insert waits on the index

    started = time.monotonic()
    with pytest.raises(ConflictError, match="already exists"):
        asset_create(actor=None, symbol="ORCL", asset_class="equity")
    waited = time.monotonic() - started

    assert waited >= 0.3  # it got past the pre-check and waited on the unique index
    other.join(timeout=10)
    assert Asset.objects.filter(symbol="ORCL").count() == 1
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ASSET_CREATED).exists()
