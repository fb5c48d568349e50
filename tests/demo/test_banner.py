"""``make run``'s banner process (``manage.py demo_banner``): after the web process answers at
``WEB_BIND`` it prints the admin and API docs URLs and the demo login, below everything else."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.management.commands.demo_banner import WebAddress, web_address
from accounts.services import DEMO_ADMIN_EMAIL


def banner(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_banner", "--once", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_banner_waits_for_the_web_and_prints_its_urls_and_the_first_password(
    live_server, monkeypatch
):
    url = urlsplit(live_server.url)
    monkeypatch.setenv("WEB_BIND", f"{url.hostname}:{url.port}")
    base = f"http://{url.hostname}:{url.port}"

    first = banner()
    second = banner()

    lines = first.splitlines()
    assert re.fullmatch(r"\+-+\+", lines[0])
    assert lines[0] == lines[-1]
    assert {len(line) for line in lines} == {len(lines[0])}
    body = [line.strip("| ").rstrip() for line in lines[1:-1]]
    assert body[:4] == [
        "AutoIndex is running",
        f"admin     {base}/admin/",
        f"API docs  {base}/api/docs/",
        f"health    {base}/health/ready",
    ]
    login = re.fullmatch(rf"login     {re.escape(DEMO_ADMIN_EMAIL)}  password: (\S+)", body[4])
    assert login is not None
    assert Client().login(email=DEMO_ADMIN_EMAIL, password=login.group(1))
    assert body[-1] == "Ctrl-C stops these processes; make stop stops PostgreSQL and Redis"
    # Later starts: the password is not known any more, the way to set one is.
    assert [line.strip("| ").rstrip() for line in second.splitlines()[5:7]] == [
        f"login     {DEMO_ADMIN_EMAIL} (its password was shown on the first run)",
        f"reset it  .venv/bin/python manage.py changepassword {DEMO_ADMIN_EMAIL}",
    ]


@pytest.mark.django_db
def test_banner_says_so_when_the_web_does_not_answer(unused_port):
    output = banner("--bind", f"127.0.0.1:{unused_port}", "--timeout", "0.3")

    assert "| AutoIndex: the web process is not answering yet" in output
    assert f"|   admin     http://127.0.0.1:{unused_port}/admin/" in output


@pytest.mark.parametrize(
    ("bind", "address"),
    [
        ("127.0.0.1:8000", WebAddress("127.0.0.1:8000", "http://127.0.0.1:8000")),
        ("0.0.0.0:9000", WebAddress("0.0.0.0:9000", "http://127.0.0.1:9000", True)),
        ("[::]:8080", WebAddress("[::]:8080", "http://[::1]:8080", True)),
        ("localhost", WebAddress("localhost", "http://localhost:8000")),
        ("unix:/run/web.sock", WebAddress("unix:/run/web.sock", None)),
    ],
)
def test_web_bind_is_read_as_gunicorn_reads_it(bind, address):
    assert web_address(bind) == address


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
