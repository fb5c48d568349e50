"""OpenTelemetry tracing: one tracer provider per process, the libraries we call instrumented.

:func:`configure_tracing` runs once per process from ``CoreConfig.ready`` (web processes under
gunicorn with or without ``--preload``, the Celery worker and beat, commands, tests) and again,
as a no-op, from Celery's ``worker_process_init`` in each prefork child (the SDK's batch
processor restarts its export thread after a fork by itself). It instruments Django, psycopg,
requests, Celery and Redis, so one trace follows ``POST /api/v2/jobs/refresh/`` through the
Celery message headers into the worker, each TwelveData request, the price upsert
(:func:`span`) and the recompute task it queues.

Exporting is off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP, batched) or
``OTEL_TRACES_EXPORTER=console`` (one JSON object per span on stdout, for local debugging).
While nothing exports, no span processor is installed and every span is dropped by the
sampler at creation: it still gets a trace id (log lines carry it and it travels into the
tasks a request starts) but records no attributes, events or timings — the cost is an id and
a few function calls per instrumented call. A request then skips the library's Django
middleware altogether and gets that dropped span directly (:class:`TracingMiddleware`). The
psycopg and Redis instrumentations, which wrap every query and cache call, are installed only
when the process exports at start-up (``TRACING_CLIENT_SPANS=auto``; ``on``/``off`` force it).
``TRACING_ENABLED=false`` does not instrument at all. Settings: "OBSERVABILITY" in
config/settings/base.py; docs/observability.md.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.instrumentation.utils import _start_internal_or_server_span
from opentelemetry.instrumentation.wsgi import wsgi_getter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes

logger = logging.getLogger(__name__)

TRACER_NAME = "autoindex"
# Scrapes and probes are not traced: they would drown the traces that matter. Regexes searched
# in the request's absolute URL without its query (as OTEL_PYTHON_DJANGO_EXCLUDED_URLS), so
# anchored: /api/v2/indexes/<slug>/metrics/ is traced.
UNTRACED_PATHS = ("health/live", "health/ready", "metrics")
UNTRACED_URLS = ",".join(rf"^https?://[^/]+/{path}$" for path in UNTRACED_PATHS)
# The same test on the request's path, for requests served while nothing exports.
_UNTRACED_PATH = re.compile("/(?:{})".format("|".join(map(re.escape, UNTRACED_PATHS))))

# The trace and span ids of the request being served (hex), kept for the log lines Django
# writes after the tracing middleware has closed the request's span ("Not Found: …").
# Cleared with the request id on ``request_finished`` (core.apps).
request_trace_ids_var: ContextVar[tuple[str, str] | None] = ContextVar(
    "request_trace_ids", default=None
)

_lock = threading.Lock()
_provider: TracerProvider | None = None


class _ExportersAttached(SpanProcessor):
    """The span processors of the exporters attached now; installed on the provider at the
    first :func:`attach_span_exporter`, so a process that exports nothing has no processor."""

    def __init__(self) -> None:
        self.processors: tuple[SpanProcessor, ...] = ()
        self.installed = False

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        for processor in self.processors:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self.processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)


class _WhileExporting(Sampler):
    """While an exporter is attached, samples every trace its caller sampled (or started
    here); while none is, drops every span at creation (ids only, nothing recorded)."""

    def __init__(self, exporters: _ExportersAttached) -> None:
        self.exporters = exporters
        self.delegate: Sampler = ParentBased(ALWAYS_ON)

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if not self.exporters.processors:
            return _DROP
        return self.delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"WhileExporting{{{self.delegate.get_description()}}}"


_DROP = SamplingResult(Decision.DROP)
_NOT_SAMPLED = trace.TraceFlags(trace.TraceFlags.DEFAULT)
_exporters = _ExportersAttached()


def configure_tracing() -> None:
    """Install the tracer provider and instrument the libraries, once per process.

    Idempotent (a forked child keeps its parent's setup). Does nothing when ``TRACING_ENABLED``
    is false. Attaches the exporter the environment names, if any (module docstring).
    """
    global _provider
    if not settings.TRACING_ENABLED:
        return
    with _lock:
        if _provider is not None:
            return
        resource = Resource.create({SERVICE_NAME: settings.OTEL_SERVICE_NAME})
        _provider = TracerProvider(resource=resource, sampler=_WhileExporting(_exporters))
        trace.set_tracer_provider(_provider)
        exporter = _configured_exporter()
        _instrument_libraries(client_spans=_client_spans(exporting=exporter is not None))
    if exporter is not None:
        attach_span_exporter(exporter, batch=True)


def _configured_exporter() -> SpanExporter | None:
    """The exporter named by the environment: OTLP/HTTP when an endpoint is set, the console
    exporter for ``OTEL_TRACES_EXPORTER=console``, else none."""
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # As the exporter itself would from the environment: a full traces URL wins over the
        # base endpoint, to which /v1/traces is appended. Headers (an API key) and timeouts
        # come from the OTEL_EXPORTER_OTLP_* variables.
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or (
            settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
        )
        return OTLPSpanExporter(endpoint=endpoint)
    if settings.OTEL_TRACES_EXPORTER == "console":
        return ConsoleSpanExporter(service_name=settings.OTEL_SERVICE_NAME)
    return None


def _client_spans(*, exporting: bool) -> bool:
    """Whether to instrument psycopg and Redis: ``TRACING_CLIENT_SPANS`` ``on``/``off``, or
    (``auto``) only when the process exports. Their wrappers run on every query and cache
    call, so while nothing exports they would cost without recording anything."""
    mode = settings.TRACING_CLIENT_SPANS
    return exporting if mode == "auto" else mode == "on"


def _instrument_libraries(*, client_spans: bool) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # Django's middleware goes first in MIDDLEWARE; it must be inserted before the request
    # handler loads the chain, which ``ready`` (and a worker's fork) always precedes. Ours
    # (below) replaces the library's, which it extends.
    DjangoInstrumentor().instrument(excluded_urls=UNTRACED_URLS, request_hook=_remember_ids)
    library_middleware = DjangoInstrumentor._opentelemetry_middleware
    settings.MIDDLEWARE = [
        TRACING_MIDDLEWARE if entry == library_middleware else entry
        for entry in settings.MIDDLEWARE
    ]
    RequestsInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    if client_spans:
        PsycopgInstrumentor().instrument(skip_dep_check=True)
        RedisInstrumentor().instrument()


TRACING_MIDDLEWARE = "core.tracing.TracingMiddleware"


class TracingMiddleware(_DjangoMiddleware):
    """OpenTelemetry's Django middleware, at the cost of an id while nothing exports, and never
    the cause of an error response.

    While an exporter is attached (:func:`attach_span_exporter`, checked per request), the
    library's middleware serves the request: a recorded ``SERVER`` span named after the route,
    with the request's and response's attributes. While none is, the sampler would drop that
    span at creation anyway, so the request gets the dropped span directly: a ``SERVER`` span
    with ids only (a new trace, or the caller's ``traceparent`` trace and baggage), current while
    the request is served, so log lines carry its ``trace_id``/``span_id`` and the tasks it
    queues inherit the trace. The library's attribute collection (its absolute URL, built and
    matched against the untraced URLs at each of its four hooks, a second URL resolution for
    the span name, the WSGI attributes) is skipped: nothing would keep it. The probes and the
    scrape (:data:`UNTRACED_PATHS`) get no span either way.

    A request whose attributes the library cannot read is served untraced. (A path that is not
    Latin-1 in the WSGI environ: servers never pass one, since they decode the raw bytes as
    Latin-1, but test transports do, and the library then raises ``UnicodeEncodeError`` before
    any span starts.)
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _exporters.processors:
            response: HttpResponse = super().__call__(request)
            return response
        if _UNTRACED_PATH.fullmatch(request.path):
            return self.get_response(request)
        span, token = self._span_with_ids_only(request)
        _remember_ids(span, request)
        activation = otel_context.attach(trace.set_span_in_context(span))
        try:
            return self.get_response(request)
        finally:
            otel_context.detach(activation)
            if token is not None:
                otel_context.detach(token)

    def _span_with_ids_only(
        self, request: HttpRequest
    ) -> tuple[trace.Span, Token[otel_context.Context] | None]:
        """The dropped span of a request served while nothing exports, and the context token
        to detach after it (``None``: nothing was attached).

        A request that starts a trace (no ``traceparent`` or ``baggage`` header, no span
        current) gets the span the SDK's tracer would make for it, a non-recording span with a
        new trace id and span id from the provider's id generator, without extracting an empty
        context from its headers and asking the sampler to drop it. Any other request goes
        through the library's function, which continues the caller's trace.
        """
        meta = request.META
        if (
            _provider is not None
            and "HTTP_TRACEPARENT" not in meta
            and "HTTP_BAGGAGE" not in meta
            and trace.get_current_span() is trace.INVALID_SPAN
        ):
            ids = _provider.id_generator
            context = trace.SpanContext(
                trace_id=ids.generate_trace_id(),
                span_id=ids.generate_span_id(),
                is_remote=False,
                trace_flags=_NOT_SAMPLED,
            )
            return trace.NonRecordingSpan(context), None
        span, token = _start_internal_or_server_span(
            tracer=self._tracer,
            span_name=request.method or "HTTP",
            start_time=None,
            context_carrier=meta,
            context_getter=wsgi_getter,
        )
        return span, token

    def process_request(self, request: HttpRequest) -> None:
        try:
            super().process_request(request)
        except UnicodeError:
            logger.debug("request not traced: its attributes are not Latin-1", exc_info=True)

    # The library's view and exception hooks build the absolute URL again before finding that
    # the request has no span of theirs: skipped for a request served with ids only.
    def process_view(self, request: HttpRequest, view_func: Any, *args: Any, **kwargs: Any) -> None:
        if self._environ_span_key in request.META:
            super().process_view(request, view_func, *args, **kwargs)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if self._environ_span_key in request.META:
            super().process_exception(request, exception)


def _remember_ids(span: trace.Span, request: HttpRequest) -> None:
    ids = span_ids(span)
    if ids is not None:
        request_trace_ids_var.set(ids)


def attach_span_exporter(exporter: SpanExporter, *, batch: bool = True) -> SpanProcessor:
    """Export every span sampled from now on to ``exporter`` (batched in the background, or one
    by one when ``batch`` is false — tests). Returns the processor, for
    :func:`detach_span_processor`. Requires :func:`configure_tracing` to have run."""
    if _provider is None:
        raise RuntimeError("tracing is not configured (TRACING_ENABLED is false)")
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    with _lock:
        if not _exporters.installed:
            _provider.add_span_processor(_exporters)
            _exporters.installed = True
        _exporters.processors = (*_exporters.processors, processor)
    return processor


def detach_span_processor(processor: SpanProcessor) -> None:
    """Stop exporting through ``processor`` (flushed and shut down); with no exporter left,
    spans are dropped again at creation."""
    with _lock:
        _exporters.processors = tuple(p for p in _exporters.processors if p is not processor)
    processor.shutdown()


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """Run the block in a span ``name`` (a child of the current one) with ``attributes``; an
    exception leaving the block is recorded on the span and re-raised."""
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


@contextmanager
def no_span_left_open() -> Iterator[None]:
    """Run the block; however it ends, the current span afterwards is the one before it, and a
    span the block made current but did not close is ended, marked failed, when the block
    raises. (Celery's instrumentation makes its producer span current at
    ``before_task_publish`` and closes it at ``after_task_publish``, which a publish that fails
    in between never sends: the thread would stay inside that span.)"""
    before = trace.get_current_span()
    token = otel_context.attach(otel_context.get_current())
    try:
        yield
    except BaseException as error:
        left_open = trace.get_current_span()
        if left_open is not before:
            left_open.record_exception(error)
            left_open.set_status(Status(StatusCode.ERROR, str(error)))
            left_open.end()
        raise
    finally:
        otel_context.detach(token)


def span_ids(current: trace.Span | None = None) -> tuple[str, str] | None:
    """The (trace id, span id) of ``current`` (default: the current span) as lowercase hex, or
    ``None`` outside any trace."""
    context = (current or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def current_trace_ids() -> tuple[str, str] | None:
    """The ids of the current span, else those of the request being served (see
    :data:`request_trace_ids_var`), else ``None``."""
    return span_ids() or request_trace_ids_var.get()
