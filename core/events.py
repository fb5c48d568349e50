"""Live events: publish after commit, read back as Server-Sent Events (docs/events.md).

The bottom layer of the live updates (imports no app). :func:`publish_event` records an event
once the surrounding transaction commits, with one Lua call on Redis that

1. appends it to a bounded Redis Stream (``XADD … MAXLEN ~ EVENTS_BUFFER_LENGTH``): the replay
   buffer, whose entry ids (``<ms>-<seq>``) are the events' ids, increasing monotonically;
2. publishes the same event, id included, on a pub/sub channel for the live readers.

One script does both, so pub/sub order is id order. A Redis error never reaches the caller:
it is logged and counted (``autoindex_events_publish_failed_total``); a job's state is its row,
the event only tells a page to look again.

Readers (``accounts.event_stream``) resume from a ``Last-Event-ID`` by reading the stream
after that id, then follow the live channel. Under ASGI one :class:`EventHub` per process
holds the only pub/sub connection and fans messages out to the open streams, so an idle
stream costs a queue, not a Redis connection or a thread. Under WSGI a bounded synchronous
reader (:func:`events_read_blocking`) polls the stream with ``XREAD BLOCK``.

Audiences: every event is for ``viewer`` (everyone with a role), ``analyst`` or ``admin``;
a reader sees an event when its role ranks at least the event's audience.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from prometheus_client import Counter
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

AUDIENCE_RANK = {"viewer": 1, "analyst": 2, "admin": 3}

EVENTS_PUBLISHED = Counter(
    "autoindex_events_published",
    "Live events published (Redis stream + pub/sub), by event type.",
    ["type"],
)
EVENTS_PUBLISH_FAILED = Counter(
    "autoindex_events_publish_failed",
    "Live events lost because Redis refused or could not be reached, by event type.",
    ["type"],
)

# KEYS[1] the stream, KEYS[2] the channel; ARGV: max length, type, audience, data (JSON).
# Returns the new entry's id. The published message is "<id> <json envelope>".
_PUBLISH_SCRIPT = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                      't', ARGV[2], 'a', ARGV[3], 'd', ARGV[4])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. cjson.encode({t=ARGV[2], a=ARGV[3], d=ARGV[4]}))
return id
"""


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    audience: str
    data: str  # JSON text, sent as is

    def sse(self) -> str:
        """The event as one Server-Sent Events message."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {self.data}\n\n"

    def visible_to(self, role: str | None) -> bool:
        return role is not None and AUDIENCE_RANK.get(role, 0) >= AUDIENCE_RANK.get(
            self.audience, 99
        )


# -- names and connections --------------------------------------------------------------------


def _prefix() -> str:
    """Runs sharing a Redis keep apart by the cache's key prefix (each test run has its own)."""
    prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX", "") or "autoindex"
    return f"{prefix}:events"


def stream_key() -> str:
    return f"{_prefix()}:buffer"


def channel_name() -> str:
    return f"{_prefix()}:live"


def hub_client_name() -> str:
    """The name of a hub's subscription connection (``CLIENT LIST`` shows whose it is)."""
    return f"{_prefix()}:hub".replace(" ", "_")


def redis_url() -> str:
    return str(getattr(settings, "EVENTS_REDIS_URL", "") or settings.REDIS_URL)


def _timeouts() -> dict[str, Any]:
    timeout = float(getattr(settings, "EVENTS_REDIS_TIMEOUT_SECONDS", 1.5))
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout}


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def sync_client() -> redis.Redis:
    """A per-process client (its pool is thread-safe) for the current ``redis_url()``."""
    url = redis_url()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, decode_responses=True, **_timeouts())
            _clients[url] = client
        return client


# -- publishing -------------------------------------------------------------------------------


def publish_event(event_type: str, data: dict[str, Any], *, audience: str = "viewer") -> None:
    """Publish ``event_type`` with ``data`` (JSON-serialisable; dates become ISO text) for
    ``audience`` and up, once the surrounding transaction commits (at once outside one).

    Never raises because of Redis: a failure is logged and counted, and the event is lost.
    """
    if audience not in AUDIENCE_RANK:
        raise ValueError(f"unknown audience {audience!r}")
    payload = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))
    transaction.on_commit(PendingEvent(event_type, payload, audience))


@dataclass(frozen=True)
class PendingEvent:
    """The on-commit callback of :func:`publish_event` (a test tells it from a queued task)."""

    type: str
    payload: str
    audience: str

    def __call__(self) -> None:
        _send(self.type, self.payload, self.audience)


def _send(event_type: str, payload: str, audience: str) -> str | None:
    try:
        client = sync_client()
        event_id = client.eval(
            _PUBLISH_SCRIPT,
            2,
            stream_key(),
            channel_name(),
            int(getattr(settings, "EVENTS_BUFFER_LENGTH", 5000)),
            event_type,
            audience,
            payload,
        )
    except (RedisError, OSError):
        EVENTS_PUBLISH_FAILED.labels(type=event_type).inc()
        logger.warning("live event not published", extra={"event_type": event_type}, exc_info=True)
        return None
    EVENTS_PUBLISHED.labels(type=event_type).inc()
    return str(event_id)


# -- reading ----------------------------------------------------------------------------------


def id_key(event_id: str) -> tuple[int, int]:
    """A stream id as a comparable pair; a malformed id sorts first (replays everything)."""
    ms, _, seq = event_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return (0, 0)


