"""``manage.py demo_banner [--once]``: the last words of ``make run``'s start-up.

The Procfile's ``banner`` process: it waits until the web process answers ``/health/live`` (at
``WEB_BIND``, as gunicorn binds it: config/gunicorn.conf.py), ensures the demo admin exists
(:func:`accounts.services.demo_admin_ensure`; its random password exists only on the first run
and is printed here, below the other processes' start-up output, instead of scrolling away),
then prints a boxed message with the admin and API docs URLs and the login, and sleeps until
honcho stops it (honcho stops every process when one exits). ``--once`` returns after printing.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from accounts.services import demo_admin_ensure
from core.management.base import OperationalCommand

DEFAULT_WEB_BIND = "127.0.0.1:8000"  # config/gunicorn.conf.py
PROBE_INTERVAL_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 2.0
# Addresses that mean "every interface": the banner shows (and probes) loopback instead.
ANY_ADDRESSES = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104


@dataclass(frozen=True)
class WebAddress:
    """Where the web process answers, from ``WEB_BIND``; ``base_url`` ``None`` for a unix
    socket (nothing to open in a browser without a proxy in front)."""

    bind: str
    base_url: str | None
    all_interfaces: bool = False


def web_address(bind: str) -> WebAddress:
    """``127.0.0.1:8000`` → ``http://127.0.0.1:8000``; ``0.0.0.0:8000`` → loopback, noted;
    ``unix:/path`` → no URL. (gunicorn's bind syntax: ``HOST:PORT``, ``[IPv6]:PORT``,
    ``unix:PATH``; a bare host means port 8000.)"""
    bind = bind.strip()
    if bind.startswith(("unix:", "fd://")):
        return WebAddress(bind=bind, base_url=None)
    host, separator, port = bind.rpartition(":")
    if not separator or (bind.startswith("[") and bind.endswith("]")):
        host, port = bind, "8000"
    all_interfaces = host in ANY_ADDRESSES
    host = ANY_ADDRESSES.get(host, host)
    return WebAddress(bind=bind, base_url=f"http://{host}:{port}", all_interfaces=all_interfaces)


def web_wait_live(base_url: str, *, timeout: float) -> bool:
    """Poll ``/health/live`` until it answers 200 (``True``) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(  # noqa: S310 (http on loopback, from settings)
                f"{base_url}/health/live", timeout=PROBE_TIMEOUT_SECONDS
            ) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass  # not listening yet (or restarting): try again
        if time.monotonic() >= deadline:
            return False
        time.sleep(PROBE_INTERVAL_SECONDS)


def boxed(lines: list[str]) -> str:
    """``lines`` in an ASCII box (any terminal, any encoding)."""
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line:<{width}} |" for line in lines), rule])


def banner_lines(address: WebAddress, *, email: str, password: str | None, live: bool) -> list[str]:
    """What ``make run`` says once it is up."""
    lines = ["AutoIndex is running" if live else "AutoIndex: the web process is not answering yet"]
    if address.base_url is None:
        lines.append(f"  web       {address.bind} (behind your proxy)")
    else:
        lines += [
            f"  admin     {address.base_url}/admin/",
            f"  API docs  {address.base_url}/api/docs/",
            f"  health    {address.base_url}/health/ready",
        ]
        if address.all_interfaces:
            lines.append(f"  (WEB_BIND={address.bind}: listening on every interface)")
    if password is None:
        lines += [
            f"  login     {email} (its password was shown on the first run)",
            f"  reset it  .venv/bin/python manage.py changepassword {email}",
        ]
    else:
        lines.append(f"  login     {email}  password: {password}")
    fake_url = getattr(settings, "TWELVEDATA_FAKE_URL", None)
    if fake_url == settings.TWELVEDATA_BASE_URL:
        lines.append(
            f"  prices    fake TwelveData {fake_url}: demo history, synthetic after 2024-09-12"
        )
    lines.append("  Ctrl-C stops these processes; make stop stops PostgreSQL and Redis")
    return lines


class Command(OperationalCommand):
    help = (
        "Wait for the web process (WEB_BIND), ensure the demo admin, print the admin and API "
        "docs URLs and the login in a box, then wait (the Procfile's banner process)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            default=None,
            help=f"the web process's bind (default: $WEB_BIND or {DEFAULT_WEB_BIND})",
        )
        parser.add_argument(
            "--timeout", type=float, default=120.0, help="seconds to wait for the web process"
        )
        parser.add_argument("--once", action="store_true", help="return after printing")

    def handle(self, *args: Any, **options: Any) -> None:
        address = web_address(options["bind"] or os.environ.get("WEB_BIND", DEFAULT_WEB_BIND))
        live = address.base_url is None or web_wait_live(
            address.base_url, timeout=options["timeout"]
        )
        user, password = demo_admin_ensure()
        lines = banner_lines(address, email=user.email, password=password, live=live)
        self.stdout.write(boxed(lines))
        self.stdout.flush()
        if not options["once"]:
            try:
                threading.Event().wait()  # until honcho's SIGTERM ends the process
            except KeyboardInterrupt:
                return  # Ctrl-C reached this process too: stop quietly, like the others
