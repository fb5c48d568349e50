"""The read replica's health: is it answering, how far behind the primary, may reads use it.

``DATABASE_REPLICA_URL`` (optional) adds the ``replica`` database alias; ``core.db_router`` sends
the replica-safe reads there while :func:`replica_state` says it is usable (docs/scale-out.md,
"Read replica").

Lag, measured on the replica (one query, :data:`LAG_QUERY`)::

    lag = 0                                          when the standby has replayed all the WAL
                                                     it received (receive LSN = replay LSN), or
                                                     it is not in recovery (a promoted copy)
    lag = now() - pg_last_xact_replay_timestamp()    otherwise (clamped at 0; unknown, i.e.
                                                     nothing replayed yet, counts as lagging)

The first case keeps an idle primary from looking like a lagging replica (the last replayed
commit gets older while nothing is written). Both clocks are the replica's and the primary's
commit times: a clock skew between the two hosts adds to the lag.

Guarantees:
- the replica is usable when it answered within ``DB_CONNECT_TIMEOUT`` and its lag is at most
  ``DATABASE_REPLICA_MAX_LAG_SECONDS``; otherwise reads fall back to the primary and
  ``autoindex_db_replica_fallbacks_total{reason}`` counts each request that did;
- a process probes at most once per ``DATABASE_REPLICA_CHECK_SECONDS`` (a connection of its
  own, outside the pool: a stopped replica fails it at once instead of making a request wait on
  the pool); while one thread probes, the others use the previous answer;
- with no replica configured nothing here runs and nothing is counted.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

REPLICA = "replica"
LAG_QUERY = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
)
DOWN, LAGGING = "down", "lagging"

# Several web processes each measure the lag; the most recent measurement of a live process wins.
REPLICA_LAG = Gauge(
    "autoindex_db_replica_lag_seconds",
    "Seconds the read replica is behind the primary, as last measured (NaN: it did not answer).",
    multiprocess_mode="livemostrecent",
)
REPLICA_UP = Gauge(
    "autoindex_db_replica_up",
    "1 when the read replica answered the last probe, 0 when it did not.",
    multiprocess_mode="livemostrecent",
)
# prometheus_client adds the ``_total`` suffix to counter names.
REPLICA_FALLBACKS = Counter(
    "autoindex_db_replica_fallbacks",
    "Replica-safe requests whose reads went to the primary instead, by reason (down, lagging).",
    ["reason"],
)


@dataclass(frozen=True)
class ReplicaState:
    """One probe's answer. ``lag_seconds`` is ``None`` when unknown (down, nothing replayed)."""

    answering: bool
    lag_seconds: float | None
    max_lag_seconds: float
    checked_at: float  # time.monotonic() of the probe

    @property
    def fallback_reason(self) -> str | None:
        """``down``, ``lagging``, or ``None`` when reads may use the replica."""
        if not self.answering:
            return DOWN
        if self.lag_seconds is None or self.lag_seconds > self.max_lag_seconds:
            return LAGGING
        return None

    @property
    def usable(self) -> bool:
        return self.fallback_reason is None


_state: ReplicaState | None = None
_probe_lock = threading.Lock()


def replica_configured() -> bool:
    """Whether the ``replica`` alias exists (``DATABASE_REPLICA_URL`` set, or added by a test)."""
    return REPLICA in connections.settings


def _probe_connection_params() -> dict[str, Any]:
    params = connections[REPLICA].get_connection_params()
    # Django's own adapters and cursor class are not needed for one scalar.
    params.pop("context", None)
    params.pop("cursor_factory", None)
    params.setdefault("connect_timeout", settings.DB_CONNECT_TIMEOUT)
    return params


def _record(state: ReplicaState) -> ReplicaState:
    global _state
    _state = state
    REPLICA_UP.set(1 if state.answering else 0)
    REPLICA_LAG.set(state.lag_seconds if state.lag_seconds is not None else math.nan)
    return state


def replica_probe() -> ReplicaState:
    """Measure the replica's lag now (one connection, one query) and remember the answer."""
    max_lag = float(settings.DATABASE_REPLICA_MAX_LAG_SECONDS)
    try:
        with psycopg.connect(**_probe_connection_params(), autocommit=True) as conn:
            row = conn.execute(LAG_QUERY).fetchone()
    except psycopg.Error as error:
        logger.warning("read replica does not answer: %s", str(error).strip())
        return _record(ReplicaState(False, None, max_lag, time.monotonic()))
    lag = None if row is None or row[0] is None else max(0.0, float(row[0]))
    return _record(ReplicaState(True, lag, max_lag, time.monotonic()))


def replica_state() -> ReplicaState:
    """The replica's state, probed afresh when the last answer is older than the check interval.

    Precondition: :func:`replica_configured`. Never raises for a replica that is down.
    """
    state = _state
    interval = float(settings.DATABASE_REPLICA_CHECK_SECONDS)
    if state is not None and time.monotonic() - state.checked_at < interval:
        return state
    # The first probe of the process is waited for; later ones are not: another thread probing
    # means a fresh answer is on its way, and the previous one is at most a probe old.
    if state is not None and not _probe_lock.acquire(blocking=False):
        return state
    if state is None:
        _probe_lock.acquire()
    try:
        return replica_probe()
    finally:
        _probe_lock.release()


def replica_mark_down() -> None:
    """Record that connecting to the replica just failed: reads skip it until the next probe."""
    max_lag = float(settings.DATABASE_REPLICA_MAX_LAG_SECONDS)
    _record(ReplicaState(False, None, max_lag, time.monotonic()))


def replica_state_forget() -> None:
    """Drop the remembered answer: the next :func:`replica_state` probes (tests, reconfiguring)."""
    global _state
    _state = None


def replica_fallback_count(*, reason: str) -> None:
    """Count one replica-safe request served from the primary because the replica was ``reason``."""
    REPLICA_FALLBACKS.labels(reason=reason).inc()
