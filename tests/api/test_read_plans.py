"""Query plans of every published read path: each uses its index and prunes partitions.

The queries are the ones the views run on a cache miss (captured with
``CaptureQueriesContext``), planned with ``EXPLAIN (FORMAT JSON)`` — ``ANALYZE`` for the
benchmark, whose price lookups are pruned at run time (one date per outer row). The planner
chooses on its own (no ``enable_seqscan = off``): the tables hold enough rows for an index to be
the cheaper plan — other runs' levels and weights, and five years of closes of 40 other assets
(about 50 000 price rows over the yearly partitions) — and are ``ANALYZE``d first.

Indexes: ``portfolio_indexvalue_pkey`` (run, date), ``portfolio_allocation_pkey`` (run,
rebalance date, asset), and each yearly partition's copy of ``market_price_pk`` (asset, date).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from market.models import Asset, AssetClass
from market.partitions import ensure_year_partitions
from tests.portfolio.published import published_index_build, trading_days

from .conftest import api_url

pytestmark = pytest.mark.django_db

OTHER_RUNS = 40
OTHER_ASSETS = 40
FILLER_RUN_ID = 1_000_000  # runs that exist only as rows (the run foreign key has no constraint)
DAYS = 600  # 2023-01-02 … 2025-04-18: three yearly partitions
SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@pytest.fixture
def index():
    ensure_year_partitions(range(2019, 2027))
    index = published_index_build(slug="planned", assets=20, days=DAYS, rebalance_every=5)
    fillers = Asset.objects.bulk_create(
        Asset(symbol=f"FILL{number:03d}", name="filler", asset_class=AssetClass.EQUITY)
        for number in range(OTHER_ASSETS)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO market_price (asset_id, date, close, source)
            SELECT asset_id, day::date, 100 + asset_id %% 7, 'test'
            FROM unnest(%s::bigint[]) AS asset_id,
                 generate_series(DATE '2019-01-01', DATE '2025-12-31', INTERVAL '1 day') AS day
            WHERE extract(isodow FROM day) < 6
            """,
            [[asset.pk for asset in fillers]],
        )
        cursor.execute(
            """
            INSERT INTO portfolio_indexvalue (run_id, date, level, total_level)
            SELECT run_id, day::date, 100, 100
            FROM generate_series(%s, %s) AS run_id,
                 generate_series(DATE '2016-01-01', DATE '2025-12-31', INTERVAL '1 day') AS day
            WHERE extract(isodow FROM day) < 6
            """,
            [FILLER_RUN_ID, FILLER_RUN_ID + OTHER_RUNS - 1],
        )
        cursor.execute(
            """
            INSERT INTO portfolio_allocation (run_id, rebalance_date, asset_id, weight)
            SELECT run_id, DATE '2016-01-04' + 7 * week, asset_id, 0.05
            FROM generate_series(%s, %s) AS run_id, generate_series(0, 500) AS week,
                 unnest(%s::bigint[]) AS asset_id
            """,
            [FILLER_RUN_ID, FILLER_RUN_ID + OTHER_RUNS - 1, [a.pk for a in fillers[:20]]],
        )
        cursor.execute("ANALYZE market_price, portfolio_indexvalue, portfolio_allocation")
    return index


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(sql: str, *, analyze: bool = False) -> list[dict[str, Any]]:
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ({options}) {sql}")
        raw = cursor.fetchone()[0]
    document = json.loads(raw) if isinstance(raw, str) else raw
    return list(_nodes(document[0]["Plan"]))


