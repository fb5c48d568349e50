"""Published reads replayed without DRF: the response the full view made for the same request,
answered again while the published-run pointer it was made under is current.

A published read's body depends only on what its published-run pointer names (the run, the
index's last edit) and on the request's URL, ``Accept``, ``Accept-Encoding`` and host
(``portfolio.cache``). So once the full view (:class:`rest_framework.views.APIView`) has
answered a request 200, the same request may be answered with the same headers and
bytes for as long as the pointer is the one the view read. :func:`replayable` wraps a published
read view to do that, per worker process:

- **who asks** is still checked on every request, as the view checks it: the token (signature,
  expiry), the user's cached snapshot (active, password unchanged, role) and the role throttle,
  counted, all in one Redis round trip (``accounts.admission``); then the view's permission
  classes. Only views that authenticate and throttle exactly so can be wrapped. Anything other
  than an accepted, permitted and unthrottled bearer token goes to the full view, which
  answers it (401, 403, 429) as before;
- **what is answered** is a replay only while the pointer version (``portfolio.cache``) is the
  one read before the full view ran (checked in the same round trip), and for at most
  ``PUBLISHED_POINTER_CACHE_SECONDS`` from when the pointer itself was read from the database.
  A publish or an index edit through the services therefore changes the answer on the next
  request, and a change made any other way within the same bound as the pointer cache
  (docs/api.md, "Caching").

Only ``GET`` requests without validators (``If-None-Match``/``If-Modified-Since``: the full view
answers those 304 without a query) and with an ``Authorization`` header are replayed; a replay
makes no database query. Replays are held in a per-process LRU bounded by
``PUBLISHED_READ_REPLAY_MAX_BYTES`` (0 turns replays off). Counted in
``autoindex_published_read_replays_total{outcome}``: ``replayed``, or ``filled`` when the full
view answered 200 and its response was kept.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from prometheus_client import Counter

from accounts.admission import admit
from accounts.authentication import CachedUserJWTAuthentication
from accounts.throttling import RoleRateThrottle
from core.throttling import FailOpenScopedRateThrottle
from portfolio.cache import POINTER_VERSION_KEY, pointer_version_get, published_pointer_read_at

REPLAYS = Counter(
    "autoindex_published_read_replays",
    "Published reads answered from the per-process replay of a full view's response "
    "(outcome=replayed), and full-view responses kept for replay (outcome=filled).",
    ["outcome"],
)
_REPLAYED = REPLAYS.labels(outcome="replayed")
_FILLED = REPLAYS.labels(outcome="filled")

# A conditional request is answered by the full view (a 304 costs no query there).
_UNREPLAYED_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")

ReplayKey = tuple[str, ...]


@dataclass(frozen=True)
class Replay:
    """One full-view 200 and what it may be replayed under."""

    pointer_version: str
    pointer_read_at: float  # time.time() when the view's pointer was read from the database
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def fresh(self, *, now: float) -> bool:
        """Within ``PUBLISHED_POINTER_CACHE_SECONDS`` of its pointer's read (the version is
        checked by the admission's round trip)."""
        max_age = float(settings.PUBLISHED_POINTER_CACHE_SECONDS)
        return 0 <= now - self.pointer_read_at < max_age

    def response(self) -> HttpResponse:
        return HttpResponse(self.body, headers=dict(self.headers))


class ReplayStore:
    """A thread-safe LRU of replays, bounded by the bytes of their bodies."""

    def __init__(self) -> None:
        self._entries: OrderedDict[ReplayKey, Replay] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: ReplayKey) -> Replay | None:
        with self._lock:
            replay = self._entries.get(key)
            if replay is not None:
                self._entries.move_to_end(key)
            return replay

    def put(self, key: ReplayKey, replay: Replay, *, max_bytes: int) -> None:
        if len(replay.body) > max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._entries[key] = replay
            self._bytes += len(replay.body)
            while self._bytes > max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes


