"""Published reads: Redis-cached per published run, ETag/Last-Modified, 304, Redis outage.

Real Redis (the test settings' server); the outage tests point the fail-soft ``default`` alias
at a dead port (``settings.CACHES`` resets the cache connections through Django's
``setting_changed`` handler).
"""

from __future__ import annotations

import logging
import re

import pytest
from django.core.cache import caches
from django.utils.http import http_date

from portfolio.cache import KEY_NAMESPACE
from portfolio.models import IndexRun
from portfolio.services import index_update
from tests.portfolio.published import published_index_build, run_build, trading_days

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"
# A cached read asks the database nothing: the user and its role come from the cached
# snapshot (accounts.user_cache), the published-run pointer from its versioned cache entry
# (portfolio.cache), the body from Redis.
CACHED_READ_QUERIES = 0

PUBLISHED_READS = [
    ("index-detail", {}),
    ("index-values", {"start": "2023-01-05", "page_size": 10}),
    ("index-allocations", {}),
    ("index-metrics", {"range": "3m"}),
    ("index-benchmark", {"end": "2023-03-01"}),
    ("index-allocation-history", {}),
    ("index-drawdown", {"end": "2023-03-01"}),
]


@pytest.fixture
def index():
    return published_index_build(slug="cached", days=60)


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


def _get(client, name, params, **headers):
    return client.get(api_url(name, slug="cached"), params, **headers)


@pytest.mark.parametrize(("name", "params"), PUBLISHED_READS)
def test_second_read_is_served_from_redis_without_reading_the_data(
    viewer, index, name, params, django_assert_num_queries
):
    first = _get(viewer, name, params)

    with django_assert_num_queries(CACHED_READ_QUERIES):
        second = _get(viewer, name, params)

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second["ETag"] == first["ETag"]
    assert second.content == first.content


@pytest.mark.parametrize("name", ["index-values", "index-metrics", "index-benchmark"])
def test_each_kind_has_its_own_cached_body_and_etag(viewer, index, name):
    price = _get(viewer, name, {"kind": "price"})
    total = _get(viewer, name, {"kind": "total"})
    total_again = _get(viewer, name, {"kind": "total"})

    assert price.status_code == total.status_code == 200
    assert price["ETag"] != total["ETag"] == total_again["ETag"]
    assert price.json() != total.json() == total_again.json()
    # The default kind is price: the same identity as asking for it.
    assert _get(viewer, name, {})["ETag"] == price["ETag"]
    assert _get(viewer, name, {}, HTTP_IF_NONE_MATCH=total["ETag"]).status_code == 200


@pytest.mark.parametrize(("name", "params"), PUBLISHED_READS)
def test_a_matching_etag_is_answered_304_without_a_body(viewer, index, name, params):
    first = _get(viewer, name, params)

    again = _get(viewer, name, params, HTTP_IF_NONE_MATCH=first["ETag"])
    weak = _get(viewer, name, params, HTTP_IF_NONE_MATCH=f'"other", W/{first["ETag"]}')
    stale = _get(viewer, name, params, HTTP_IF_NONE_MATCH='"not-the-current-one"')

    assert again.status_code == weak.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Last-Modified"] == first["Last-Modified"]
    assert stale.status_code == 200


