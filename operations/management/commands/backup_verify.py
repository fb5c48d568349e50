"""``manage.py backup_verify [NAME]``: restore a backup into a scratch database and check it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.management.base import OperationalCommand
from operations.backups import backup_verify
from operations.backups.verify import VERIFY_PHASES

from ._backup_cli import one_line_errors, phase_bar, seconds_text, table


class Command(OperationalCommand):
    help = (
        "Verify a backup (default: the newest): checksum, restore into a scratch database, "
        "row counts per table, price partitions, published runs, migrate --check; the result "
        "is stored on the backup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="the backup's name (default: the newest)")

    def handle(self, *args: Any, **options: Any) -> None:
        with (
            one_line_errors("verification"),
            phase_bar(VERIFY_PHASES, desc="verify", verbosity=options["verbosity"]) as progress,
        ):
            backup = backup_verify(name=options["name"], progress=progress)
        report = backup.verification_report
        restored = report.get("restored", {})
        scratch = report.get("scratch_database")
        rows = [
            ("backup", backup.name),
            ("duration", f"{report.get('total_seconds', 0):.2f} s"),
            ("phases", seconds_text(report.get("seconds", {}))),
            ("tables", restored.get("tables", "n/a")),
            ("rows", restored.get("rows", "n/a")),
            ("scratch db", f"{scratch} (dropped)" if scratch else "not created"),
        ]
        self.stdout.write(table(rows))
        if backup.verification_status != backup.Verification.OK:
            problems = report.get("problems", [])
            if len(problems) > 1:
                for problem in problems:
                    self.stderr.write(f"  - {problem}")
            raise CommandError(
                f"backup {backup.name} failed verification: {backup.verification_error}"
            )
        self.stdout.write(self.style.SUCCESS(f"backup {backup.name} verified"))
