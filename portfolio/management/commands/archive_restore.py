"""``manage.py archive_restore RUN``: bring an archived run's rows back, exactly."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.management.base import OperationalCommand
from portfolio.models import IndexRun
from portfolio.services import RunArchiveError, index_run_archive_restore


class Command(OperationalCommand):
    help = (
        "Verify an archived run's files against their checksums and put its levels and "
        "allocations back in the database (the run stays superseded)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run", type=int, help="the run's id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = IndexRun.objects.select_related("index").get(pk=options["run"])
        except IndexRun.DoesNotExist as error:
            raise CommandError(f"no index run #{options['run']}") from error
        location = run.archive_location
        try:
            run = index_run_archive_restore(run=run)
        except RunArchiveError as error:
            raise CommandError(f"run #{run.pk} not restored: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(f"run #{run.pk} restored")
            + f" from {location}: {run.values.count()} levels, "
            + f"{run.allocations.count()} allocations"
        )
