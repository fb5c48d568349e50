"""Queue index computations (API, admin, the nightly chain) and audit their triggers.

Computations run in workers and create their ``IndexRun`` there; these services queue them
through ``core.queue`` (after commit; a broker refusal is a 503 ``QueueUnavailableError``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from accounts.models import AuditEvent
from accounts.services import audit_record
from core.queue import QueueUnavailableError, enqueue
from core.request_context import current_request_id
from market.models import RefreshRun
from portfolio.models import Index, IndexRun
from portfolio.selectors import indexes_with_changed_inputs

logger = logging.getLogger(__name__)

COMPUTE_TASK = "portfolio.tasks.compute_index"


@dataclass(frozen=True)
class ComputeQueued:
    index: str
    request_id: str
    task_id: str | None


def index_compute_enqueue(*, index: Index, actor: Any, trigger: str) -> ComputeQueued:
    """Queue a computation (and publish) of ``index`` and audit the trigger.

    Raises :class:`~core.queue.QueueUnavailableError` (503) when the broker refuses; nothing is
    recorded then. The run records ``trigger``, the user and the request id, so a client finds
    it with ``GET indexes/{slug}/runs/?request_id=…``.
    """
    request_id = current_request_id() or ""
    receipt = enqueue(
        COMPUTE_TASK,
        description=f"index compute of {index.slug}",
        index_id=index.pk,
        trigger=trigger,
        user_id=getattr(actor, "pk", None),
        request_id=request_id or None,
    )
    audit_record(
        action=AuditEvent.Action.COMPUTE_TRIGGERED,
        actor=actor,
        target=index,
        details={"trigger": trigger},
    )
    return ComputeQueued(index.slug, request_id, receipt.task_id)


def indexes_recompute_enqueue(
    *,
    refresh_run: RefreshRun,
    retry_delays: Sequence[float] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """After a good refresh, queue one computation per live index whose inputs changed.

    Returns the slugs queued. An index whose inputs did not change (see
    :func:`~portfolio.selectors.indexes_with_changed_inputs`) is not recomputed, so a refresh
    that changed nothing republishes nothing. When the broker refuses, waits ``retry_delays[i]``
    seconds and tries the indexes not yet queued again; after the last attempt it logs an
    error and returns what was queued — it never raises, so the refresh it follows stays
    ``succeeded``; the next chain picks the rest up (their inputs are still newer than their
    published runs). Each compute task is idempotent per refresh run.
    """
    pending = indexes_with_changed_inputs()
    queued: list[str] = []
    delays = list(retry_delays)
    while pending:
        refused = []
        for index in pending:
            try:
                enqueue(
                    COMPUTE_TASK,
                    description=f"index compute of {index.slug}",
                    index_id=index.pk,
                    trigger=IndexRun.Trigger.REFRESH,
                    refresh_run_id=refresh_run.pk,
                    request_id=refresh_run.request_id or None,
                )
            except QueueUnavailableError:
                refused.append(index)
            else:
                queued.append(index.slug)
        pending = refused
        if pending and not delays:
            logger.error(
                "recomputes not queued: the broker refused them; the next chain retries",
                extra={"refresh_run": refresh_run.pk, "indexes": [i.slug for i in pending]},
            )
            break
        if pending:
            delay = delays.pop(0)
            logger.warning(
                "broker refused recomputes; retrying",
                extra={"refresh_run": refresh_run.pk, "in_seconds": delay},
            )
            sleep(delay)
    return queued
