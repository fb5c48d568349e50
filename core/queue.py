"""The one way to send a Celery task: after the surrounding transaction commits, never inside it.

A task sent before commit could start before its caller's rows exist (or for rows that are then
rolled back), so :func:`enqueue` defers the send with ``transaction.on_commit``. Outside a
transaction (an API view, an admin action, a task) ``on_commit`` runs at once, so the caller
learns straight away whether the broker took the task: a refusal raises
:class:`QueueUnavailableError` (503 problem+json with ``Retry-After``), and the caller records
nothing that claims a job was started. Inside a transaction the send happens at commit; a
refusal then is logged, marked on the receipt, and not raised (the commit already happened).

A send never waits long on a dead Redis: it does not subscribe to the task's result (nobody
waits on one), and the broker publish is bounded by ``CELERY_SEND_TIMEOUT`` and a one-retry
policy (settings "SENDING A TASK FAILS FAST"), so a refusal reaches the caller within about
two seconds.

API, admin, commands and tasks all send through here; no module calls ``.delay()`` itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import RedisError

from .errors import ErrorCode, ServiceUnavailableError
from .tracing import no_span_left_open

logger = logging.getLogger(__name__)

# What a send raises when the broker or the result backend (the same Redis) is down,
# unreachable or answers garbage. ``TimeoutError`` and ``ConnectionError`` are ``OSError``s.
BROKER_ERRORS = (BrokerOperationalError, RedisError, OSError)
QUEUE_RETRY_AFTER_SECONDS = 30


def is_broker_error(error: BaseException) -> bool:
    """Whether ``error`` says the broker or the result backend could not take a task.

    Besides :data:`BROKER_ERRORS`, Celery's Redis result backend raises a bare ``RuntimeError``
    ("Retry limit exceeded while trying to reconnect") when it cannot subscribe to the task's
    result channel; it counts only when caused by one of those errors, so a ``RuntimeError``
    that is a bug still surfaces as one.
    """
    if isinstance(error, BROKER_ERRORS):
        return True
    return isinstance(error, RuntimeError) and isinstance(error.__cause__, BROKER_ERRORS)


class QueueUnavailableError(ServiceUnavailableError):
    """The broker refused a task: nothing was started (503, ``Retry-After``)."""

    code = ErrorCode.QUEUE_UNAVAILABLE
    title = "Job queue unavailable"

    def __init__(self, description: str) -> None:
        super().__init__(
            f"The job queue is unavailable; the {description} was not started.",
            retry_after=QUEUE_RETRY_AFTER_SECONDS,
        )


@dataclass
class Enqueued:
    """Filled in once the task is sent (at once outside a transaction, else at commit)."""

    task_id: str | None = None
    # True when the broker refused the task at commit time (nothing was started).
    send_failed: bool = field(default=False, kw_only=True)


def enqueue(task_name: str, *, description: str, **kwargs: Any) -> Enqueued:
    """Send the registered task ``task_name`` with keyword arguments ``kwargs``.

    Tasks are sent by name, so an app can queue a higher app's task without importing it.
    Returns the receipt. Raises :class:`QueueUnavailableError` when called outside a
    transaction and the broker refuses; inside one, see the module docstring. ``kwargs`` must
    be JSON-serialisable (ids, ISO dates), never model instances.
    """
    receipt = Enqueued()
    in_transaction = transaction.get_connection().in_atomic_block

    def send() -> None:
        try:
            # ignore_result: nobody waits on the result (the job's state is its run row), so the
            # send never subscribes to it on the result backend (a wait on a dead Redis).
            with no_span_left_open():  # a failed publish leaves no tracing span current
                result = current_app.send_task(task_name, kwargs=kwargs, ignore_result=True)
        except (*BROKER_ERRORS, RuntimeError) as error:
            if not is_broker_error(error):
                raise
            logger.error("could not enqueue %s", description, exc_info=True)
            receipt.send_failed = True
            if not in_transaction:
                raise QueueUnavailableError(description) from None
            return
        receipt.task_id = result.id
        # Not "task_id": in a log line that is the id of the task being run (core/logging.py).
        logger.info("%s enqueued", description, extra={"enqueued_task_id": receipt.task_id})

    transaction.on_commit(send)
    return receipt
