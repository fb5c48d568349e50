"""``manage.py ensure_partitions --years-ahead N``: create missing yearly price partitions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from core.management.base import OperationalCommand
from market.partitions import ensure_year_partitions


class Command(OperationalCommand):
    help = (
        "Create the yearly partitions of market_price from this year up to N years ahead "
        "(idempotent); rows of those years waiting in the DEFAULT partition are moved in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years-ahead", type=int, default=1, help="default: 1")
        parser.add_argument(
            "--from-year", type=int, default=None, help="first year to ensure (default: this year)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        years_ahead = options["years_ahead"]
        if years_ahead < 0:
            self.stderr.write("--years-ahead must be 0 or more")
            raise SystemExit(2)
        this_year = timezone.now().year
        first_year = options["from_year"] or this_year
        report = ensure_year_partitions(range(first_year, this_year + years_ahead + 1))
        if report.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"created partitions for {', '.join(map(str, report.created))}; "
                    f"moved {report.rows_moved_from_default} row(s) out of DEFAULT"
                )
            )
        else:
            self.stdout.write("all partitions already exist")
