"""django-prometheus's HTTP series, recorded by two lighter middlewares.

The same series as ``django_prometheus.middleware.PrometheusBeforeMiddleware`` and
``PrometheusAfterMiddleware`` (the library's ``Metrics`` instance: same names, labels, buckets
and help texts; docs/metrics.md), with the same meaning:

- :class:`RequestMetricsBeforeMiddleware`, first in ``MIDDLEWARE``: requests and responses
  counted before the other middlewares run, and the latency including them
  (``django_http_requests_latency_including_middlewares_seconds``);
- :class:`RequestMetricsAfterMiddleware`, last: requests by method and transport, request and
  response body sizes, responses by status, status/view/method and charset, streaming
  responses, requests by view/transport/method (at ``process_view``), exceptions by type and by
  view (at ``process_exception``), responses by template name, and the latency of the view
  and the middlewares after it by view and method
  (``django_http_requests_latency_seconds_by_view_method``).

What makes them cheaper: plain ``__call__`` middlewares instead of ``MiddlewareMixin`` hooks,
each labelled child looked up once per label values and kept (:class:`_Children`) instead of
``metric.labels(**labels)`` (sorting, validating and locking) for each of the eight labelled
series of every request, and the response's size summed over its chunks instead of measured
on a joined copy of its body. Two differences, both fixes: a ``Content-Length`` that is
not a number counts as a body of 0 bytes (the library's middleware raised, answering 500), and
a request whose view raised is timed once, at its 500 response (the library observed it twice,
at the exception and at the response).
"""

from __future__ import annotations

from collections.abc import Callable
from timeit import default_timer
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django_prometheus.middleware import Metrics
from prometheus_client.metrics import MetricWrapperBase

# As django-prometheus: any other method is counted as "<invalid method>" (bounded labels).
KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH")
)
INVALID_METHOD = "<invalid method>"
UNNAMED_VIEW = "<unnamed view>"

GetResponse = Callable[[HttpRequest], HttpResponseBase]


class _Children:
    """The labelled children of one metric, each made once by ``metric.labels`` and kept
    (prometheus_client keeps them too, so this holds nothing the metric does not)."""

    def __init__(self, metric: MetricWrapperBase) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = self.metric.labels(*values)
        return child


def _method(request: HttpRequest) -> str:
    method = request.method or ""
    return method if method in KNOWN_METHODS else INVALID_METHOD


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or match.view_name is None:
        return UNNAMED_VIEW
    return str(match.view_name)


def _body_size(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _content_length(response: HttpResponseBase) -> int:
    """The body's length in bytes, without joining its chunks into one copy (``content`` would:
    a 200 kB history page copied once more per request)."""
    if isinstance(response, HttpResponse):
        return sum(map(len, response))
    content = getattr(response, "content", b"")
    return len(content)


class RequestMetricsBeforeMiddleware:
    """First middleware: counts every request and response and times the whole chain."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        metrics = Metrics.get_instance()
        self.requests_total = metrics.requests_total
        self.responses_total = metrics.responses_total
        self.latency = metrics.requests_latency_before

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        self.requests_total.inc()
        started = default_timer()
        response = self.get_response(request)
        self.responses_total.inc()
        self.latency.observe(default_timer() - started)
        return response


class RequestMetricsAfterMiddleware:
    """Last middleware: the per-request series that need the method, the view and the response
    (module docstring)."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        metrics = self.metrics = Metrics.get_instance()
        self.by_method = _Children(metrics.requests_by_method)
        self.by_transport = _Children(metrics.requests_by_transport)
        self.by_view_transport_method = _Children(metrics.requests_by_view_transport_method)
        self.by_status = _Children(metrics.responses_by_status)
        self.by_status_view_method = _Children(metrics.responses_by_status_view_method)
        self.by_charset = _Children(metrics.responses_by_charset)
        self.by_templatename = _Children(metrics.responses_by_templatename)
        self.latency_by_view_method = _Children(metrics.requests_latency_by_view_method)
        self.exceptions_by_type = _Children(metrics.exceptions_by_type)
        self.exceptions_by_view = _Children(metrics.exceptions_by_view)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        metrics = self.metrics
        method = _method(request)
        self.by_method(method).inc()
        self.by_transport("https" if request.is_secure() else "http").inc()
        if request.META.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest":
            metrics.requests_ajax.inc()
        metrics.requests_body_bytes.observe(_body_size(request))
        started = default_timer()
        response = self.get_response(request)
        view = _view_name(request)
        status = str(response.status_code)
        self.by_status(status).inc()
        self.by_status_view_method(status, view, method).inc()
        if hasattr(response, "charset"):
            self.by_charset(str(response.charset)).inc()
        if response.streaming:
            metrics.responses_streaming.inc()
        else:
            metrics.responses_body_bytes.observe(_content_length(response))
        # The method as sent, as the library labels this series.
        self.latency_by_view_method(view, str(request.method)).observe(default_timer() - started)
        return response

    def process_view(self, request: HttpRequest, *_: object, **__: object) -> None:
        transport = "https" if request.is_secure() else "http"
        self.by_view_transport_method(_view_name(request), transport, _method(request)).inc()

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        self.exceptions_by_type(type(exception).__name__).inc()
        if getattr(request, "resolver_match", None) is not None:
            self.exceptions_by_view(_view_name(request)).inc()

    def process_template_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if hasattr(response, "template_name"):
            self.by_templatename(str(response.template_name)).inc()
        return response
