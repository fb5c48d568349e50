"""``GET /api/v2/events/``: live events as Server-Sent Events (docs/events.md).

Credentials: a JWT access token (``Authorization: Bearer …``, API clients) or the Django
session of an active staff member (the admin pages' ``EventSource``). Without either: 401
problem+json; signed in without a role: 403. Each reader sees the events whose audience its
role reaches (``core.events.Event.visible_to``): viewers get publications, analysts and admins
also job progress.

One async view serves both process kinds:

- under ASGI (the ``stream`` process, uvicorn) the stream is open-ended and follows the
  process's one pub/sub subscription (``core.events.EventHub``): an idle stream holds no
  thread and no Redis connection;
- under WSGI (gunicorn ``web``) a stream holds a worker thread, so it ends after
  ``EVENTS_WSGI_MAX_SECONDS`` and the browser reconnects with ``Last-Event-ID`` (the
  ``retry:`` hint): it works, bounded, but streams belong on the stream process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError
from rest_framework.exceptions import AuthenticationFailed

from core.errors import PROBLEM_CONTENT_TYPE, ErrorCode, framework_code, problem_body
from core.events import (
    CONNECTED,
    Event,
    event_hub,
    follow_blocking,
    sse_comment,
    sse_retry,
    valid_id,
)

from .authentication import CachedUserJWTAuthentication
from .roles import user_role

EVENT_STREAM_CONTENT_TYPE = "text/event-stream"


def _problem(request: HttpRequest, status: int, code: str, detail: str) -> JsonResponse:
    body = problem_body(status_code=status, code=code, detail=detail, instance=request.path)
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _reader_role(request: HttpRequest) -> str | JsonResponse:
    """The reader's role, or the problem response refusing it (sync: may read the DB)."""
    try:
        authenticated = CachedUserJWTAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed as error:
        codes = error.get_codes()
        code = codes if isinstance(codes, str) else error.default_code
        return _problem(request, 401, framework_code(code, 401), str(error.detail))
    user: Any
    if authenticated is not None:
        user = authenticated[0]
    else:
        user = getattr(request, "user", None)
        if not (user is not None and user.is_authenticated and user.is_active and user.is_staff):
            return _problem(
                request,
                401,
                ErrorCode.NOT_AUTHENTICATED,
                "Authentication credentials were not provided.",
            )
    role = user_role(user)
    if role is None:
        return _problem(request, 403, ErrorCode.PERMISSION_DENIED, "Your role does not allow this.")
    return str(role)


def _headers(request: HttpRequest, response: StreamingHttpResponse) -> StreamingHttpResponse:
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"  # a buffering proxy would hold the events back
    # The admin pages on the web origin reading the stream process's origin (same host, other
    # port) with their session cookie: a credentialed CORS answer for those origins only.
    origin = request.headers.get("Origin")
    if origin and origin in settings.EVENTS_ALLOWED_ORIGINS:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"
    return response


@csrf_exempt  # it changes nothing: any other method is a 405 problem, not a CSRF page
async def events_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    if request.method != "GET":
        return _problem(request, 405, ErrorCode.METHOD_NOT_ALLOWED, "Only GET is allowed.")
    role = await sync_to_async(_reader_role)(request)
    if isinstance(role, JsonResponse):
        return role
    after = valid_id(request.headers.get("Last-Event-ID") or request.GET.get("last_event_id"))
    heartbeat = float(settings.EVENTS_HEARTBEAT_SECONDS)
    if isinstance(request, ASGIRequest):
        content: AsyncIterator[str] | Iterator[str] = _follow_async(role, after, heartbeat)
    else:
        content = _follow_sync(role, after, heartbeat, float(settings.EVENTS_WSGI_MAX_SECONDS))
    response = StreamingHttpResponse(content, content_type=EVENT_STREAM_CONTENT_TYPE)
    return _headers(request, response)


def _message(item: Event | str | None, role: str) -> str:
    """The text sent for what a reader yielded ("" for an event the role may not see)."""
    if item is None:
        return sse_comment("heartbeat")
    if isinstance(item, Event):
        return item.sse() if item.visible_to(role) else ""
    # CONNECTED, once the start position is fixed: nothing published after it is missed.
    return sse_retry() + sse_comment("connected")


async def _follow_async(role: str, after: str | None, heartbeat: float) -> AsyncIterator[str]:
    # Ended after EVENTS_STREAM_MAX_SECONDS so that the reader's credentials and role are
    # checked again at its reconnect (a demoted user or an expired token stops hearing).
    deadline = time.monotonic() + float(settings.EVENTS_STREAM_MAX_SECONDS)
    connected = False
    try:
        async for item in event_hub().follow(after, heartbeat=heartbeat):
            connected = connected or item == CONNECTED
            if text := _message(item, role):
                yield text
            if time.monotonic() >= deadline:
                return
    except (RedisError, OSError):
        # Redis is down at connect: the browser comes back after the retry hint.
        yield ("" if connected else sse_retry()) + sse_comment("events unavailable")


class _WsgiSlots:
    """Streams a ``web`` process serves at once (``EVENTS_WSGI_MAX_STREAMS``): each holds a
    thread, so past the cap a stream is told to come back later instead of taking one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.taken = 0

    def take(self) -> bool:
        with self.lock:
            if self.taken >= int(settings.EVENTS_WSGI_MAX_STREAMS):
                return False
            self.taken += 1
            return True

    def give_back(self) -> None:
        with self.lock:
            self.taken -= 1


WSGI_SLOTS = _WsgiSlots()


def _follow_sync(role: str, after: str | None, heartbeat: float, limit: float) -> Iterator[str]:
    if not WSGI_SLOTS.take():
        # The browser reconnects after this longer hint (Last-Event-ID kept); pages poll meanwhile.
        yield f"retry: {int(settings.EVENTS_WSGI_BUSY_RETRY_MILLISECONDS)}\n\n" + sse_comment(
            "busy"
        )
        return
    try:
        yield from _follow_sync_slot(role, after, heartbeat, limit)
    finally:
        WSGI_SLOTS.give_back()


def _follow_sync_slot(
    role: str, after: str | None, heartbeat: float, limit: float
) -> Iterator[str]:
    connected = False
    try:
        for item in follow_blocking(
            after, heartbeat=heartbeat, max_seconds=limit, clock=time.monotonic
        ):
            connected = connected or item == CONNECTED
            if text := _message(item, role):
                yield text
    except (RedisError, OSError):
        # The browser reconnects after the retry hint and resumes from its Last-Event-ID.
        yield ("" if connected else sse_retry()) + sse_comment("events unavailable")
