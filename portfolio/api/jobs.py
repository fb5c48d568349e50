"""Enqueue an index recompute from the API.

``portfolio.services.compute_index_run`` creates its ``IndexRun`` when a worker starts, and
no service creates a queued run up front. So, like the market
refresh endpoint (``market.api.jobs``), the API creates nothing: it sends
``portfolio.tasks.compute_index`` after the surrounding transaction commits, with the request id
the run will record (``IndexRun.request_id``), so a client finds its run with
``GET indexes/{slug}/runs/?request_id=…``. Computation never runs inside the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.queue import Enqueued, send_on_commit
from portfolio.models import Index, IndexRun


@dataclass
class ComputeEnqueued(Enqueued):
    index: str
    request_id: str


def compute_enqueue(*, index: Index, user: Any, request_id: str) -> ComputeEnqueued:
    """Send ``compute_index`` once the current transaction commits (trigger ``api``)."""
    from portfolio.tasks import compute_index  # the task module imports the engine

    enqueued = ComputeEnqueued(index=index.slug, request_id=request_id)

    send_on_commit(
        enqueued,
        compute_index,
        description=f"index compute of {index.slug}",
        index_id=index.pk,
        trigger=IndexRun.Trigger.API,
        user_id=getattr(user, "pk", None),
        request_id=request_id,
    )
    return enqueued
