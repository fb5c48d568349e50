"""``manage.py archive_runs [--dry-run]``: archive the superseded runs the policy selects."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from core.management.base import OperationalCommand
from portfolio.models import IndexRun
from portfolio.selectors import index_runs_archivable
from portfolio.services import RunArchiveError, index_runs_archive


class Command(OperationalCommand):
    help = (
        "Move the levels and allocations of superseded runs older than RUN_ARCHIVE_AFTER_DAYS "
        "(beyond the newest RUN_ARCHIVE_KEEP_SUPERSEDED of each index) to verified files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list the runs that would be archived"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            candidates = index_runs_archivable(now=timezone.now())
            for run in candidates:
                self.stdout.write(f"#{run.pk} {run.index.slug} finished {run.finished_at}")
            self.stdout.write(f"{len(candidates)} runs would be archived")
            return
        with tqdm(desc="archiving runs", unit="run", disable=options["verbosity"] == 0) as bar:

            def progress(run: IndexRun, total: int) -> None:
                bar.total = total
                bar.set_postfix_str(f"#{run.pk} {run.index.slug}")
                bar.update(1)

            try:
                report = index_runs_archive(progress=progress)
            except RunArchiveError as error:
                raise CommandError(f"archiving stopped: {error}") from error
        summary = report.summary()
        self.stdout.write(
            self.style.SUCCESS(f"archived {summary['archived']} runs")
            + f" ({summary['values']} levels, {summary['allocations']} allocations) into "
            + f"{summary['bytes']} bytes in {summary['seconds']} s"
        )
