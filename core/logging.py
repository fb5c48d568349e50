"""Structured log lines: one JSON object (or key=value line locally) carrying the request id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from .request_context import current_request_id

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "request_id"}


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request (or task) being served, if any."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class StructuredFormatter(logging.Formatter):
    """JSON (``LOG_FORMAT=json``) or ``key=value`` lines; extra fields are kept as keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if getattr(settings, "LOG_FORMAT", "json") == "json":
            return json.dumps(payload, default=str)
        head = f"{payload.pop('ts')} {payload.pop('level'):<7} {payload.pop('logger')}: "
        head += str(payload.pop("event"))
        exception = payload.pop("exception", None)
        tail = " ".join(f"{key}={value}" for key, value in payload.items() if value is not None)
        line = f"{head} {tail}".rstrip()
        return f"{line}\n{exception}" if exception else line


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
