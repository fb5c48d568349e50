"""Who a token's user is, cached per user for a short window: no query on a hot authenticated read.

An authenticated API request needs the user's row (active? password unchanged since the token?)
and its role (the groups). Both are read once and kept in Redis as an :class:`AuthSnapshot` for
``AUTH_USER_CACHE_SECONDS``; every request in that window authenticates with no query.

Guarantees (the bound is the window, ``W = AUTH_USER_CACHE_SECONDS``, 30 s by default):

- a change made through the account services — a role change (``role_changes_audit``, the
  admin's group edit), a deactivation or a staff-flag change (``user_update``), a registration —
  drops the snapshot (:func:`user_snapshot_forget`, through ``accounts.roles.forget_cached_role``)
  when it is made and again when its transaction commits: the user's next request reads the
  new state;
- any other change (a password set in the admin, a deletion, SQL, a shell) is seen at most W
  after the snapshot was read: a snapshot older than W is never used, whatever Redis still
  holds; so no privilege outlives its removal by more than W;
- a token issued before a password change is refused once the snapshot is re-read (the
  snapshot holds the digest simplejwt compares, never the password hash itself);
- a Redis outage (the fail-soft ``default`` alias) means no snapshot: every request reads the
  user and its groups from the database, as without this cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, transaction
from rest_framework_simplejwt.utils import get_md5_hash_password

from .models import User
from .roles import Role, remember_role, role_of_groups

CACHE_ALIAS = "default"
# Bump the version when AuthSnapshot changes shape: a deploy never reads the old entries.
KEY_FORMAT = "accounts:auth-user:v1:{user_id}"
# The columns a snapshot restores; the others (the password hash, ``last_login``, which a
# sign-in changes) are loaded on first access, so they are never stale.
SNAPSHOT_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
)


@dataclass(frozen=True)
class AuthSnapshot:
    """What authentication and the role checks need of one user, as read at ``read_at``.

    ``revoke_digest`` is simplejwt's digest of the password hash (the token's revoke claim
    carries the same), so the hash itself never leaves the database.
    """

    values: tuple[Any, ...]  # SNAPSHOT_FIELDS, in order
    role: Role | None
    revoke_digest: str
    read_at: float  # time.time() when the row was read

    def fresh(self, now: float) -> bool:
        return 0 <= now - self.read_at < window_seconds()

    def user(self) -> User:
        """The user as a model instance with the snapshot's columns loaded (the others load on
        first access) and its role known (``accounts.roles.user_role`` asks nothing)."""
        loaded = dict(zip(SNAPSHOT_FIELDS, self.values, strict=True))
        # ``from_db`` takes the loaded values in the model's column order.
        names = [f.attname for f in User._meta.concrete_fields if f.attname in loaded]
        user = User.from_db(DEFAULT_DB_ALIAS, names, [loaded[name] for name in names])
        remember_role(user, self.role)
        return user


def window_seconds() -> float:
    return float(settings.AUTH_USER_CACHE_SECONDS)


def snapshot_key(user_id: Any) -> str:
    return KEY_FORMAT.format(user_id=user_id)


def user_snapshot_read(*, user_id: Any) -> AuthSnapshot | None:
    """A snapshot of the user read from the primary database now (two queries: the row, its
    groups; one for a superuser), stored for the window; ``None`` when no such user exists
    (not cached)."""
    # From the primary even on a route that reads from the replica: its lag must not add to W.
    user = User.objects.using(DEFAULT_DB_ALIAS).filter(pk=user_id).first()
    if user is None:
        return None
    role = Role.ADMIN if user.is_superuser else role_of_groups(user, using=DEFAULT_DB_ALIAS)
    snapshot = AuthSnapshot(
        values=tuple(getattr(user, field) for field in SNAPSHOT_FIELDS),
        role=role,
        revoke_digest=get_md5_hash_password(user.password),
        read_at=time.time(),
    )
    if window_seconds() > 0:
        caches[CACHE_ALIAS].set(snapshot_key(user_id), snapshot, timeout=window_seconds())
    return snapshot


def user_snapshot_get(*, user_id: Any) -> AuthSnapshot | None:
    """The user's snapshot at most ``AUTH_USER_CACHE_SECONDS`` old (from Redis when there is
    one, else read now); ``None`` when the user does not exist."""
    if window_seconds() > 0:
        cached = caches[CACHE_ALIAS].get(snapshot_key(user_id))
        if isinstance(cached, AuthSnapshot) and cached.fresh(time.time()):
            return cached
    return user_snapshot_read(user_id=user_id)


def user_snapshot_forget(*, user_id: Any) -> None:
    """Drop the user's snapshot now and once more when the current transaction commits (a
    request that read the old row in between cannot keep it)."""
    cache = caches[CACHE_ALIAS]
    key = snapshot_key(user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
