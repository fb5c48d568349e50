"""``manage.py backup``: back up the database into the backup storage, then apply retention."""

from __future__ import annotations

from typing import Any

from core.management.base import OperationalCommand
from operations.backups import backup_create
from operations.backups.create import CREATE_PHASES

from ._backup_cli import one_line_errors, phase_bar, seconds_text, size_text, table


class Command(OperationalCommand):
    help = (
        "Back up the database (pg_dump custom format and a manifest with exact row counts) into "
        "BACKUP_STORAGE, then prune old backups (BACKUP_KEEP_DAILY, BACKUP_KEEP_WEEKLY)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with (
            one_line_errors("backup"),
            phase_bar(CREATE_PHASES, desc="backup", verbosity=options["verbosity"]) as progress,
        ):
            backup = backup_create(progress=progress)
        totals = backup.manifest["totals"]
        retention = backup.retention
        self.stdout.write(self.style.SUCCESS(f"backup {backup.name} succeeded"))
        self.stdout.write(
            table(
                [
                    ("name", backup.name),
                    ("location", f"{backup.location}/{backup.dump_key}"),
                    ("size", size_text(backup.size_bytes)),
                    ("duration", seconds_text(backup.timings)),
                    ("tables", totals["tables"]),
                    ("rows", totals["rows"]),
                    ("sha256", backup.sha256),
                    ("kept", len(retention.get("kept", []))),
                    ("pruned", ", ".join(retention.get("pruned", [])) or "none"),
                ]
            )
        )
        for name, error in retention.get("errors", {}).items():
            self.stderr.write(self.style.WARNING(f"could not prune {name}: {error}"))
