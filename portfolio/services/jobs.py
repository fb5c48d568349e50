"""Queue index computations (API, admin) and audit their triggers; the nightly chain queues
batches (``portfolio.services.batch``).

Computations run in workers and create their ``IndexRun`` there; these services queue them
through ``core.queue`` (after commit; a broker refusal is a 503 ``QueueUnavailableError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.models import AuditEvent
from accounts.services import audit_record
from core.queue import enqueue
from core.request_context import current_request_id
from portfolio.models import Index

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
