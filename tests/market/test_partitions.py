"""The price table is range-partitioned by year; DEFAULT catches rows with no partition."""

import datetime
import json

import pytest
from django.core.management import call_command
from django.db import connection

from market.models import Price
from market.partitions import (
    create_partition_sql,
    ensure_year_partitions,
    existing_year_partitions,
)
from tests.factories import AssetFactory, PriceFactory

pytestmark = pytest.mark.django_db

FAR_YEAR = 2041  # beyond any partition the migration or the command creates by default


def _partition_of(asset_id: int, date: datetime.date) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM market_price WHERE asset_id = %s AND date = %s",
            [asset_id, date],
        )
        return cursor.fetchone()[0]


def test_price_table_is_partitioned_by_range_on_date():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pt.partstrat, a.attname
            FROM pg_partitioned_table pt
            JOIN pg_class c ON c.oid = pt.partrelid
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
            WHERE c.relname = 'market_price'
            """
        )
        assert cursor.fetchone() == ("r", "date")
        cursor.execute(
            "SELECT partdefid::regclass::text FROM pg_partitioned_table "
            "WHERE partrelid = 'market_price'::regclass"
        )
        assert cursor.fetchone() == ("market_price_default",)
        this_year = datetime.datetime.now(tz=datetime.UTC).year
        assert set(range(2015, this_year + 2)) <= existing_year_partitions(cursor)


def test_row_lands_in_its_year_partition():
    price = PriceFactory(date=datetime.date(2020, 6, 1))
    assert _partition_of(price.asset_id, price.date) == "market_price_y2020"


def test_row_without_partition_lands_in_default_and_moves_when_partition_is_created():
    asset = AssetFactory()
    far_dates = [datetime.date(FAR_YEAR, 1, 1), datetime.date(FAR_YEAR, 12, 31)]
    for day in far_dates:
        PriceFactory(asset=asset, date=day)
    PriceFactory(asset=asset, date=datetime.date(FAR_YEAR + 1, 3, 3))  # stays in DEFAULT
    assert {_partition_of(asset.id, day) for day in far_dates} == {"market_price_default"}

    report = ensure_year_partitions([FAR_YEAR])

    assert report.created == [FAR_YEAR]
    assert report.rows_moved_from_default == 3
    assert {_partition_of(asset.id, day) for day in far_dates} == {f"market_price_y{FAR_YEAR}"}
    assert _partition_of(asset.id, datetime.date(FAR_YEAR + 1, 3, 3)) == "market_price_default"
    assert Price.objects.filter(asset=asset).count() == 3


def test_ensure_partitions_is_idempotent():
    first = ensure_year_partitions([FAR_YEAR, FAR_YEAR + 1])
    second = ensure_year_partitions([FAR_YEAR, FAR_YEAR + 1])

    assert first.created == [FAR_YEAR, FAR_YEAR + 1]
    assert second.created == []


def test_ensure_partitions_command_creates_years_ahead(capsys):
    this_year = datetime.datetime.now(tz=datetime.UTC).year
    call_command("ensure_partitions", "--years-ahead", "3")
    call_command("ensure_partitions", "--years-ahead", "3")

    with connection.cursor() as cursor:
        assert set(range(this_year, this_year + 4)) <= existing_year_partitions(cursor)
    out = capsys.readouterr().out
    assert out.strip().endswith("all partitions already exist")


def test_one_asset_one_year_query_touches_only_that_partition_via_primary_key():
    asset = AssetFactory()
    for year in (2019, 2020, 2021):
        PriceFactory(asset=asset, date=datetime.date(year, 5, 5))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE market_price")
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: force the plan prod uses
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT * FROM market_price "
            "WHERE asset_id = %s AND date >= '2020-01-01' AND date < '2021-01-01'",
            [asset.id],
        )
        plan = json.dumps(cursor.fetchone()[0])
    assert "market_price_y2020" in plan
    for other in ("market_price_y2019", "market_price_y2021", "market_price_default"):
        assert other not in plan
    assert "market_price_y2020_pkey" in plan


def test_partition_ddl_quotes_table_names_as_identifiers_and_bounds_as_literals():
    with connection.cursor() as cursor:
        statement = create_partition_sql(2030).as_string(cursor.connection)

    assert statement == (
        'CREATE TABLE "market_price_y2030" PARTITION OF "market_price" '
        "FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')"
    )
