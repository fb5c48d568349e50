"""Structured log lines through structlog: one JSON object per line (``LOG_FORMAT=json``) or a
readable ``key=value`` line (``LOG_FORMAT=console``, local runs and tests).

Every line, whether written with structlog or with the standard library
(``logger.info("…", extra={...})`` across the code base, Django, Celery), goes through
:class:`StructuredFormatter` and carries, in this order: ``ts`` (UTC, ISO 8601), ``level``,
``logger``, ``event``, ``request_id`` (``core.request_context``: the ``X-Request-ID`` of the
request being served, or the request that queued the task being run; ``null`` outside both),
``trace_id`` and ``span_id`` (the current OpenTelemetry span, hex), ``user_id`` (the signed-in
user of the request; a task started by a request keeps it) and ``task_id`` (the Celery task
being run), then the call's own fields and ``exception`` (a formatted traceback). The last four
are left out when unknown.

django-structlog adds a ``request_started`` / ``request_finished`` line per request (method,
path, status) and ``task_*`` lines per Celery task, and carries the request's context into the
tasks it queues (message headers).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import structlog
from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty
from structlog.types import EventDict, WrappedLogger

from .request_context import current_client_ip, current_request_id
from .tracing import current_trace_ids

# Fields every line starts with, in this order (the ones after ``request_id`` only when known).
LEADING_FIELDS = ("ts", "level", "logger", "event", "request_id")
CONTEXT_FIELDS = ("trace_id", "span_id", "user_id", "task_id")

# The request being served (set with its log context, cleared on ``request_finished``): DRF
# authenticates in the view, after django-structlog has bound the context, so the user is
# looked up at each line instead.
current_request_var: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "request_id"}


def _add_record_extras(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A standard-library record's ``extra={...}`` fields become fields of the line."""
    record: logging.LogRecord = event_dict["_record"]
    for key, value in vars(record).items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            event_dict[key] = value
    return event_dict


def _add_record_basics(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """``ts`` (the record's creation time), ``level`` and ``logger`` from the log record."""
    record: logging.LogRecord = event_dict["_record"]
    event_dict["ts"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat()
    event_dict["level"] = record.levelname.lower()
    event_dict["logger"] = record.name
    return event_dict


def _add_request_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The request id of ``core.request_context`` (it wins over a copy travelling in structlog's
    context) and the current trace and span ids."""
    event_dict["request_id"] = current_request_id() or event_dict.get("request_id")
    ids = current_trace_ids()
    if ids is not None:
        event_dict["trace_id"], event_dict["span_id"] = ids
    if event_dict.get("user_id") is None:
        event_dict["user_id"] = request_user_id()
    return event_dict


def request_user_id() -> Any:
    """The primary key of the signed-in user of the request being served, once authentication
    has run (never resolved here: that would query); ``None`` otherwise."""
    request = current_request_var.get()
    if request is None:
        return None
    user = vars(request).get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    return getattr(user, "pk", None)


def _ordered(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    ordered = {key: event_dict.pop(key, None) for key in LEADING_FIELDS}
    for key in CONTEXT_FIELDS:
        value = event_dict.pop(key, None)
        if value is not None:
            ordered[key] = value
    exception = event_dict.pop("exception", None)
    ordered.update(event_dict)
    if exception is not None:
        ordered["exception"] = exception
    return ordered


def _render(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    """JSON, or the console line ``ts level logger: event key=value …`` (then the traceback)."""
    if getattr(settings, "LOG_FORMAT", "json") == "json":
        return json.dumps(event_dict, default=str)
    head = f"{event_dict.pop('ts')} {event_dict.pop('level'):<7} {event_dict.pop('logger')}: "
    head += str(event_dict.pop("event"))
    exception = event_dict.pop("exception", None)
    tail = " ".join(f"{key}={value}" for key, value in event_dict.items() if value is not None)
    line = f"{head} {tail}".rstrip()
    return f"{line}\n{exception}" if exception else line


class StructuredFormatter(structlog.stdlib.ProcessorFormatter):
    """The one formatter of the ``LOGGING`` handlers: structlog's and the standard library's
    records alike become the line described in the module docstring."""

    def __init__(self) -> None:
        super().__init__(
            foreign_pre_chain=[structlog.contextvars.merge_contextvars, _add_record_extras],
            processors=[
                _add_record_basics,
                _add_request_context,
                structlog.processors.format_exc_info,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _ordered,
                _render,
            ],
        )


def configure_structlog() -> None:
    """Route structlog's loggers through the standard library (so ``LOGGING`` decides levels,
    handlers and the format), with structlog's context merged in at the call."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bind_request_context(request: HttpRequest, **_: object) -> None:
    """django-structlog's ``bind_extra_request_metadata`` receiver: the request's context
    carries our request id (``core.middleware.RequestIdMiddleware``, never a second one) and the
    client address as the trusted proxies give it (``core.throttling.client_ip``)."""
    current_request_var.set(request)
    structlog.contextvars.bind_contextvars(
        request_id=getattr(request, "request_id", None) or current_request_id(),
        ip=current_client_ip(),
    )


def add_user_to_task_context(context: dict[str, Any], **_: object) -> None:
    """django-structlog's ``modify_context_before_task_publish`` receiver: a task queued by a
    signed-in request logs that user's id too."""
    if context.get("user_id") is None:
        user_id = request_user_id()
        if user_id is not None:
            context["user_id"] = user_id


def install_request_id_record_factory() -> None:
    """Give every log record a ``request_id`` attribute, whichever handler formats it."""
    base_factory = logging.getLogRecordFactory()
    if getattr(base_factory, "_adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    factory._adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