def valid_id(event_id: str | None) -> str | None:
    """``event_id`` when it is a stream id (``<ms>-<seq>``), else ``None``."""
    if not event_id:
        return None
    ms, dash, seq = event_id.strip().partition("-")
    return event_id.strip() if dash and ms.isdigit() and seq.isdigit() else None


def _entry(entry_id: str, fields: dict[str, str]) -> Event:
    return Event(id=entry_id, type=fields["t"], audience=fields["a"], data=fields["d"])


def _message(raw: str) -> Event:
    event_id, _, body = raw.partition(" ")
    envelope = json.loads(body)
    return Event(id=event_id, type=envelope["t"], audience=envelope["a"], data=envelope["d"])


def current_tail(client: redis.Redis) -> str:
    """The id of the newest buffered event ("0-0" when empty): a new reader starts after it."""
    newest = client.xrevrange(stream_key(), count=1)
    return str(newest[0][0]) if newest else "0-0"


def events_read_blocking(
    client: redis.Redis, after: str, *, block_seconds: float, count: int = 500
) -> list[Event]:
    """Buffered events after id ``after``, waiting up to ``block_seconds`` for one (WSGI)."""
    answer: Any = client.xread(
        {stream_key(): after}, count=count, block=max(int(block_seconds * 1000), 1)
    )
    return [_entry(entry_id, fields) for _, entries in answer or [] for entry_id, fields in entries]


async def _replay(client: aioredis.Redis, after: str) -> list[Event]:
    limit = int(getattr(settings, "EVENTS_BUFFER_LENGTH", 5000))
    entries: Any = await client.xrange(stream_key(), min=f"({after}", count=limit)
    return [_entry(entry_id, fields) for entry_id, fields in entries]


_CATCH_UP = object()  # queued when live messages may have been missed: re-read the buffer
# Yielded first by the readers once their start position is fixed: from then on no event is
# missed, so the stream may say ": connected".
CONNECTED = "connected"


class EventHub:
    """One pub/sub subscription per event loop, fanned out to every open stream's queue."""

    QUEUE_SIZE = 1000

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[Any]] = set()
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.client: aioredis.Redis | None = None

    def _redis(self) -> aioredis.Redis:
        if self.client is None:
            self.client = aioredis.Redis.from_url(redis_url(), decode_responses=True, **_timeouts())
        return self.client

    def _broadcast(self, item: Any) -> None:
        for queue in list(self.queues):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:  # a stalled reader: it re-reads the buffer instead
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait(_CATCH_UP)

    async def _run(self) -> None:
        while True:
            pubsub = None
            try:
                subscriber = aioredis.Redis.from_url(
                    redis_url(), decode_responses=True, client_name=hub_client_name()
                )
                pubsub = subscriber.pubsub()
                await pubsub.subscribe(channel_name())
                self.ready.set()
                # Anything published while (re)subscribing is read from the buffer.
                self._broadcast(_CATCH_UP)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._broadcast(_message(message["data"]))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError, KeyError):
                logger.warning("live event subscription lost; retrying", exc_info=True)
            finally:
                self.ready.clear()
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            await asyncio.sleep(1.0)

    def _ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def follow(
        self, after: str | None, *, heartbeat: float
    ) -> AsyncIterator[Event | str | None]:
        """:data:`CONNECTED`, then the events after ``after`` (or after the buffer's tail when
        ``None``), then live ones; ``None`` after ``heartbeat`` seconds without one (the caller
        sends a heartbeat)."""
        queue: asyncio.Queue[Any] = asyncio.Queue(self.QUEUE_SIZE)
        self.queues.add(queue)
        try:
            self._ensure_running()
            client = self._redis()
            last = after
            if last is None:
                newest = await client.xrevrange(stream_key(), count=1)
                last = str(newest[0][0]) if newest else "0-0"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), timeout=heartbeat)
            yield CONNECTED
            pending: list[Any] = [_CATCH_UP]
            while True:
                while pending:
                    item = pending.pop(0)
                    if item is _CATCH_UP:
                        try:
                            replayed = await _replay(client, last)
                        except (RedisError, OSError):
                            logger.warning("live event replay failed", exc_info=True)
                            replayed = []
                        pending[:0] = replayed
                        continue
                    if id_key(item.id) <= id_key(last):
                        continue  # already sent (replayed and then heard live)
                    last = item.id
                    yield item
                try:
                    pending.append(await asyncio.wait_for(queue.get(), timeout=heartbeat))
                except TimeoutError:
                    yield None
        finally:
            self.queues.discard(queue)


# Keyed by the loop itself (weakly): a new loop — a restarted server in the same process —
# gets a new hub rather than one whose task belonged to a loop that is gone.
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventHub] = weakref.WeakKeyDictionary()


def event_hub() -> EventHub:
    """The running event loop's hub (uvicorn runs one loop per process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = EventHub()
    return hub


def sse_comment(text: str) -> str:
    return f": {text}\n\n"


def sse_retry() -> str:
    return f"retry: {int(getattr(settings, 'EVENTS_RETRY_MILLISECONDS', 3000))}\n\n"


def follow_blocking(
    after: str | None, *, heartbeat: float, max_seconds: float, clock: Any
) -> Iterator[Event | str | None]:
    """The WSGI reader: like :meth:`EventHub.follow` from the buffer, for ``max_seconds``."""
    client = sync_client()
    last = after or current_tail(client)
    yield CONNECTED
    deadline = clock() + max_seconds
    while (remaining := deadline - clock()) > 0:
        events = events_read_blocking(client, last, block_seconds=min(heartbeat, remaining))
        if not events:
            yield None
            continue
        for event in events:
            last = event.id
            yield event