def _queries_reading(client, url: str, params: dict[str, Any], table: str) -> list[str]:
    """The SQL of the view's queries that read ``table`` (a cache miss: Redis is empty)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    pattern = re.compile(rf'\b"?{table}"?\b')
    found = [query["sql"] for query in captured.captured_queries if pattern.search(query["sql"])]
    assert found, f"no query read {table}"
    return found


def _scans_of(nodes: list[dict[str, Any]], relation_prefix: str) -> list[dict[str, Any]]:
    """Every node that reads a relation (or one of its partitions) named ``relation_prefix…``,
    the index scans under a bitmap heap scan included."""
    return [
        node
        for node in nodes
        if str(node.get("Relation Name", node.get("Index Name", ""))).startswith(relation_prefix)
    ]


def _assert_uses_index(nodes: list[dict[str, Any]], table: str, index_name: str) -> None:
    reads = _scans_of(nodes, table)
    assert reads, nodes
    assert not [node for node in reads if node["Node Type"] == "Seq Scan"], reads
    used = {node.get("Index Name") for node in nodes if node["Node Type"] in SCANS}
    assert index_name in used, reads


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 5000},
        {"start": "2024-01-02", "end": "2024-06-28", "page_size": 50},
        {"kind": "total", "page_size": 10},
    ],
)
def test_values_use_the_primary_key_of_the_run(viewer, index, params):
    url = api_url("index-values", slug="planned")

    for sql in _queries_reading(viewer, url, params, "portfolio_indexvalue"):
        _assert_uses_index(_plan(sql), "portfolio_indexvalue", "portfolio_indexvalue_pkey")


@pytest.mark.parametrize(
    "params",
    [{}, {"date": trading_days(DAYS)[300].isoformat()}, {"date": "2023-01-03", "page": 1}],
    ids=["latest", "history", "first-rebalance"],
)
def test_allocations_and_their_history_use_the_primary_key_of_the_run(viewer, index, params):
    url = api_url("index-allocations", slug="planned")

    sqls = _queries_reading(viewer, url, params, "portfolio_allocation")

    assert len(sqls) == 2  # the page and its count, each with the rebalance-date subquery
    for sql in sqls:
        _assert_uses_index(_plan(sql), "portfolio_allocation", "portfolio_allocation_pkey")


def test_benchmark_uses_both_primary_keys_and_reads_only_the_partitions_of_its_dates(viewer, index):
    url = api_url("index-benchmark", slug="planned")
    params = {"start": "2024-02-01", "end": "2024-03-29", "page_size": 100}

    sqls = _queries_reading(viewer, url, params, "portfolio_indexvalue")

    for sql in sqls:
        nodes = _plan(sql, analyze=True)
        _assert_uses_index(nodes, "portfolio_indexvalue", "portfolio_indexvalue_pkey")
        price_reads = _scans_of(nodes, "market_price")
        # Pruned at run time: only 2024's partition is ever executed, through its index. (The
        # plan keeps a branch per partition; the empty ones would be sequential scans, but are
        # never run.)
        executed = [node for node in price_reads if node.get("Actual Loops", 0) > 0]
        assert {node["Relation Name"] for node in executed} == {"market_price_y2024"}, executed
        assert {node["Node Type"] for node in executed} <= SCANS, executed


@pytest.mark.parametrize(
    ("params", "partitions"),
    [
        ({"start": "2024-01-01", "end": "2024-12-31"}, {"market_price_y2024"}),
        (
            {"start": "2023-12-01", "end": "2024-01-31"},
            {"market_price_y2023", "market_price_y2024"},
        ),
    ],
)
def test_one_assets_prices_use_the_partition_index_of_the_years_asked(
    viewer, index, params, partitions
):
    symbol = index.universe.order_by("symbol").first().symbol
    if index.benchmark is not None:
        symbol = index.benchmark.symbol  # the asset with closes in every partition
    url = api_url("asset-prices", symbol=symbol)

    for sql in _queries_reading(viewer, url, {**params, "page_size": 500}, "market_price"):
        nodes = _plan(sql)
        reads = _scans_of(nodes, "market_price")
        assert {node["Relation Name"] for node in reads if "Relation Name" in node} == partitions
        assert not [node for node in reads if node["Node Type"] == "Seq Scan"], reads
        assert {node["Node Type"] for node in reads} <= SCANS | {"Bitmap Heap Scan"}
        for partition in partitions:
            assert any(str(node.get("Index Name", "")).startswith(partition) for node in nodes), (
                nodes
            )


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("index-allocation-history", "portfolio_allocation"),
        ("index-drawdown", "portfolio_indexvalue"),
    ],
)
def test_whole_run_series_read_one_run_through_its_primary_key(viewer, index, name, table):
    """The allocation history and the drawdowns read the run's rows packed into one row (one
    aggregate over the run's slice of the primary key), never the other runs' rows."""
    url = api_url(name, slug="planned")

    sqls = _queries_reading(viewer, url, {}, table)

    assert len(sqls) == 1
    _assert_uses_index(_plan(sqls[0]), table, f"{table}_pkey")
