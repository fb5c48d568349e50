"""``manage.py import_mvp --database-url URL [--dry-run]``: the MVP's data, idempotently."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from compat.importer.reader import MvpDatabaseError
from compat.importer.run import mvp_import
from compat.importer.users import BcryptHasherMissingError


class Command(BaseCommand):
    help = (
        "Import users, assets, prices, market caps and the strategy of an MVP database "
        "(safe to run again: nothing is duplicated). See docs/import-mvp.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database-url",
            required=True,
            help="The MVP's PostgreSQL (postgresql://user@host:port/dbname; keep the password "
            "in PGPASSWORD or ~/.pgpass). Only read.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read and compare everything, write nothing (the summary says what would change).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(desc="MVP prices", unit="rows", disable=options["verbosity"] == 0) as bar:

            def progress(rows: int, total: int) -> None:
                bar.total = total
                bar.update(rows)

            try:
                summary = mvp_import(
                    database_url=options["database_url"],
                    dry_run=options["dry_run"],
                    progress=progress,
                )
            except (MvpDatabaseError, BcryptHasherMissingError) as error:
                raise CommandError(str(error)) from None
        for line in summary.lines():
            self.stdout.write(line)
