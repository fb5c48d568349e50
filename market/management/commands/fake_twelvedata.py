"""``manage.py fake_twelvedata [--port 8765]``: a local, offline TwelveData for ``make run``.

Serves ``/time_series`` (raw with ``adjust=none``, split-adjusted by default, as the real
API), ``/splits``, ``/dividends`` and ``/market_cap`` (none held) from the bundled demo data
(market/demo) with the payload builders the test suite uses (``market.providers.fake``).
After each symbol's last real bar (2024-09-12 for prices) it serves a labelled synthetic
continuation up to today (``market.providers.fake.SyntheticContinuation``: seeded, so every
start serves the same numbers; ``--no-synthetic`` turns it off), so a refresh inserts rows.
Local settings point ``TWELVEDATA_BASE_URL`` at ``http://127.0.0.1:$TWELVEDATA_FAKE_PORT``
(8765), so ``manage.py refresh_market_data`` works without the internet. Loopback only; any
API key is accepted unless ``--api-key`` is given.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.management.base import CommandError, CommandParser

from core.management.base import OperationalCommand
from market.providers.fake import DEMO_SYNTHETIC_SEED, FakeTwelveData, demo_fake


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


def synthetic_line(fake: FakeTwelveData) -> str:
    """How the start-up line labels what is synthetic."""
    if not fake.synthetic_after:
        return "bundled history only"
    first = min(fake.synthetic_after.values())
    through = max(bars[-1].date for bars in fake.series.values())
    return f"synthetic after {first.isoformat()} through {through.isoformat()}, seeded"


class Command(OperationalCommand):
    help = (
        "Serve a fake TwelveData (/time_series, /splits, /dividends, /market_cap) from the "
        "bundled demo data (Ctrl-C stops)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765, help="default: 8765 (0: any free)")
        parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
        parser.add_argument("--api-key", default=None, help="require this key (default: any)")
        parser.add_argument(
            "--seed",
            type=int,
            default=DEMO_SYNTHETIC_SEED,
            help=f"seed of the synthetic continuation (default: {DEMO_SYNTHETIC_SEED})",
        )
        parser.add_argument(
            "--no-synthetic",
            action="store_true",
            help="serve the bundled history only (nothing after its last date)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fake = demo_fake(
            api_key=options["api_key"], seed=options["seed"], synthetic=not options["no_synthetic"]
        )
        try:
            server = ThreadingHTTPServer((options["host"], options["port"]), handler_for(fake))
        except OSError as error:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']} ({error.strerror}): "
                "another fake may be running; pick a free port with TWELVEDATA_FAKE_PORT "
                "(make run passes it to the fake and the local settings)"
            ) from error
        self.stdout.write(
            f"fake TwelveData on http://{options['host']}:{server.server_port} "
            f"({len(fake.series)} symbols; {synthetic_line(fake)}); Ctrl-C to stop"
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
