"""Send Celery tasks from request handling: after the transaction commits, never inside it.

A task sent before commit could start before its caller's rows exist (or for rows that are then
rolled back). ``send_on_commit`` defers the send with ``transaction.on_commit`` and records on the
receipt whether the broker took it, so a view can answer 202 or 503.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError

logger = logging.getLogger(__name__)

# What a send raises when the broker is down or unreachable.
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, OSError)


class _Task(Protocol):
    def delay(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass
class Enqueued:
    """Filled in once the task is sent, after commit."""

    task_id: str | None = field(default=None, kw_only=True)
    # True when the broker refused the task (the view answers 503; nothing was started).
    send_failed: bool = field(default=False, kw_only=True)


def send_on_commit(receipt: Enqueued, task: _Task, *, description: str, **kwargs: Any) -> None:
    """Send ``task.delay(**kwargs)`` when the current transaction commits; fill ``receipt``."""

    def send() -> None:
        try:
            result = task.delay(**kwargs)
        except BROKER_ERRORS:
            logger.error("could not enqueue %s", description, exc_info=True)
            receipt.send_failed = True
            return
        receipt.task_id = getattr(result, "id", None)
        logger.info("%s enqueued", description, extra={"task_id": receipt.task_id})

    transaction.on_commit(send)
