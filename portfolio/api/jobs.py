"""Enqueue an index recompute from the API.

NOTE (coordination): ``portfolio.services.compute_index_run`` creates its ``IndexRun`` when a
worker starts, and there is no service that creates a queued run yet. So, like the market
refresh endpoint (``market.api.jobs``), the API creates nothing: it sends
``portfolio.tasks.compute_index`` after the surrounding transaction commits, with the request id
the run will record (``IndexRun.request_id``), so a client finds its run with
``GET indexes/{slug}/runs/?request_id=…``. Computation never runs inside the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

from portfolio.models import Index, IndexRun

logger = logging.getLogger(__name__)

BROKER_ERRORS = (BrokerOperationalError, ConnectionError, OSError)


@dataclass
class ComputeEnqueued:
    index: str
    request_id: str
    task_id: str | None = field(default=None)
    # True when the broker refused the task (the view answers 503; nothing was started).
    send_failed: bool = field(default=False)


def compute_enqueue(*, index: Index, user: Any, request_id: str) -> ComputeEnqueued:
    """Send ``compute_index`` once the current transaction commits (trigger ``api``)."""
    from portfolio.tasks import compute_index  # the task module imports the engine

    enqueued = ComputeEnqueued(index=index.slug, request_id=request_id)

    def send() -> None:
        try:
            result = compute_index.delay(
                index_id=index.pk,
                trigger=IndexRun.Trigger.API,
                user_id=getattr(user, "pk", None),
                request_id=request_id,
            )
        except BROKER_ERRORS:
            logger.error("could not enqueue the index compute", exc_info=True)
            enqueued.send_failed = True
            return
        enqueued.task_id = getattr(result, "id", None)
        logger.info("index compute enqueued", extra={"index": index.slug, "task_id": result.id})

    transaction.on_commit(send)
    return enqueued
