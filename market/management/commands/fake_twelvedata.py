"""``manage.py fake_twelvedata [--port 8765]``: a local, offline TwelveData for ``make run``.

Serves ``/time_series`` (raw with ``adjust=none``, split-adjusted by default, as the real
API), ``/splits``, ``/dividends`` and ``/market_cap`` (none held) from the bundled demo data
(market/demo) with the payload builders the test suite uses (``market.providers.fake``).
Local settings point ``TWELVEDATA_BASE_URL`` at ``http://127.0.0.1:8765``, so ``manage.py
refresh_market_data`` works without the internet. Loopback only; any API key is accepted
unless ``--api-key`` is given.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.management.base import CommandParser

from core.management.base import OperationalCommand
from market.providers.fake import FakeTwelveData, demo_dividends, demo_series, demo_splits


def handler_for(fake: FakeTwelveData) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            answer = fake.handle(url.path, dict(parse_qsl(url.query)), dict(self.headers))
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            # The path holds no secret (the key is in a header), but keep the console quiet.
            return

    return Handler


class Command(OperationalCommand):
    help = (
        "Serve a fake TwelveData (/time_series, /splits, /dividends, /market_cap) from the "
        "bundled demo data (Ctrl-C stops)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765, help="default: 8765")
        parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
        parser.add_argument("--api-key", default=None, help="require this key (default: any)")

    def handle(self, *args: Any, **options: Any) -> None:
        series = demo_series()
        fake = FakeTwelveData(
            series, splits=demo_splits(), dividends=demo_dividends(), api_key=options["api_key"]
        )
        server = ThreadingHTTPServer((options["host"], options["port"]), handler_for(fake))
        self.stdout.write(
            f"fake TwelveData on http://{options['host']}:{server.server_port} "
            f"({len(series)} symbols); Ctrl-C to stop"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