def test_validators_are_the_run_publication_time_and_private_revalidation(viewer, index):
    run = IndexRun.objects.get(index=index, status="published")

    response = _get(viewer, "index-values", {})

    assert response["Last-Modified"] == http_date(
        max(run.published_at, index.updated_at).timestamp()
    )
    assert response["Cache-Control"] == "private, no-cache"
    assert "Authorization" in response["Vary"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', response["ETag"])


def test_if_modified_since_is_answered_304_until_a_new_run_is_published(viewer, index):
    last_modified = _get(viewer, "index-metrics", {})["Last-Modified"]

    assert (
        _get(viewer, "index-metrics", {}, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    )
    old = http_date(0)
    assert _get(viewer, "index-metrics", {}, HTTP_IF_MODIFIED_SINCE=old).status_code == 200


def test_the_query_is_part_of_the_identity(viewer, index):
    one_year = _get(viewer, "index-metrics", {"range": "1y"})
    three_months = _get(viewer, "index-metrics", {"range": "3m"})

    assert one_year["ETag"] != three_months["ETag"]
    assert one_year.json()["range"] == "1y"
    assert three_months.json()["range"] == "3m"
    stale = _get(viewer, "index-metrics", {"range": "3m"}, HTTP_IF_NONE_MATCH=one_year["ETag"])
    assert stale.status_code == 200


def test_a_new_published_run_means_new_content_and_a_new_etag(viewer, index):
    before = {name: _get(viewer, name, params) for name, params in PUBLISHED_READS}
    old_run = IndexRun.objects.get(index=index, status="published")

    new_run = run_build(index=index, days=61, shift=50.0)

    for name, params in PUBLISHED_READS:
        after = _get(viewer, name, params, HTTP_IF_NONE_MATCH=before[name]["ETag"])
        assert after.status_code == 200, name
        assert after["ETag"] != before[name]["ETag"], name
        assert after.json() != before[name].json(), name
    assert _get(viewer, "index-detail", {}).json()["published_run"]["id"] == new_run.pk
    values = _get(viewer, "index-values", {"page_size": 1}).json()["results"]
    assert float(values[0]["level"]) > 140  # the shifted levels, not the old run's
    # Both runs' keys exist side by side: nothing was invalidated, the new run has new keys.
    keys = caches["default"].keys(f"{KEY_NAMESPACE}:{index.pk}:*")
    assert any(f":{old_run.pk}:" in key for key in keys)
    assert any(f":{new_run.pk}:" in key for key in keys)


def test_editing_the_index_changes_the_detail_without_a_new_run(viewer, index):
    before = _get(viewer, "index-detail", {})

    index_update(index=index, changes={"name": "Renamed"}, actor=None)

    after = _get(viewer, "index-detail", {}, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["name"] == "Renamed"


def test_a_conditional_request_still_needs_credentials(api_client, viewer, index):
    etag = _get(viewer, "index-values", {})["ETag"]

    assert_problem(_get(api_client, "index-values", {}, HTTP_IF_NONE_MATCH=etag), 401)


def test_errors_are_not_cached(viewer, index):
    bad = _get(viewer, "index-values", {"start": "2023-02-30"})

    assert_problem(bad, 400)
    assert "ETag" not in bad
    assert caches["default"].keys(f"{KEY_NAMESPACE}:*") == []


def test_keys_name_the_index_and_the_published_run(viewer, index):
    run = IndexRun.objects.get(index=index, status="published")

    _get(viewer, "index-values", {})

    # The rendered body and its gzip copy.
    plain, gzipped = sorted(caches["default"].keys(f"{KEY_NAMESPACE}:*"))
    assert plain.startswith(f"{KEY_NAMESPACE}:{index.pk}:{run.pk}:values:")
    assert gzipped == f"{plain}:gzip"


# REDIS OUTAGE


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS},
    }


@pytest.mark.parametrize(("name", "params"), PUBLISHED_READS)
def test_redis_outage_degrades_to_the_database(viewer, index, name, params, redis_down, caplog):
    with caplog.at_level(logging.ERROR, logger="django_redis.cache"):
        first = _get(viewer, name, params)
        second = _get(viewer, name, params)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second["ETag"] == first["ETag"]  # validators do not need Redis
    assert _get(viewer, name, params, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert "Exception ignored" in caplog.text  # the outage is logged, not hidden


def test_outage_answers_match_what_redis_serves(viewer, index, settings):
    healthy = _get(viewer, "index-allocations", {"date": trading_days(60)[45].isoformat()}).json()

    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS},
    }
    degraded = _get(viewer, "index-allocations", {"date": trading_days(60)[45].isoformat()})

    assert degraded.status_code == 200
    assert degraded.json() == healthy
