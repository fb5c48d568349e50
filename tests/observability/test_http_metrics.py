"""django-prometheus's HTTP series, recorded by our middleware pair (core/http_metrics.py): the
same series, labels and values as the library's own pair for the same requests.

Samples are read from the process's registry (not over ``GET /metrics``, which would count
itself), and every assertion is on a change across the requests.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from prometheus_client import REGISTRY

from tests.api.conftest import api_url, bearer
from tests.factories import ViewerFactory

pytestmark = pytest.mark.django_db

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

OURS = (
    "core.http_metrics.RequestMetricsBeforeMiddleware",
    "core.http_metrics.RequestMetricsAfterMiddleware",
)
LIBRARY = (
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
)
CURRENCIES_VIEW = "api:currency-list"


def boom(request: HttpRequest) -> HttpResponse:
    raise LookupError("a view that fails")


# This module is also the URLconf of the failing-view test: the project's URLs plus /boom/.
urlpatterns = [path("boom/", boom, name="boom"), path("", include("config.urls"))]


def http_samples() -> Samples:
    """Every django_http_* sample of the registry, by (sample name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in REGISTRY.collect()
        if family.name.startswith("django_http_")
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def changes(before: Samples, after: Samples) -> Samples:
    """The samples that changed, by how much; latency sums and buckets (timings) left out, their
    counts kept."""
    timed = ("latency",)
    return {
        key: after[key] - before.get(key, 0.0)
        for key in after
        if after[key] != before.get(key, 0.0)
        and not (any(word in key[0] for word in timed) and not key[0].endswith("_count"))
    }


def change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def _with_pair(settings, pair: tuple[str, str]) -> None:
    inner = [entry for entry in settings.MIDDLEWARE if entry not in OURS + LIBRARY]
    settings.MIDDLEWARE = [pair[0], *inner, pair[1]]


def _requests(user) -> Callable[[], list[int]]:
    def send() -> list[int]:
        client = Client()
        return [
            client.get(api_url("currency-list"), **bearer(user)).status_code,
            client.get(api_url("currency-list")).status_code,  # not signed in
            client.get("/api/v2/no-such-page/").status_code,
            client.post(
                api_url("auth-token"), {"email": "x"}, content_type="application/json"
            ).status_code,
            client.generic("BREW", api_url("currency-list"), **bearer(user)).status_code,
            client.get(api_url("currency-list"), secure=True, **bearer(user)).status_code,
        ]

    return send


def test_the_pair_records_what_django_prometheus_records_for_the_same_requests(settings):
    user = ViewerFactory()
    send = _requests(user)
    _with_pair(settings, LIBRARY)
    before = http_samples()
    library_statuses = send()
    library = changes(before, http_samples())
    _with_pair(settings, OURS)

    before = http_samples()
    statuses = send()
    ours = changes(before, http_samples())

    assert statuses == library_statuses == [200, 401, 404, 400, 405, 200]
    assert ours == library
    signed_in_reads = (
        "django_http_responses_total_by_status_view_method_total",
        (("method", "GET"), ("status", "200"), ("view", CURRENCIES_VIEW)),
    )
    assert ours[signed_in_reads] == 2


def test_a_request_is_counted_by_view_status_method_and_timed_once(settings):
    client = Client()
    user = ViewerFactory()
    before = http_samples()

    response = client.get(api_url("currency-list"), **bearer(user))

    after = http_samples()
    assert response.status_code == 200
    view_method = {"view": CURRENCIES_VIEW, "method": "GET"}
    assert [
        change(before, after, "django_http_requests_before_middlewares_total"),
        change(before, after, "django_http_responses_before_middlewares_total"),
        change(before, after, "django_http_requests_total_by_method_total", method="GET"),
        change(before, after, "django_http_requests_total_by_transport_total", transport="http"),
        change(
            before,
            after,
            "django_http_requests_total_by_view_transport_method_total",
            transport="http",
            **view_method,
        ),
        change(before, after, "django_http_responses_total_by_status_total", status="200"),
        change(
            before,
            after,
            "django_http_responses_total_by_status_view_method_total",
            status="200",
            **view_method,
        ),
        change(before, after, "django_http_responses_total_by_charset_total", charset="utf-8"),
        change(
            before,
            after,
            "django_http_requests_latency_seconds_by_view_method_count",
            **view_method,
        ),
        change(before, after, "django_http_requests_latency_including_middlewares_seconds_count"),
        change(before, after, "django_http_responses_body_total_bytes_sum"),
    ] == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, len(response.content)]


@pytest.mark.urls(__name__)
def test_a_failing_view_counts_its_exception_and_its_500_once():
    client = Client(raise_request_exception=False)
    before = http_samples()

    response = client.get("/boom/")

    after = http_samples()
    assert response.status_code == 500
    view_method = {"view": "boom", "method": "GET"}
    assert [
        change(before, after, "django_http_exceptions_total_by_type_total", type="LookupError"),
        change(before, after, "django_http_exceptions_total_by_view_total", view="boom"),
        change(
            before,
            after,
            "django_http_responses_total_by_status_view_method_total",
            status="500",
            **view_method,
        ),
        change(
            before,
            after,
            "django_http_requests_latency_seconds_by_view_method_count",
            **view_method,
        ),
    ] == [1, 1, 1, 1]


def test_an_unknown_method_and_a_malformed_length_are_counted_not_failed():
    client = Client()
    before = http_samples()

    response = client.generic("BREW", "/api/v2/no-such-page/", CONTENT_LENGTH="many")

    after = http_samples()
    assert response.status_code == 404
    assert [
        change(
            before, after, "django_http_requests_total_by_method_total", method="<invalid method>"
        ),
        change(before, after, "django_http_requests_body_total_bytes_count"),
        change(before, after, "django_http_requests_body_total_bytes_sum"),
    ] == [1, 1, 0]
