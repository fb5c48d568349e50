"""The current request id, carried through logs and into Celery tasks started by a request."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's id only if it is short and plain, so it cannot inject into logs.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_or_generate(candidate: str | None) -> str:
    """Return ``candidate`` if it is a well-formed id, else a fresh one."""
    if candidate and _WELL_FORMED.match(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()
