"""Management commands that fail with one readable line, never a raw traceback, on outages.

Every command of ours subclasses :class:`OperationalCommand` instead of Django's
``BaseCommand``. When a dependency is down or refuses the work — PostgreSQL (Django's or
psycopg's ``OperationalError``/``InterfaceError``, a pool timeout), Redis, the Celery broker, a
domain refusal (:class:`~core.errors.ApplicationError`, e.g. ``QueueUnavailableError``) — the
command stops with ``CommandError("<command> stopped: <Error>: <message>")``: Django prints
``CommandError: …`` on stderr, on one line, and exits 1. ``--traceback`` still shows the whole
chain (the original error is the ``CommandError``'s cause). Bugs (any other exception) are not
hidden: they keep their traceback.

Core imports no app, so an app adds its own operational errors on its commands (for example
the market's ``TwelveDataError``) with ``operational_errors = (*OPERATIONAL_ERRORS, …)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import RedisError

from core.errors import ApplicationError

# Failures of a dependency (not of the code) that every command reports in one line. The
# builtin ConnectionError and TimeoutError cover raw sockets (a pool's, a client's).
OPERATIONAL_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseOperationalError,
    DatabaseInterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    RedisError,
    BrokerOperationalError,
    ConnectionError,
    TimeoutError,
    ApplicationError,
)
# A message longer than this is cut: one line in a cron mail or a terminal, not a page.
MAX_MESSAGE_LENGTH = 400


def operational_error_line(command: str, error: BaseException) -> str:
    """``"<command> stopped: <ErrorClass>: <message>"`` on one line (whitespace collapsed,
    at most :data:`MAX_MESSAGE_LENGTH` characters of message)."""
    detail = error.detail if isinstance(error, ApplicationError) else str(error)
    message = " ".join(detail.split())
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[: MAX_MESSAGE_LENGTH - 1] + "…"
    name = type(error).__name__
    return f"{command} stopped: {name}: {message}" if message else f"{command} stopped: {name}"


class OperationalCommand(BaseCommand):
    """A ``BaseCommand`` whose :data:`operational_errors` end it with one line and exit 1."""

    operational_errors: ClassVar[tuple[type[BaseException], ...]] = OPERATIONAL_ERRORS

    @property
    def command_name(self) -> str:
        """The name the command is run by (its module's name)."""
        return type(self).__module__.rsplit(".", 1)[-1]

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except self.operational_errors as error:
            raise CommandError(operational_error_line(self.command_name, error)) from error
