"""Read routing: replica-safe API reads go to the read replica, everything else to the primary.

The decision is taken per request by :class:`ReplicaRoutingMiddleware` and read by
:class:`ReplicaRouter` through a context variable (docs/scale-out.md, "Read replica"). A read
uses the replica only when all of these hold:

- a replica is configured (``DATABASE_REPLICA_URL``) and usable (``core.replica``: answering,
  lag at most ``DATABASE_REPLICA_MAX_LAG_SECONDS``; otherwise the read falls back to the primary
  and the fallback counter moves);
- the request is a ``GET``/``HEAD`` of a route in :data:`REPLICA_SAFE_READS` (published index
  reads and catalogues, whose data only changes through publishing and refreshes);
- its client (the access token's user, the signed-in user, or the session) made no unsafe request
  (``POST``, ``PUT``, ``PATCH``, ``DELETE``) in the last ``DATABASE_READ_YOUR_WRITES_SECONDS``:
  such a request leaves a timestamp in the cache when it ends, and while it is there the
  client's reads go to the primary (read-your-writes). When the cache cannot be read, the
  primary is used;
- nothing was written in this request yet, and no transaction is open on the primary.

Everything else — every write, Celery tasks, management commands, the admin, the other API
routes — uses the primary. A connection error on the replica at the request's first read is
caught before any query runs: that request reads from the primary, and the replica is skipped
until the next probe. With no replica configured the middleware does nothing (no query, no cache
read) and the router answers ``default``.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from core.replica import (
    REPLICA,
    replica_configured,
    replica_fallback_count,
    replica_mark_down,
    replica_state,
)

logger = logging.getLogger(__name__)

# URL names (namespace ``api``, /api/v2) whose GET/HEAD reads may be served by the replica.
REPLICA_SAFE_READS = frozenset(
    {
        # published index reads
        "api:index-list",
        "api:index-detail",
        "api:index-values",
        "api:index-allocations",  # current and historical allocations (``?date=``)
        "api:index-benchmark",
        "api:index-metrics",
        "api:index-allocation-history",
        "api:index-drawdown",
        # catalogues
        "api:asset-list",
        "api:asset-detail",
        "api:currency-list",
        "api:strategy-detail",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Methods that never write; every other method marks its client for read-your-writes.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
WROTE_AT_KEY = "db-router:wrote-at:{client}"
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, ConnectionInterrupted, OSError)


@dataclass
class ReadRoute:
    """One request's routing: whether it may read from the replica, and what it did so far."""

    replica_wanted: bool
    alias: str | None = None  # decided at the first read
    wrote: bool = False

    def read_alias(self) -> str:
        if self.wrote or not self.replica_wanted:
            return DEFAULT_DB_ALIAS
        if self.alias is None:
            self.alias = _replica_or_primary()
        return self.alias


_route: contextvars.ContextVar[ReadRoute | None] = contextvars.ContextVar(
    "autoindex_read_route", default=None
)


def _replica_or_primary() -> str:
    """``replica`` when it is usable and a connection to it opens, else ``default`` (counted)."""
    reason = replica_state().fallback_reason
    if reason is None:
        replica = connections[REPLICA]
        try:
            # Gives a connection kept from an earlier request back (CONN_MAX_AGE is 0), so that
            # a dead one is found by the pool's check here rather than by the view's query.
            replica.close_if_unusable_or_obsolete()
            replica.ensure_connection()
        except DatabaseError:
            logger.warning("read replica connection failed; reading from the primary")
            replica_mark_down()
            reason = "down"
    if reason is not None:
        replica_fallback_count(reason=reason)
        return DEFAULT_DB_ALIAS
    return REPLICA


class ReplicaRouter:
    """Writes to ``default``; reads to the alias the request's :class:`ReadRoute` chose.

    Outside a request routed by the middleware (tasks, commands, tests calling the ORM) every
    read goes to ``default``. Migrations never run on the replica (it is a copy of the primary).
    """

    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        route = _route.get()
        if route is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return route.read_alias()

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        route = _route.get()
        if route is not None:
            route.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        aliases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True  # the same data: the replica is a copy of the primary
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None


def _bearer_user_id(request: HttpRequest) -> str | None:
    """The user id of a valid access token in ``Authorization`` (no query: a signature check)."""
    authentication = JWTAuthentication()
    header = authentication.get_header(request)  # type: ignore[arg-type]
    if header is None:
        return None
    try:
        raw_token = authentication.get_raw_token(header)
        if raw_token is None:
            return None
        token = authentication.get_validated_token(raw_token)
    except (TokenError, AuthenticationFailed):  # the view answers a bad token, not us
        return None
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    return None if user_id is None else str(user_id)


def _client_keys(request: HttpRequest, *, signed_in_user: bool) -> list[str]:
    """Cache keys naming the request's client: its token's user, signed-in user, session."""
    clients: list[str] = []
    user_id = _bearer_user_id(request)
    if user_id is None and signed_in_user:
        user = getattr(request, "user", None)  # set by DRF's authentication or the session
        if user is not None and user.is_authenticated:
            user_id = str(user.pk)
    if user_id is not None:
        clients.append(f"user:{user_id}")
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session_key:
        clients.append(f"session:{session_key}")
    return [WROTE_AT_KEY.format(client=client) for client in clients]


def _wrote_recently(request: HttpRequest) -> bool:
    keys = _client_keys(request, signed_in_user=False)
    if not keys:
        return False
    try:
        return bool(caches["strict"].get_many(keys))
    except CACHE_ERRORS:
        logger.warning("read-your-writes markers unreadable; reading from the primary")
        return True


def _mark_wrote(request: HttpRequest) -> None:
    keys = _client_keys(request, signed_in_user=True)
    if not keys:
        return
    window = float(settings.DATABASE_READ_YOUR_WRITES_SECONDS)
    try:
        caches["strict"].set_many(dict.fromkeys(keys, time.time()), timeout=window)
    except CACHE_ERRORS:
        # Its next reads cannot be told apart; they would find no marker either way.
        logger.warning("read-your-writes marker not stored", exc_info=True)


class ReplicaRoutingMiddleware:
    """Chooses, per request, whether its reads may use the replica (see the module docstring).

    After ``AuthenticationMiddleware``. The choice is made in ``process_view`` (the URL is
    resolved by then); the request's unsafe methods mark its client when the response is ready.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured():
            return self.get_response(request)
        token = _route.set(ReadRoute(replica_wanted=False))
        try:
            response = self.get_response(request)
        finally:
            _route.reset(token)
        if request.method not in READ_ONLY_METHODS:
            _mark_wrote(request)
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        route = _route.get()
        if route is None or route.alias is not None:
            return
        match = request.resolver_match
        route.replica_wanted = (
            request.method in SAFE_METHODS
            and match is not None
            and match.view_name in REPLICA_SAFE_READS
            and not _wrote_recently(request)
        )
