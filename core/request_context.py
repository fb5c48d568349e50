"""The current request id and client address, carried through logs, audit events and into the
Celery tasks a request starts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# Accept a caller's id only if it is short and plain, so it cannot inject into logs.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# The client address as seen by the first trusted proxy (``core.throttling.client_ip``), so a
# service can audit a write without being handed the request.
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_or_generate(candidate: str | None) -> str:
    """Return ``candidate`` if it is a well-formed id, else a fresh one."""
    if candidate and _WELL_FORMED.match(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()


def current_client_ip() -> str | None:
    return client_ip_var.get()


@contextmanager
def bound_request_id(request_id: str | None) -> Iterator[None]:
    """Run the block with ``request_id`` as the current request id (a task started by a request
    logs and records the request's id); with ``None`` the current one is kept."""
    if not request_id:
        yield
        return
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)
