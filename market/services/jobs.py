"""Queue a market refresh for the workers (API, admin): one service, audited once queued.

The refresh itself (``prices_refresh``) runs in a worker and creates its ``RefreshRun`` there,
under the one-refresh-at-a-time lock; the run records the trigger, the user and the request id,
so a client finds its run with ``GET jobs/refresh/?request_id=…``.

What a queued refresh runs is the task named by ``REFRESH_JOB_TASK``: the portfolio app's chain
(refresh, then recompute the indexes whose inputs changed) by default. The market app sends it
by name and never imports the portfolio app; the settings wire the two together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from accounts.models import AuditEvent
from accounts.services import audit_record
from core.queue import enqueue
from core.request_context import current_request_id


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

    Raises :class:`~core.queue.QueueUnavailableError` (503) when the broker refuses the task;
    nothing is recorded then. Called outside a transaction the audit event is written only after
    the broker took the task; inside one, the task is sent at commit (see ``core.queue``).
    """
    request_id = current_request_id() or ""
    symbol_list = sorted(symbols or [])
    receipt = enqueue(
        settings.REFRESH_JOB_TASK,
        description="market refresh",
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
