"""The hot published read path: no query for a cached read or a 304, rendered bytes with gzip
negotiation, and a published-run pointer cache that a publish or an index edit replaces before
the next request.

Real Redis and PostgreSQL; time moves with time-machine where a bound is tested.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
import time_machine
from django.core.cache import caches
from django.utils import timezone

from portfolio.cache import KEY_NAMESPACE, POINTER_KEY, POINTER_VERSION_KEY
from portfolio.models import IndexRun
from portfolio.selectors import published_pointer_get
from portfolio.services import index_soft_delete, index_update
from tests.portfolio.published import level_on, published_index_build, run_build

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

POINTER_WINDOW_SECONDS = 30.0  # PUBLISHED_POINTER_CACHE_SECONDS's default
PUBLISHED_READS = [
    ("index-detail", {}),
    ("index-values", {"page_size": 50}),
    ("index-allocations", {}),
    ("index-allocations", {"date": "2023-02-01"}),
    ("index-metrics", {"range": "1m"}),
    ("index-benchmark", {"kind": "total"}),
]


@pytest.fixture(autouse=True)
def _window(settings):
    settings.PUBLISHED_POINTER_CACHE_SECONDS = POINTER_WINDOW_SECONDS


@pytest.fixture
def index():
    return published_index_build(slug="hot", days=60)


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


def _get(client, name, params=None, **headers):
    return client.get(api_url(name, slug="hot"), params or {}, **headers)


def _first_level(client) -> str:
    return _get(client, "index-values", {"page_size": 1}).json()["results"][0]["level"]


def _later(seconds: float) -> time_machine.travel:
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


@pytest.mark.parametrize(("name", "params"), PUBLISHED_READS)
def test_a_revalidation_costs_no_query_at_all(
    viewer, index, name, params, django_assert_num_queries
):
    first = _get(viewer, name, params)

    with django_assert_num_queries(0):
        again = _get(viewer, name, params, HTTP_IF_NONE_MATCH=first["ETag"])
        cached = _get(viewer, name, params)

    assert again.status_code == 304
    assert cached.status_code == 200
    assert cached.content == first.content


def test_the_cache_holds_the_rendered_bytes(viewer, index):
    response = _get(viewer, "index-values", {"page_size": 3})

    [key] = [key for key in caches["default"].keys(f"{KEY_NAMESPACE}:*") if ":gzip" not in key]
    body, coding = caches["default"].get(key)
    assert (body, coding) == (response.content, "")
    assert response["Content-Type"] == "application/json"
    assert json.loads(body)["results"][0] == {
        "date": "2023-01-02",
        "level": f"{level_on(0):.6f}",
    }


def test_a_gzip_client_gets_the_compressed_copy_with_a_weak_etag(viewer, index):
    plain = _get(viewer, "index-values")
    compressed = _get(viewer, "index-values", HTTP_ACCEPT_ENCODING="br;q=1.0, gzip;q=0.8")
    compressed_again = _get(viewer, "index-values", HTTP_ACCEPT_ENCODING="gzip")

    assert "Content-Encoding" not in plain
    assert compressed["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.content) == plain.content
    assert compressed_again.content == compressed.content
    assert len(compressed.content) < len(plain.content) / 3
    assert compressed["ETag"] == f"W/{plain['ETag']}"
    assert {"Accept-Encoding", "Authorization"} <= {
        part.strip() for part in compressed["Vary"].split(",")
    }
    # Either tag revalidates either representation (If-None-Match compares weakly).
    revalidated = _get(
        viewer, "index-values", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=plain["ETag"]
    )
    assert revalidated.status_code == 304
    assert revalidated["ETag"] == compressed["ETag"]
    assert _get(viewer, "index-values", HTTP_IF_NONE_MATCH=compressed["ETag"]).status_code == 304


@pytest.mark.parametrize("accept_encoding", ["gzip;q=0", "identity", "br", "*;q=0", ""])
def test_no_gzip_unless_the_client_accepts_it(viewer, index, accept_encoding):
    response = _get(viewer, "index-values", HTTP_ACCEPT_ENCODING=accept_encoding)

    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert response.json()["results"][0]["date"] == "2023-01-02"


def test_a_small_body_is_sent_as_it_is_even_to_a_gzip_client(viewer, index):
    response = _get(viewer, "index-values", {"page_size": 1}, HTTP_ACCEPT_ENCODING="gzip")

    assert "Content-Encoding" not in response
    assert len(response.content) < 200
    assert response.json()["results"][0]["date"] == "2023-01-02"


def test_json_with_parameters_is_rendered_for_the_client(viewer, index):
    plain = _get(viewer, "index-values", {"page_size": 2})

    indented = _get(
        viewer, "index-values", {"page_size": 2}, HTTP_ACCEPT="application/json; indent=2"
    )

    assert indented.status_code == 200
    assert indented.content != plain.content
    assert b'\n  "results"' in indented.content
    assert indented.json() == plain.json()
    assert indented["ETag"] == plain["ETag"]


def test_a_publish_changes_the_served_data_on_the_next_request(viewer, index):
    old_level = _first_level(viewer)
    assert caches["default"].get(POINTER_KEY.format(slug="hot")) is not None  # pointer cached

    new_run = run_build(index=index, days=60, shift=50.0)

    assert _first_level(viewer) == f"{level_on(0, shift=50.0):.6f}" != old_level
    assert _get(viewer, "index-detail").json()["published_run"]["id"] == new_run.pk


def test_a_pointer_read_before_the_commit_is_replaced_when_the_publish_commits(
    viewer, index, django_capture_on_commit_callbacks
):
    old_pointer = published_pointer_get(slug="hot")
    _first_level(viewer)

    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        run_build(index=index, days=60, shift=50.0)
    # A concurrent request read the old row after the publish's first version change and
    # before its commit, and stored it under the version it saw.
    version = caches["default"].get(POINTER_VERSION_KEY)
    stale_entry = (version, timezone.now().timestamp(), old_pointer)
    caches["default"].set(POINTER_KEY.format(slug="hot"), stale_entry, 30)
    assert _first_level(viewer) == f"{level_on(0):.6f}"  # what that race would serve

    for callback in on_commit:  # the publish commits
        callback()

    assert _first_level(viewer) == f"{level_on(0, shift=50.0):.6f}"


def test_an_index_edit_through_the_services_is_served_on_the_next_request(viewer, index):
    assert _get(viewer, "index-detail").json()["name"] == "Hot Index"

    index_update(index=index, changes={"slug": "hotter", "name": "Hotter"}, actor=None)

    assert_problem(_get(viewer, "index-detail"), 404)
    renamed = viewer.get(api_url("index-detail", slug="hotter"))
    assert renamed.json()["name"] == "Hotter"


def test_a_deleted_index_is_gone_on_the_next_request(viewer, index):
    assert _get(viewer, "index-values").status_code == 200

    index_soft_delete(index=index, actor=None)

    assert_problem(_get(viewer, "index-values"), 404)


def test_a_change_behind_the_services_back_is_served_within_the_pointer_window(viewer, index):
    with _later(0):
        old_level = _first_level(viewer)
    new_run = run_build(index=index, days=60, shift=50.0, publish=False)
    # Published by hand, in SQL terms: no pointer version changes.
    IndexRun.objects.filter(index=index, status="published").update(status="superseded")
    IndexRun.objects.filter(pk=new_run.pk).update(status="published", published_at=timezone.now())

    with _later(POINTER_WINDOW_SECONDS - 1):
        assert _first_level(viewer) == old_level  # within the documented bound
    with _later(POINTER_WINDOW_SECONDS):
        assert _first_level(viewer) == f"{level_on(0, shift=50.0):.6f}"


def test_a_lost_pointer_version_never_revives_an_old_entry(viewer, index):
    _first_level(viewer)
    caches["default"].delete(POINTER_VERSION_KEY)  # evicted, or Redis restarted empty
    run_build(index=index, days=60, shift=50.0, publish=False)
    IndexRun.objects.filter(index=index, status="published").update(status="superseded")
    IndexRun.objects.filter(index=index, status="succeeded").update(
        status="published", published_at=timezone.now()
    )

    assert _first_level(viewer) == f"{level_on(0, shift=50.0):.6f}"
