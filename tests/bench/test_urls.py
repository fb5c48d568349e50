"""The benchmark's URLconf: the hello-world baseline beside every production route, and the
baseline never served by the production URLconf."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="bench.urls")
def test_bench_urlconf_serves_hello_world_without_touching_the_database(
    client: Client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/bench/hello")

    assert (response.status_code, response.content) == (200, b"Hello, world!")
    assert response["Content-Type"] == "text/plain"
    assert response["X-Request-ID"]  # behind the whole middleware stack


@override_settings(ROOT_URLCONF="bench.urls")
def test_bench_urlconf_keeps_the_production_routes(client: Client):
    assert client.get("/health/live").json() == {"status": "ok"}


@pytest.mark.django_db
def test_production_urlconf_has_no_hello_world(client: Client):
    response = client.get("/bench/hello")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
