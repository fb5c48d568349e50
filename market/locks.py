"""The market-data refresh lock: an owned, short-lived lease in Redis, one refresh at a time.

On the ``strict`` cache (never the fail-soft default: a Redis outage must stop a refresh, not
let two run). Design (issue #9, "jobs that survive crashes"):

- **Owned.** The key's value names its holder: ``<token>|<task id>|<run id>``. The token is
  random per acquisition; the task id (blank outside Celery) is known at once; the run id is
  added by :meth:`Lease.bind` as soon as the holder has created its ``RefreshRun``. Every write
  (extend, bind, release, take-over) is one Lua script that compares the whole value first, so
  a process can only ever touch the lease it holds.
- **Short-lived.** The TTL is ``3 × JOB_HEARTBEAT_SECONDS`` (45 s by default) and the holder's
  heartbeat thread extends it every ``JOB_HEARTBEAT_SECONDS``. A killed worker's lease lapses
  within the TTL, not after the longest refresh; a holder whose extension fails (the lease
  expired or was taken over) learns it from :meth:`Lease.extend` returning ``False``.
- **Take-over.** A start that finds the lease held reads its holder. A holder whose run is
  dead — heartbeat older than ``JOB_STALE_AFTER_SECONDS``, already finished, or carrying the
  starter's own task id (a redelivered message: the same task cannot run twice at once) — is
  replaced atomically by :meth:`Lease.take_over`, a compare-and-set on the value that was
  read: if the holder changed meanwhile (it released, another start won), nothing is replaced.
  The decision itself (which runs are dead) lives in ``market.services.refresh_lease``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection

REFRESH_LOCK_KEY = "market:refresh-lock"
# A lease survives this many missed heartbeats.
LEASE_HEARTBEATS = 3

# KEYS[1]: the lease; ARGV[1]: the value the caller holds (or read); ARGV[2]: new value or TTL.
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
# ARGV[3]: TTL in milliseconds (a take-over starts a fresh TTL; a bind keeps the holder's).
_REPLACE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    if ARGV[3] == '' then
        redis.call('set', KEYS[1], ARGV[2], 'KEEPTTL')
    else
        redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
    end
    return 1
end
return 0
"""


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease, as read from Redis: the exact value, its task id and run id."""

    value: str
    task_id: str
    run_id: int | None

    @classmethod
    def parse(cls, value: str) -> LeaseHolder:
        _token, task_id, run_id = ([*value.split("|"), "", ""])[:3]
        return cls(value=value, task_id=task_id, run_id=int(run_id) if run_id.isdigit() else None)


class Lease:
    """One process's claim on a job lock (not yet acquired). Safe to use from several threads:
    every operation is a single Redis command or script."""

    def __init__(self, key: str, *, ttl_seconds: float, task_id: str = "") -> None:
        self.key = caches["strict"].make_key(key)
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        # "|" separates the value's fields (Celery task ids are UUIDs; be safe anyway).
        self.value = f"{uuid.uuid4().hex}|{task_id.replace('|', '')}|"
        self._redis = get_redis_connection("strict")

    @property
    def ttl_seconds(self) -> float:
        return self.ttl_ms / 1000

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (never blocks)."""
        return bool(self._redis.set(self.key, self.value, nx=True, px=self.ttl_ms))

    def holder(self) -> LeaseHolder | None:
        """Who holds the lease now (``None``: free)."""
        raw = self._redis.get(self.key)
        return None if raw is None else LeaseHolder.parse(raw.decode())

    def extend(self) -> bool:
        """Restart the TTL if this lease is still ours; ``False``: it expired or was taken."""
        return bool(self._redis.eval(_EXTEND, 1, self.key, self.value, self.ttl_ms))

    def bind(self, run_id: int) -> bool:
        """Record the holder's run in the lease (keeps the TTL); ``False``: no longer ours."""
        token, task_id, _run = self.value.split("|")
        bound = f"{token}|{task_id}|{run_id}"
        if self._replace(self.value, bound, ttl_ms=None):
            self.value = bound
            return True
        return False

    def take_over(self, dead: LeaseHolder) -> bool:
        """Replace ``dead`` by this lease, atomically: ``False`` if the holder changed."""
        return self._replace(dead.value, self.value, ttl_ms=self.ttl_ms)

    def release(self) -> bool:
        """Delete the lease if it is still ours; ``False``: it had expired or been taken."""
        return bool(self._redis.eval(_RELEASE, 1, self.key, self.value))

    def _replace(self, expected: str, new: str, *, ttl_ms: int | None) -> bool:
        ttl = "" if ttl_ms is None else str(ttl_ms)
        return bool(self._redis.eval(_REPLACE, 1, self.key, expected, new, ttl))


def refresh_lease(*, task_id: str = "") -> Lease:
    """The refresh's lease (not yet acquired): TTL ``LEASE_HEARTBEATS × JOB_HEARTBEAT_SECONDS``."""
    return Lease(
        REFRESH_LOCK_KEY,
        ttl_seconds=LEASE_HEARTBEATS * settings.JOB_HEARTBEAT_SECONDS,
        task_id=task_id,
    )
