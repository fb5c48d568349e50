"""The market-data refresh lock: one refresh at a time across every process, in Redis.

On the ``strict`` cache (never the fail-soft default: a Redis outage must stop a refresh, not
let two run). The lock expires on its own (``REFRESH_LOCK_TIMEOUT_SECONDS``) so a killed worker
cannot block refreshes forever; the holder extends it after every batch.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import caches

REFRESH_LOCK_KEY = "market:refresh-lock"


def refresh_lock() -> Any:
    """A non-reentrant redis-py ``Lock`` (not yet acquired) for the refresh."""
    return caches["strict"].lock(  # type: ignore[attr-defined]
        REFRESH_LOCK_KEY,
        timeout=settings.REFRESH_LOCK_TIMEOUT_SECONDS,
        # The token lives in the lock object, not in a thread-local: the holder may extend it
        # from whichever thread runs the refresh.
        thread_local=False,
    )