store = ReplayStore()


def _replay_key(request: HttpRequest, view_name: str) -> ReplayKey | None:
    """What the response may depend on, or ``None`` for a request that is never replayed."""
    meta = request.META
    if request.method != "GET" or "HTTP_AUTHORIZATION" not in meta:
        return None
    if any(header in meta for header in _UNREPLAYED_HEADERS):
        return None
    try:
        # The origin of the absolute pagination links, as the view builds them.
        origin = f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return None  # the full view answers it (400)
    return (
        view_name,
        request.path,
        meta.get("QUERY_STRING", ""),
        meta.get("HTTP_ACCEPT", ""),
        meta.get("HTTP_ACCEPT_ENCODING", ""),
        origin,
    )


def _admitted(request: HttpRequest, view: Any, replay: Replay) -> bool:
    """Whether the view would let this request through and the replay's pointer version is
    still the current one: one Redis round trip (``accounts.admission``: the token, the user's
    snapshot, its role throttle counted), then the view's permission classes. ``False`` means
    "ask the full view", which answers any refusal itself."""
    user = admit(request, guard_key=POINTER_VERSION_KEY, guard_value=replay.pointer_version)
    if user is None:
        return False
    return all(permission.has_permission(request, view) for permission in view.get_permissions())


def _check_replayable(view_class: Any) -> None:
    """The view authenticates and throttles as ``accounts.admission`` does (the role throttle,
    and the scoped one only without a scope), or it is not replayable."""
    throttles = set(view_class.throttle_classes)
    if (
        list(view_class.authentication_classes) != [CachedUserJWTAuthentication]
        or not throttles <= {RoleRateThrottle, FailOpenScopedRateThrottle}
        or getattr(view_class, "throttle_scope", None)
    ):
        raise ImproperlyConfigured(
            f"{view_class.__name__} authenticates or throttles in a way replays cannot check"
        )


def replayable(view_func: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wrap a published read's ``as_view()`` callable (module docstring). The wrapper keeps the
    view's attributes (``view_class``, ``csrf_exempt``) for URL resolution, CSRF and the
    schema."""
    view_class: Any = view_func.view_class  # type: ignore[attr-defined]
    _check_replayable(view_class)
    checker = view_class(**getattr(view_func, "view_initkwargs", {}))
    view_name = view_class.__name__

    @functools.wraps(view_func)
    def replaying(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        max_bytes = int(settings.PUBLISHED_READ_REPLAY_MAX_BYTES)
        key = _replay_key(request, view_name) if max_bytes > 0 else None
        if key is None:
            return view_func(request, *args, **kwargs)
        replay = store.get(key)
        if (
            replay is not None
            and replay.fresh(now=time.time())
            and _admitted(request, checker, replay)
        ):
            _REPLAYED.inc()
            return replay.response()
        version = pointer_version_get()  # before the view reads the pointer (see _keep)
        response = view_func(request, *args, **kwargs)
        _keep(key, response, version=version, slug=kwargs.get("slug"), max_bytes=max_bytes)
        return response

    return replaying


def _keep(
    key: ReplayKey, response: HttpResponseBase, *, version: str | None, slug: Any, max_bytes: int
) -> None:
    """Keep a full-view answer for replay: a rendered 200 of a published read (it has an
    ``ETag``) made under ``version``, dated when its pointer was read."""
    if (
        version is None
        or not isinstance(slug, str)
        or type(response) is not HttpResponse
        or response.status_code != 200
        or not response.has_header("ETag")
        or response.cookies
    ):
        return
    read_at = published_pointer_read_at(slug=slug, version=version)
    if read_at is None:
        return
    replay = Replay(
        pointer_version=version,
        pointer_read_at=read_at,
        headers=tuple(response.items()),
        body=response.content,
    )
    store.put(key, replay, max_bytes=max_bytes)
    _FILLED.inc()
