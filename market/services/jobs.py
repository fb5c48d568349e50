"""Queue a market refresh for the workers (API, admin): one service, audited once queued.

The refresh itself (``prices_refresh``) runs in a worker and creates its ``RefreshRun`` there,
under the one-refresh-at-a-time lock; the run records the trigger, the user and the request id,
so a client finds its run with ``GET jobs/refresh/?request_id=…``.

What a queued refresh runs is the task named by ``REFRESH_JOB_TASK``: the portfolio app's chain
(refresh, then recompute the indexes whose inputs changed) by default. The market app sends it
by name and never imports the portfolio app; the settings wire the two together.

A refresh asked for by hand is priced first (``market.services.credits``, planned exactly as the
worker will plan it): one that needs more vendor credits than remain today, or more than
``REFRESH_MAX_CREDITS_PER_REQUEST``, is refused with :class:`CreditBudgetExceeded` (422) before
anything is queued or audited. The nightly beat refresh is not priced here: it runs what fits
and defers the rest (``plans_within_budget``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from accounts.models import AuditEvent
from accounts.services import audit_record
from core.errors import ErrorCode, UnprocessableError
from core.queue import QueueUnavailableError, enqueue
from core.request_context import current_request_id

from .credits import CreditEstimate, refresh_credits_estimate

logger = logging.getLogger(__name__)

REFRESH_DESCRIPTION = "market refresh"


class CreditBudgetExceeded(UnprocessableError):
    """422: the refresh would spend more vendor credits than it may; nothing was queued.

    Extension members: ``credits_needed``, ``credits_remaining`` (today's, ``null`` without a
    daily cap) and ``credits_max_per_request`` (``null`` without a cap).
    """

    code = ErrorCode.CREDIT_BUDGET_EXCEEDED
    title = "Not enough vendor credits"

    def __init__(self, detail: str, *, estimate: CreditEstimate, max_per_request: int) -> None:
        super().__init__(
            detail,
            extra={
                "credits_needed": estimate.estimate,
                "credits_remaining": estimate.remaining,
                "credits_max_per_request": max_per_request or None,
            },
        )


@dataclass(frozen=True)
class RefreshQueued:
    """What was queued: the request, and the task id the broker gave it."""

    symbols: list[str]
    start: dt.date | None
    end: dt.date | None
    request_id: str
    task_id: str | None


def refresh_enqueue(
    *,
    symbols: Sequence[str] | None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    actor: Any,
    trigger: str,
) -> RefreshQueued:
    """Queue one refresh of ``symbols`` (all active assets when empty) and audit the trigger.

    Raises :class:`CreditBudgetExceeded` (422) when the refresh needs more vendor credits than
    remain today or than one request may spend, and
    :class:`~core.queue.QueueUnavailableError` (503) when the broker refuses the task (or Redis,
    which keeps both the queue and the credit counters, cannot be read); nothing is recorded
    then. Called outside a transaction the audit event is written only after
    the broker took the task; inside one, the task is sent at commit (see ``core.queue``).
    """
    request_id = current_request_id() or ""
    symbol_list = sorted(symbols or [])
    refresh_budget_check(symbols=symbol_list, start=start, end=end)
    receipt = enqueue(
        settings.REFRESH_JOB_TASK,
        description=REFRESH_DESCRIPTION,
        symbols=symbol_list or None,
        start=start.isoformat() if start else None,
        end=end.isoformat() if end else None,
        trigger=trigger,
        user_id=getattr(actor, "pk", None),
        request_id=request_id or None,
    )
    audit_record(
        action=AuditEvent.Action.REFRESH_TRIGGERED,
        actor=actor,
        details={"symbols": symbol_list, "start": start, "end": end, "trigger": trigger},
    )
    return RefreshQueued(symbol_list, start, end, request_id, receipt.task_id)


def refresh_budget_check(
    *, symbols: Sequence[str] | None, start: dt.date | None, end: dt.date | None
) -> CreditEstimate:
    """The refresh's credit estimate, or :class:`CreditBudgetExceeded` if it may not run.

    Refused when it needs more than ``REFRESH_MAX_CREDITS_PER_REQUEST`` (0: no cap) or more
    than remain today (a daily 429 leaves none). Pure read; a Redis outage is a
    :class:`~core.queue.QueueUnavailableError` (the queue lives in the same Redis).
    """
    try:
        estimate = refresh_credits_estimate(symbols=symbols, start=start, end=end)
    except RedisError:
        logger.error("could not read the vendor credit counters", exc_info=True)
        raise QueueUnavailableError(REFRESH_DESCRIPTION) from None
    cap = settings.REFRESH_MAX_CREDITS_PER_REQUEST
    if cap and estimate.estimate > cap:
        raise CreditBudgetExceeded(
            f"This refresh needs {estimate.estimate} vendor credits; one request may spend at"
            f" most {cap}. Ask for fewer symbols or a shorter range.",
            estimate=estimate,
            max_per_request=cap,
        )
    if estimate.remaining is not None and estimate.estimate > estimate.remaining:
        raise CreditBudgetExceeded(
            f"This refresh needs {estimate.estimate} vendor credits and {estimate.remaining}"
            " remain today (they renew at 00:00 UTC). Ask for fewer symbols or a shorter"
            " range, or retry tomorrow.",
            estimate=estimate,
            max_per_request=cap,
        )
    return estimate
