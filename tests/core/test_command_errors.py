"""Our management commands end with one readable line and exit 1 when a dependency is down;
bugs keep their traceback."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError as DatabaseOperationalError
from django.db import connections
from redis.exceptions import ConnectionError as RedisConnectionError

from core.management.base import OperationalCommand
from core.queue import QueueUnavailableError
from market.models import RefreshRun
from market.providers.breaker import get_breaker
from tests.market.fault_matrix import fault_record
from tests.migrations.scratch import database_url

# Nothing listens on the discard port on loopback: a connection is refused at once.
CLOSED_PORT_URL = "http://127.0.0.1:9"
VENDOR_DOWN_LINE = (
    "refresh_market_data stopped: TwelveDataUnavailable: TwelveData failed after 4 attempts: "
    "connection error: ConnectionError"
)


class Probe(OperationalCommand):
    """A command whose ``handle`` raises what the test gives it."""

    __module__ = "tests.core.probe"  # commands are named after their module

    def __init__(self, error: BaseException, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.error = error

    def handle(self, *args: object, **options: object) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
            "probe stopped: ConnectionError: Error 111 connecting to 127.0.0.1:6379. "
            "Connection refused.",
        ),
        (
            DatabaseOperationalError(
                'connection failed: connection to server at "127.0.0.1", port 9 failed: '
                "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
                "connections?"
            ),
            "probe stopped: OperationalError: connection failed: connection to server at "
            '"127.0.0.1", port 9 failed: Connection refused Is the server running on that host '
            "and accepting TCP/IP connections?",
        ),
        (
            QueueUnavailableError("index computation"),
            "probe stopped: QueueUnavailableError: The job queue is unavailable; the index "
            "computation was not started.",
        ),
        (TimeoutError(), "probe stopped: TimeoutError"),
    ],
    ids=["redis-down", "postgres-down", "queue-unavailable", "bare-timeout"],
)
def test_an_outage_is_one_line_on_stderr_and_exit_1(error, line):
    stderr = io.StringIO()
    probe = Probe(error, stderr=stderr)

    with pytest.raises(SystemExit) as exited:
        probe.run_from_argv(["manage.py", "probe"])

    assert exited.value.code == 1
    assert stderr.getvalue() == f"CommandError: {line}\n"


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        Probe(ZeroDivisionError("division by zero")).execute(
            no_color=True, force_color=False, skip_checks=True
        )


def test_a_very_long_message_is_cut_to_one_short_line():
    with pytest.raises(CommandError) as stopped:
        Probe(RedisConnectionError("x" * 1000)).execute(
            no_color=True, force_color=False, skip_checks=True
        )

    message = str(stopped.value)
    assert "\n" not in message
    assert message.endswith("x…")
    assert len(message) == len("probe stopped: ConnectionError: ") + 400


@pytest.mark.django_db
def test_refresh_command_with_the_vendor_unreachable_stops_with_one_line(settings):
    settings.TWELVEDATA_BASE_URL = CLOSED_PORT_URL
    settings.TWELVEDATA_BACKOFF_SECONDS = 0.0
    started = time.monotonic()

    with pytest.raises(CommandError) as stopped:
        call_command("refresh_market_data", "--symbols", "AAPL", "--end", "2024-01-12", verbosity=0)

    assert str(stopped.value) == VENDOR_DOWN_LINE
    assert isinstance(stopped.value.__cause__, Exception)  # --traceback shows the chain
    run = RefreshRun.objects.get()
    assert run.status == RefreshRun.Status.FAILED
    fault_record(
        "manage.py refresh_market_data, TwelveData unreachable",
        expected="CommandError, one line, exit 1",
        observed=str(stopped.value),
        seconds=time.monotonic() - started,
    )


@pytest.mark.django_db
def test_refresh_command_with_the_circuit_open_stops_with_one_line(settings):
    settings.TWELVEDATA_BASE_URL = CLOSED_PORT_URL
    get_breaker().open()

    with pytest.raises(CommandError) as stopped:
        call_command("refresh_market_data", "--symbols", "AAPL", "--end", "2024-01-12", verbosity=0)

    assert str(stopped.value).startswith(
        "refresh_market_data stopped: TwelveDataCircuitOpen: TwelveData circuit breaker open: "
    )
    assert "\n" not in str(stopped.value)


def manage(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our manage.py, fixed arguments
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refresh_process_with_the_vendor_unreachable_prints_one_line_and_exits_1():
    # The test database (the seeded universe, committed) and the run's own Redis; logs off, so
    # stderr holds what an operator reads. TWELVEDATA_BASE_URL is the closed port in tests.
    settings_dict = connections["default"].settings_dict
    started = time.monotonic()

    result = manage(
        "refresh_market_data",
        "--symbols",
        "AAPL",
        "--end",
        "2024-01-12",
        "--verbosity",
        "0",
        env={
            "DATABASE_URL": database_url(settings_dict, settings_dict["NAME"]),
            "REDIS_URL": settings.REDIS_URL,
            "TWELVEDATA_BACKOFF_SECONDS": "0",
            "LOG_LEVEL": "CRITICAL",
        },
    )

    assert (result.returncode, result.stderr) == (1, f"CommandError: {VENDOR_DOWN_LINE}\n")
    assert "Traceback" not in result.stdout
    fault_record(
        "manage.py refresh_market_data process, TwelveData unreachable",
        expected="exit 1, one line on stderr",
        observed=f"exit {result.returncode}, {len(result.stderr.splitlines())} line(s)",
        seconds=time.monotonic() - started,
    )


@pytest.mark.slow
def test_a_command_with_postgresql_unreachable_prints_one_line_and_exits_1():
    result = manage(
        "compute_index",
        "--verbosity",
        "0",
        env={
            "DATABASE_URL": "postgres://autoindex@127.0.0.1:9/autoindex",
            "REDIS_URL": settings.REDIS_URL,
            "LOG_LEVEL": "CRITICAL",
        },
    )

    # stderr also carries the pool's own log lines (warnings of each failed connection
    # attempt); what the command says is its last line, and no traceback.
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "CommandError: compute_index stopped: OperationalError: couldn't get a connection after "
        f"{settings.DB_POOL_TIMEOUT:.2f} sec"
    )
