"""Series numbers keep exactly the strings DRF's ``DecimalField`` gave them
(``core.decimal_format``), over many values: floats as the levels and weights are stored,
repr ties, values rounding to zero or up a digit, Decimals as prices are stored, and what
falls back to DRF (infinities, NaN, too many digits), errors included.
"""

from __future__ import annotations

import datetime
import decimal
import math
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from core.decimal_format import FixedDecimalField
from market.api.serializers import PriceOutputSerializer
from portfolio.api.serializers import (
    AllocationOutputSerializer,
    IndexValueOutputSerializer,
    level,
    money,
    ratio,
)

# (max_digits, decimal_places) of every field that uses it: levels/weights/ratios, money, prices.
SHAPES = [(24, 6), (24, 2), (20, 8)]
MANY = settings(max_examples=1000, deadline=None)


def _drf(max_digits: int, places: int) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=max_digits, decimal_places=places)


def _fast(max_digits: int, places: int) -> FixedDecimalField:
    return FixedDecimalField(max_digits=max_digits, decimal_places=places)


def _rendered(field: serializers.DecimalField, value: object) -> object:
    """The string, or the exception type when the field refuses the value."""
    try:
        return field.to_representation(value)
    except (decimal.InvalidOperation, ValueError, OverflowError) as error:
        return type(error)


def _same(value: object) -> None:
    for max_digits, places in SHAPES:
        expected = _rendered(_drf(max_digits, places), value)
        assert _rendered(_fast(max_digits, places), value) == expected, (value, places)


@MANY
@given(st.floats(allow_nan=True, allow_infinity=True))
@example(2.5e-06)  # a tie in the repr whose binary value is above it
@example(0.0000005)
@example(-0.0)
@example(0.1 + 0.2)
@example(254.1187335)
@example(999999.9999995)
@example(1e15)
@example(123456789012345.67)
@example(99999999999.999999)
@example(999999999999.99999)
def test_any_float_is_rendered_as_drf_renders_it(value):
    _same(value)


@MANY
@given(st.floats(min_value=1.0, max_value=100_000.0))
def test_index_levels_are_rendered_as_drf_renders_them(value):
    _same(value)


@MANY
@given(st.floats(min_value=0.0, max_value=1.0))
def test_weights_are_rendered_as_drf_renders_them(value):
    _same(value)


@MANY
@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([2, 6, 8]),
    st.sampled_from([0, 1, 4, 5, 6, 9]),
)
def test_ties_and_near_ties_in_the_repr_are_rendered_as_drf_renders_them(units, places, last):
    # Values whose repr has one digit past the last place (5: an exact tie in the repr).
    _same(float(f"{units / 10**places:.{places}f}{last}"))


@MANY
@given(
    st.decimals(
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
        places=8,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_prices_as_stored_are_rendered_as_drf_renders_them(value):
    _same(value)


@MANY
@given(st.decimals(allow_nan=True, allow_infinity=True))
@example(Decimal("1E+2"))
@example(Decimal("0E-8"))
@example(Decimal("-0.00000000"))
@example(Decimal("123456789012345678.12345678"))
@example(Decimal("1000000000000.00000000"))
@example(Decimal("99999999999.99999999"))
def test_any_decimal_is_rendered_as_drf_renders_it(value):
    _same(value)


def test_serializers_render_the_old_strings_and_keep_nulls():
    old_level = _drf(24, 6)
    levels = [100.0, 254.11873312345678, 99.9999995, 0.000125, 1.0000005, 123.4567895]
    rows = [SimpleNamespace(date=datetime.date(2024, 1, 2), level=value) for value in levels]

    rendered = IndexValueOutputSerializer(rows, many=True).data

    assert [row["level"] for row in rendered] == [old_level.to_representation(v) for v in levels]
    assert rendered[0] == {"date": "2024-01-02", "level": "100.000000"}
    assert rendered[1]["level"] == "254.118733"
    price = SimpleNamespace(
        date=datetime.date(2024, 1, 2),
        open=None,
        high=Decimal("10.50000000"),
        low=Decimal("9.12345678"),
        close=Decimal("10.00000000"),
        volume=None,
    )
    assert PriceOutputSerializer(price).data == {
        "date": "2024-01-02",
        "open": None,
        "high": "10.50000000",
        "low": "9.12345678",
        "close": "10.00000000",
        "volume": None,
    }


@pytest.mark.parametrize("make", [level, money, ratio])
def test_every_fixed_places_field_of_the_index_api_is_the_fast_one(make):
    assert isinstance(make(), FixedDecimalField)
    assert isinstance(AllocationOutputSerializer().fields["weight"], FixedDecimalField)
    assert isinstance(PriceOutputSerializer().fields["close"], FixedDecimalField)


def test_the_fast_path_is_taken_for_stored_values(monkeypatch):
    calls = []
    original = serializers.DecimalField.to_representation

    def counted(field, value):
        calls.append(value)
        return original(field, value)

    monkeypatch.setattr(serializers.DecimalField, "to_representation", counted)
    field = _fast(24, 6)
    for value in [math.pi * 100, 0.25, 100.0, 1 / 3]:
        field.to_representation(value)
    _fast(20, 8).to_representation(Decimal("412.12000000"))

    assert calls == []  # no quantize for any of them


PRICE_VALUES = [
    Decimal("0.00000001"),
    Decimal("1"),
    Decimal("10.5"),
    Decimal("9.12345678"),
    Decimal("123456789012.12345678"),
    Decimal("99999999999.99999999"),
    None,
]


@pytest.mark.django_db
def test_price_rows_read_as_text_are_the_strings_drf_renders_for_the_stored_values():
    from market.models import Price
    from market.selectors import price_list, price_rows
    from tests.factories import AssetFactory, PriceFactory

    asset = AssetFactory.create()
    first = datetime.date(2024, 1, 1)
    for offset, value in enumerate(PRICE_VALUES):
        PriceFactory.create(
            asset=asset,
            date=first + datetime.timedelta(days=offset),
            open=value,
            high=value,
            low=value,
            close=value if value is not None else Decimal("1.5"),
            volume=None if value is None else offset,
        )
    drf = _drf(20, 8)

    rows = PriceOutputSerializer(list(price_rows(asset=asset)), many=True).data
    stored = list(price_list(asset=asset))

    assert len(rows) == len(PRICE_VALUES) == Price.objects.filter(asset=asset).count()
    for row, price in zip(rows, stored, strict=True):
        assert row == {
            "date": price.date.isoformat(),
            **{
                name: None
                if getattr(price, name) is None
                else drf.to_representation(getattr(price, name))
                for name in ("open", "high", "low", "close")
            },
            "volume": price.volume,
        }
    assert rows[0]["close"] == "0.00000001"
    assert rows[4]["close"] == "123456789012.12345678"
    assert rows[-1]["open"] is None
    assert rows[-1]["close"] == "1.50000000"
