"""``manage.py restore NAME --confirm``: replace the configured database with a backup."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connections

from core.management.base import OperationalCommand
from operations.backups import backup_restore
from operations.backups.postgres import Database
from operations.backups.restore import RESTORE_PHASES, STOP_WRITERS_HINT, backup_manifest

from ._backup_cli import one_line_errors, phase_bar, seconds_text, table


class Command(OperationalCommand):
    help = (
        "Restore a backup into the configured database, replacing what the backup holds "
        "(pg_restore --clean in one transaction). Stop web, worker and beat first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the backup's name (as `backup` printed it)")
        parser.add_argument(
            "--confirm", action="store_true", help="really replace the database's contents"
        )
        parser.add_argument(
            "--database",
            default="default",
            help="the Django database alias to restore into (default: default)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore even though refresh, index or backup runs are marked running",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        target = Database.from_settings(connections[using].settings_dict).label
        with one_line_errors("restore"):
            manifest = backup_manifest(name=options["name"])
        totals = manifest["totals"]
        what = (
            f"backup {manifest['name']} (data of {manifest['snapshot_at']}, "
            f"{totals['tables']} tables, {totals['rows']} rows)"
        )
        if not options["confirm"]:
            raise CommandError(
                f"not restoring without --confirm: this would replace the contents of database "
                f"{target} with {what}; {STOP_WRITERS_HINT}"
            )
        self.stderr.write(f"restoring {what} into {target}; {STOP_WRITERS_HINT}")
        with (
            one_line_errors("restore"),
            phase_bar(RESTORE_PHASES, desc="restore", verbosity=options["verbosity"]) as progress,
        ):
            result = backup_restore(
                name=options["name"], using=using, force=options["force"], progress=progress
            )
        published = ", ".join(
            f"{run['index']} run #{run['run_id']}" for run in manifest["published_runs"]
        )
        self.stdout.write(self.style.SUCCESS(f"restored {result.name} into {result.database}"))
        self.stdout.write(
            table(
                [
                    ("data of", manifest["snapshot_at"]),
                    ("tables", totals["tables"]),
                    ("rows", totals["rows"]),
                    ("published", published or "none"),
                    ("catalogue", f"{result.catalogue_rows} backup rows kept"),
                    ("duration", seconds_text(result.seconds)),
                ]
            )
        )
        if result.unapplied_migrations:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(result.unapplied_migrations)} migration(s) of the current code are "
                    "not applied in the restored database: run `manage.py migrate`"
                )
            )
