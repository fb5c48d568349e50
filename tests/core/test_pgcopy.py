"""core.pgcopy: binary COPY payloads read back by PostgreSQL exactly as meant."""

import datetime
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection, transaction

from core.pgcopy import Column, binary_copy_payload, copy_binary, float8_numeric_units

pytestmark = pytest.mark.django_db


def _round_trip(ddl: str, columns, names):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE copied ({ddl}) ON COMMIT DROP")
        copy_binary("copied", names, binary_copy_payload(columns))
        cursor.execute(f"SELECT {', '.join(names)} FROM copied ORDER BY id")
        return cursor.fetchall()


DAY = datetime.date(2024, 3, 4)


def test_numeric_text_and_nulls_round_trip():
    rows = _round_trip(
        "id bigint, price numeric(20, 8), small numeric(10, 6), label varchar(5), day date",
        [
            Column(np.array([1, 2, 3, 4]), "int8"),
            Column(
                np.array([17098765432, -5, 0, 999_999_999_999_999_999]),
                "numeric",
                nulls=np.array([False, False, True, False]),
                scale=8,
            ),
            Column(np.array([1_500_000, 7, 0, 123]), "numeric", scale=6),
            Column(np.full(4, b"bench"), "text"),
            Column(np.array(["2024-03-04"] * 4, dtype="datetime64[D]"), "date"),
        ],
        ["id", "price", "small", "label", "day"],
    )

    assert rows == [
        (1, Decimal("170.98765432"), Decimal("1.500000"), "bench", DAY),
        (2, Decimal("-0.00000005"), Decimal("0.000007"), "bench", DAY),
        (3, None, Decimal("0.000000"), "bench", DAY),
        (
            4,
            Decimal("9999999999.99999999"),
            Decimal("0.000123"),
            "bench",
            datetime.date(2024, 3, 4),
        ),
    ]


def test_text_values_must_have_one_length():
    with pytest.raises(ValueError, match="one length"):
        binary_copy_payload([Column(np.array([b"ab", b"abc"]), "text")])


def test_float8_numeric_units_are_what_postgresql_stores():
    rng = np.random.default_rng(15)
    # Vendor-like prices: up to 8 decimals, from fractions of a cent to a few million.
    shifts = 10.0 ** rng.integers(0, 9, size=4000)  # 0 to 8 decimals
    magnitudes = 10.0 ** rng.integers(-3, 7, size=4000)
    values = np.rint(rng.random(4000) * magnitudes * shifts) / shifts
    values[::7] *= -1

    units = float8_numeric_units(values, 8)

    assert units is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (v::numeric(20, 8) * 100000000)::bigint FROM unnest(%s::float8[]) "
            "WITH ORDINALITY AS t(v, n) ORDER BY n",
            [values.tolist()],
        )
        stored = [units for (units,) in cursor.fetchall()]
    assert units.tolist() == stored


@pytest.mark.parametrize("value", [1.123456789, 12_345_678.5, float("nan"), float("inf")])
def test_values_the_client_cannot_tell_exactly_are_left_to_the_server(value):
    assert float8_numeric_units(np.array([1.5, value]), 8) is None
