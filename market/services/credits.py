"""Vendor credits planned before a refresh starts, against the plan's daily budget.

The estimate is exact for the client's paging (``TwelveDataClient.time_series``): a symbol's
range is fetched in pages of at most ``TWELVEDATA_MAX_OUTPUTSIZE`` calendar days, and every
symbol of every request costs one credit, so a plan costs one credit per page whatever the
batch it shares requests with. Only what cannot be known in advance spends more: a retried
attempt or a batch split after a 414 (each takes its credits again). A symbol that fails on an
early page spends less (its later pages are not asked for).

Pure reads: nothing here writes, so the API can ask before queueing a refresh.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from market.providers.twelvedata import credit_limiter

from .refresh_plan import Plan, plan_batches, refresh_plan


@dataclass
class Budgeted:
    """The plans that fit the remaining daily credits, those deferred, and the numbers.

    ``estimate`` is what every plan together needs; ``kept_credits`` what the kept ones need;
    ``remaining`` is today's credits left before the refresh (``None``: the plan has no daily
    cap); ``requests`` the vendor requests the kept plans take.
    """

    kept: list[Plan]
    deferred: list[Plan] = field(default_factory=list)
    estimate: int = 0
    remaining: int | None = None
    kept_credits: int = 0
    requests: int = 0


@dataclass(frozen=True)
class CreditEstimate:
    """What a refresh would spend, and today's credits left (``None``: no daily cap)."""

    estimate: int
    remaining: int | None


def page_count(start: dt.date, end: dt.date, *, max_outputsize: int | None = None) -> int:
    """Requests the client sends for one symbol from ``start`` to ``end`` inclusive (its pages
    of at most ``max_outputsize`` calendar days; ``TWELVEDATA_MAX_OUTPUTSIZE`` by default)."""
    if start > end:
        return 0
    days = (end - start).days + 1
    return math.ceil(days / (max_outputsize or settings.TWELVEDATA_MAX_OUTPUTSIZE))


def plan_credits(plan: Plan, *, max_outputsize: int | None = None) -> int:
    """Credits one plan costs: one per page (each symbol of a request costs one credit)."""
    return page_count(plan.start, plan.end, max_outputsize=max_outputsize)


def plans_credits(
    plans: Sequence[Plan], *, batch_size: int, max_outputsize: int | None = None
) -> tuple[int, int]:
    """(credits, vendor requests) of ``plans`` batched as the refresh batches them."""
    credits = sum(plan_credits(plan, max_outputsize=max_outputsize) for plan in plans)
    requests = sum(
        plan_credits(batch[0], max_outputsize=max_outputsize)
        for batch in plan_batches(list(plans), max(1, batch_size))
    )
    return credits, requests


def credits_remaining_today() -> int | None:
    """Vendor credits left before 00:00 UTC for every worker (``None``: no daily cap).

    0 while a daily 429 from the vendor is remembered. Reads Redis (raises its errors).
    """
    return credit_limiter().credits_remaining_today()


def plans_within_budget(
    plans: list[Plan], *, batch_size: int, max_outputsize: int | None = None
) -> Budgeted:
    """Keep the plans whose credits fit today's remaining budget, in order; defer the rest.

    The kept plans are the longest prefix of ``plans`` that fits: once one does not fit, it and
    every later plan are deferred, so which symbols wait for tomorrow never depends on their
    sizes. Without a daily cap every plan is kept.
    """
    remaining = credits_remaining_today()
    costs = [plan_credits(plan, max_outputsize=max_outputsize) for plan in plans]
    kept_count = len(plans)
    if remaining is not None:
        spent = 0
        for index, cost in enumerate(costs):
            if spent + cost > remaining:
                kept_count = index
                break
            spent += cost
    kept = list(plans[:kept_count])
    kept_credits, requests = plans_credits(
        kept, batch_size=batch_size, max_outputsize=max_outputsize
    )
    return Budgeted(
        kept=kept,
        deferred=list(plans[kept_count:]),
        estimate=sum(costs),
        remaining=remaining,
        kept_credits=kept_credits,
        requests=requests,
    )


def refresh_credits_estimate(
    *, symbols: Sequence[str] | None, start: dt.date | None, end: dt.date | None
) -> CreditEstimate:
    """The credits a refresh of ``symbols`` (every active asset when empty) from ``start``
    (default: incremental) to ``end`` (default: today, UTC) would spend, planned exactly as
    the refresh plans it, and today's credits left. Pure read."""
    planned = refresh_plan(symbols=symbols, start=start, end=end or timezone.now().date())
    estimate = sum(plan_credits(plan) for plan in planned.plans)
    return CreditEstimate(estimate=estimate, remaining=credits_remaining_today())
