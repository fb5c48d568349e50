"""One trace follows a refresh job: the API request, the Celery message into a real worker, each
TwelveData request, the price upsert and the recompute task it queues (core/tracing.py).

Spans are collected by the SDK's in-memory exporter, attached for the test only (while no
exporter is attached, spans are dropped at creation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from core import tracing
from tests.market.conftest import SERVED_DATES
from tests.observability.refresh_job import (
    JOB,
    REFRESHED_SYMBOLS,
    post_refresh,
    running_worker,
    wait_for,
)

REFRESH_TASK = "portfolio.tasks.refresh_and_recompute"
COMPUTE_TASK = "portfolio.tasks.compute_index_batch"  # the chain queues its recomputes in batches


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = tracing.attach_span_exporter(exporter, batch=False)
    yield exporter
    tracing.detach_span_processor(processor)


def _children(parent: ReadableSpan, finished: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [
        span
        for span in finished
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = [span for span in spans if span.name == name]
    return span


@pytest.mark.slow
@JOB
def test_one_trace_follows_a_refresh_from_the_api_to_the_vendor_and_the_recompute(
    vendor, autoindex_published, spans
):
    with running_worker():
        post_refresh(request_id="req-traced-refresh-1")
        wait_for(lambda: any(s.name == f"run/{COMPUTE_TASK}" for s in spans.get_finished_spans()))

    finished = spans.get_finished_spans()
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER and "jobs/refresh" in s.name]
    assert (request.parent, _attributes(request)["http.status_code"]) == (None, 202)
    trace_id = request.context.trace_id
    # request -> publish -> the task in the worker
    publish = _only(_children(request, finished), f"apply_async/{REFRESH_TASK}")
    task = _only(_children(publish, finished), f"run/{REFRESH_TASK}")
    assert task.kind == SpanKind.CONSUMER
    in_task = _children(task, finished)
    # each TwelveData request (the fake served one batch request for both symbols)
    vendor_calls = [s for s in in_task if "http.url" in _attributes(s)]
    assert len(vendor_calls) == len(vendor.requests) == 1
    assert _attributes(vendor_calls[0])["http.status_code"] == 200
    assert "/time_series?symbol=" in _attributes(vendor_calls[0])["http.url"]
    # the upsert, with its SQL under it
    upsert = _only(in_task, "market.prices_upsert")
    assert _attributes(upsert)["rows"] == len(REFRESHED_SYMBOLS) * len(SERVED_DATES)
    statements = [str(_attributes(s).get("db.statement")) for s in _children(upsert, finished)]
    # (the COPY of a batch of new rows is not a cursor.execute, so only the queries around it)
    assert any("FROM market_price" in statement for statement in statements)
    # the recompute it queued, run by the worker
    recompute_publish = _only(in_task, f"apply_async/{COMPUTE_TASK}")
    recompute = _only(_children(recompute_publish, finished), f"run/{COMPUTE_TASK}")
    assert {
        span.context.trace_id
        for span in (publish, task, *vendor_calls, upsert, recompute_publish, recompute)
    } == {trace_id}


def test_without_an_exporter_spans_keep_their_ids_but_record_nothing():
    tracer = trace.get_tracer("tests")

    with tracer.start_as_current_span("unexported") as span:
        ids = tracing.span_ids()

    assert not span.is_recording()
    assert ids is not None
    assert ids == (
        format(span.get_span_context().trace_id, "032x"),
        format(span.get_span_context().span_id, "016x"),
    )


def test_an_attached_exporter_records_spans_until_it_is_detached(spans):
    with tracing.span("recorded", answer=42) as recorded:
        assert recorded.is_recording()
    assert [(s.name, _attributes(s)) for s in spans.get_finished_spans()] == [
        ("recorded", {"answer": 42})
    ]


@pytest.mark.parametrize(
    ("endpoint", "exporter", "expected"),
    [
        ("", "", None),
        ("", "console", ConsoleSpanExporter),
        ("http://127.0.0.1:4318", "", OTLPSpanExporter),
    ],
)
def test_the_exporter_is_the_one_the_environment_names(settings, endpoint, exporter, expected):
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint
    settings.OTEL_TRACES_EXPORTER = exporter

    configured = tracing._configured_exporter()

    assert type(configured) is expected if expected else configured is None
    if isinstance(configured, OTLPSpanExporter):
        assert configured._endpoint == "http://127.0.0.1:4318/v1/traces"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "traced"),
    [
        ("/health/live", False),
        ("/metrics", False),
        ("/api/v2/indexes/autoindex/metrics/", True),
        ("/api/v2/assets/", True),
    ],
)
def test_probes_and_scrapes_are_not_traced_the_api_is(spans, path, traced):
    Client().get(path)

    served = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert len(served) == (1 if traced else 0)


@pytest.mark.django_db
def test_a_recorded_request_continues_the_callers_trace(spans):
    caller_trace_id, caller_span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    Client().get(
        "/api/v2/currencies/", HTTP_TRACEPARENT=f"00-{caller_trace_id}-{caller_span_id}-01"
    )

    (served,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert served.parent is not None
    assert (format(served.context.trace_id, "032x"), format(served.parent.span_id, "016x")) == (
        caller_trace_id,
        caller_span_id,
    )
    assert (served.name, _attributes(served)["http.status_code"]) == (
        "GET ^api/(?P<version>v2)/currencies/",
        401,
    )


@pytest.mark.django_db
def test_a_path_the_tracing_middleware_cannot_read_is_served_untraced_not_a_500(spans):
    # Django puts the UTF-8-decoded path back into the WSGI environ, and the library's
    # attribute collection quotes it as Latin-1 (servers that send no RAW_URI, e.g. runserver).
    response = Client().get("/api/v2/assets/%F1%B9%90%90%C2%9CV%C2%91/")

    assert (response.status_code, response.json()["type"]) == (
        404,
        "https://autoindex.example/problems/not-found",
    )
    assert response["X-Request-ID"]
    assert [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER] == []


def _publish_failing_midway(activations: list[Any]) -> None:
    """As Celery's instrumentation does around a publish: the producer span is made current at
    before_task_publish (its activation kept alive) and closed only at after_task_publish,
    which a publish failing in between never sends."""
    opened = trace.get_tracer("tests").start_span("apply_async/some.task")
    activation = trace.use_span(opened, end_on_exit=True)
    activation.__enter__()
    activations.append(activation)
    raise ConnectionError("broker gone")


def test_a_block_that_fails_leaves_no_span_current_and_ends_the_one_it_opened(spans):
    before = trace.get_current_span()
    activations: list[Any] = []

    with pytest.raises(ConnectionError), tracing.no_span_left_open():
        _publish_failing_midway(activations)

    assert trace.get_current_span() is before
    (ended,) = spans.get_finished_spans()
    assert (ended.name, ended.status.status_code) == ("apply_async/some.task", StatusCode.ERROR)
    assert [event.name for event in ended.events] == ["exception"]
