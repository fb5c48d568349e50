"""Credits per minute and per UTC day shared by every worker, in Redis.

TwelveData's quota resets every minute (and, on plans with a daily cap, at 00:00 UTC) and every
symbol of a request costs one credit. The limiter counts credits in one Redis key per UTC minute
(a fixed window aligned on the minute, like the vendor's) and one key per UTC day, and grants a
request only when it fits both: a full minute makes the caller sleep until the next minute; a
full day raises :class:`~market.providers.errors.TwelveDataDailyLimitExhausted` (nothing fits
before midnight). The check-and-add of both counters is one Lua script, so concurrent workers
can never overspend together. The clock and the sleep are injected: tests never really sleep.

A 429 "for the day" is remembered in Redis too, so no worker sends a request before 00:00 UTC,
and :meth:`CreditLimiter.credits_remaining_today` answers 0 until then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from .errors import TwelveDataDailyLimitExhausted

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# Window keys outlive their minute a little so a slow worker still sees its window.
WINDOW_KEY_TTL_SECONDS = 3 * WINDOW_SECONDS
DAY_SECONDS = 24 * 60 * 60
# A day's key outlives its day so the count can still be read (metrics, support) the next day.
DAY_KEY_TTL_SECONDS = 2 * DAY_SECONDS

# What the take answers: granted, the minute is full (wait), the day is full (stop).
_GRANTED, _MINUTE_FULL, _DAY_FULL = 1, 0, -1
# KEYS: minute window, day. ARGV: wanted, per minute, per day (0: no cap), the two TTLs.
# Every grant is counted for the day, capped or not, so today's spend can always be read.
_TAKE_CREDITS = """
local wanted = tonumber(ARGV[1])
local per_day = tonumber(ARGV[3])
local day_used = tonumber(redis.call('GET', KEYS[2]) or '0')
if per_day > 0 and day_used + wanted > per_day then
    return -1
end
local minute_used = tonumber(redis.call('GET', KEYS[1]) or '0')
if minute_used + wanted > tonumber(ARGV[2]) then
    return 0
end
redis.call('INCRBY', KEYS[1], wanted)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('INCRBY', KEYS[2], wanted)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return 1
"""


class CreditLimiter:
    """Keep all workers within ``credits_per_minute`` and ``credits_per_day`` (0: no daily cap);
    block a whole day after a daily 429.

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
        credits_per_day: int = 0,
    ) -> None:
        if credits_per_minute < 1:
            raise ValueError("credits_per_minute must be at least 1")
        if credits_per_day < 0:
            raise ValueError("credits_per_day must be 0 (no daily cap) or more")
        self._redis = redis
        self.credits_per_minute = credits_per_minute
        self.credits_per_day = credits_per_day
        self._prefix = key_prefix
        self._clock = clock
        self._sleep = sleep
        self._take = redis.register_script(_TAKE_CREDITS)
        # Told when a wait for the next minute starts (the instant it ends) and ends (None):
        # the refresh shows it on its run ("waiting for vendor credits until …").
        self.wait_observer: Callable[[dt.datetime | None], None] | None = None

    def _window_key(self, now: float) -> str:
        return f"{self._prefix}:credits:{int(now // WINDOW_SECONDS)}"

    def _day_key(self, now: float) -> str:
        # The epoch starts at 00:00 UTC, so whole days since it are UTC days.
        return f"{self._prefix}:credits-day:{int(now // DAY_SECONDS)}"

    @property
    def _daily_key(self) -> str:
        return f"{self._prefix}:daily-exhausted-until"

    def _next_midnight(self) -> dt.datetime:
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def seconds_to_next_minute(self) -> float:
        now = self._clock()
        return (int(now // WINDOW_SECONDS) + 1) * WINDOW_SECONDS - now

    def credits_used_today(self) -> int:
        """Credits granted since 00:00 UTC (by every worker sharing this Redis and prefix)."""
        return int(self._redis.get(self._day_key(self._clock())) or 0)

    def credits_remaining_today(self) -> int | None:
        """Credits that may still be spent before 00:00 UTC; ``None`` without a daily cap.

        0 while a daily 429 is remembered, whatever the cap: the vendor said the day is spent.
        """
        if self.daily_block() is not None:
            return 0
        if not self.credits_per_day:
            return None
        return max(0, self.credits_per_day - self.credits_used_today())

    def acquire(self, credits: int) -> float:
        """Take ``credits`` from the current minute and day, sleeping until a minute has room.

        Returns the seconds slept. Raises ``ValueError`` if ``credits`` can never fit a minute,
        and :class:`TwelveDataDailyLimitExhausted` (nothing taken) if they do not fit what is
        left of today's credits.
        """
        if credits > self.credits_per_minute:
            raise ValueError(
                f"a request of {credits} credits exceeds the plan's {self.credits_per_minute}"
                " credits per minute"
            )
        waited = 0.0
        while True:
            now = self._clock()
            answer = self._take(
                keys=[self._window_key(now), self._day_key(now)],
                args=[
                    credits,
                    self.credits_per_minute,
                    self.credits_per_day,
                    WINDOW_KEY_TTL_SECONDS,
                    DAY_KEY_TTL_SECONDS,
                ],
            )
            if answer == _GRANTED:
                return waited
            if answer == _DAY_FULL:
                until = self._next_midnight()
                raise TwelveDataDailyLimitExhausted(
                    f"the plan's {self.credits_per_day} credits for today are spent (a request"
                    f" of {credits} does not fit); no request before {until.isoformat()}",
                    until=until,
                )
            wait = self.seconds_to_next_minute()
            logger.info(
                "twelvedata credits exhausted for this minute; waiting",
                extra={"credits": credits, "wait_s": round(wait, 3)},
            )
            if self.wait_observer is not None:
                self.wait_observer(
                    dt.datetime.fromtimestamp(self._clock() + wait, tz=dt.UTC).replace(
                        microsecond=0
                    )
                )
            try:
                self._sleep(wait)
            finally:
                if self.wait_observer is not None:
                    self.wait_observer(None)
            waited += wait

    def exhaust_current_minute(self) -> None:
        """The vendor said the minute is spent (429): make every worker wait for the next one."""
        key = self._window_key(self._clock())
        self._redis.set(key, self.credits_per_minute, ex=WINDOW_KEY_TTL_SECONDS)

    def block_until_midnight(self) -> dt.datetime:
        """Remember a daily 429 until the next 00:00 UTC; returns that instant."""
        now = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        midnight = self._next_midnight()
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
