"""Without DATABASE_REPLICA_URL the read routing changes nothing: no query, no cache key."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core.db_router import ReplicaRouter
from core.replica import REPLICA
from tests.api.conftest import api_url, bearer
from tests.factories import AnalystFactory, AssetFactory, ViewerFactory

pytestmark = pytest.mark.django_db

ROUTING_MIDDLEWARE = "core.db_router.ReplicaRoutingMiddleware"


def _asset_list_queries(client) -> list[str]:
    with CaptureQueriesContext(connections["default"]) as queries:
        assert client.get(api_url("asset-list")).status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_without_a_replica_the_middleware_adds_no_query(client, settings):
    assert REPLICA not in connections.settings
    AssetFactory.create_batch(3)
    client.defaults.update(bearer(ViewerFactory()))

    _asset_list_queries(client)  # whatever the first request of a user warms (its snapshot)

    with_routing = _asset_list_queries(client)
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != ROUTING_MIDDLEWARE]
    without_routing = _asset_list_queries(client)

    assert with_routing == without_routing
    assert any('"market_asset"' in sql for sql in with_routing)


def test_without_a_replica_a_write_leaves_no_read_your_writes_marker(client):
    analyst = AnalystFactory()
    client.defaults.update(bearer(analyst))

    created = client.post(
        api_url("asset-list"),
        {"symbol": "zrd", "asset_class": "equity"},
        content_type="application/json",
    )

    assert created.status_code == 201
    assert caches["strict"].keys("db-router:*") == []


def test_the_router_sends_everything_to_the_primary_outside_a_routed_request():
    router = ReplicaRouter()

    assert router.db_for_read(object) == "default"
    assert router.db_for_write(object) == "default"
    assert router.allow_migrate("replica", "market") is False
    assert router.allow_migrate("default", "market") is None
