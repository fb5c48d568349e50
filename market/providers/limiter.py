"""Credits per minute shared by every worker, in Redis.

TwelveData's quota resets every minute and every symbol of a request costs one credit. The
limiter counts credits in one Redis key per UTC minute (a fixed window aligned on the minute,
like the vendor's) and grants a request only when it still fits; otherwise the caller sleeps
until the next minute. The check-and-add is one Lua script, so concurrent workers can never
overspend together. The clock and the sleep are injected: tests never really sleep.

A 429 "for the day" is remembered in Redis too, so no worker sends a request before 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# Window keys outlive their minute a little so a slow worker still sees its window.
WINDOW_KEY_TTL_SECONDS = 3 * WINDOW_SECONDS

_TAKE_CREDITS = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if used + wanted > tonumber(ARGV[2]) then
    return 0
end
redis.call('INCRBY', KEYS[1], wanted)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class CreditLimiter:
    """Keep all workers within ``credits_per_minute``; block a whole day after a daily 429.

    ``key_prefix`` namespaces the keys (the strict cache's prefix, so test runs stay apart).
    """

    def __init__(
        self,
        *,
        redis: Any,
        credits_per_minute: int,
        key_prefix: str,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if credits_per_minute < 1:
            raise ValueError("credits_per_minute must be at least 1")
        self._redis = redis
        self.credits_per_minute = credits_per_minute
        self._prefix = key_prefix
        self._clock = clock
        self._sleep = sleep
        self._take = redis.register_script(_TAKE_CREDITS)

    def _window_key(self, now: float) -> str:
        return f"{self._prefix}:credits:{int(now // WINDOW_SECONDS)}"

    @property
    def _daily_key(self) -> str:
        return f"{self._prefix}:daily-exhausted-until"

    def seconds_to_next_minute(self) -> float:
        now = self._clock()
        return (int(now // WINDOW_SECONDS) + 1) * WINDOW_SECONDS - now

    def acquire(self, credits: int) -> float:
        """Take ``credits`` from the current minute, sleeping until a minute has room.

        Returns the seconds slept. Raises ``ValueError`` if ``credits`` can never fit.
        """
        if credits > self.credits_per_minute:
            raise ValueError(
                f"a request of {credits} credits exceeds the plan's {self.credits_per_minute}"
                " credits per minute"
            )
        waited = 0.0
        while True:
            now = self._clock()
            granted = self._take(
                keys=[self._window_key(now)],
                args=[credits, self.credits_per_minute, WINDOW_KEY_TTL_SECONDS],
            )
            if granted:
                return waited
            wait = self.seconds_to_next_minute()
            logger.info(
                "twelvedata credits exhausted for this minute; waiting",
                extra={"credits": credits, "wait_s": round(wait, 3)},
            )
            self._sleep(wait)
            waited += wait

    def exhaust_current_minute(self) -> None:
        """The vendor said the minute is spent (429): make every worker wait for the next one."""
        key = self._window_key(self._clock())
        self._redis.set(key, self.credits_per_minute, ex=WINDOW_KEY_TTL_SECONDS)

    def block_until_midnight(self) -> dt.datetime:
        """Remember a daily 429 until the next 00:00 UTC; returns that instant."""
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        ttl = max(1, int((midnight - now).total_seconds()) + 1)
        self._redis.set(self._daily_key, str(midnight.timestamp()), ex=ttl)
        return midnight

    def daily_block(self) -> dt.datetime | None:
        """Until when requests are blocked by a daily 429, or ``None`` if they are not."""
        raw = self._redis.get(self._daily_key)
        if raw is None:
            return None
        until = float(raw)
        if self._clock() >= until:
            return None
        return dt.datetime.fromtimestamp(until, tz=dt.UTC)
