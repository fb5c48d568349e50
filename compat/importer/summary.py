"""What an MVP import did, per entity, and its rendering as the command's summary table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

COLUMNS = ("read", "created", "updated", "unchanged", "skipped")
ENTITY_WIDTH = 12
NUMBER_WIDTH = 10


@dataclass
class EntityCounts:
    """Counts of one entity. Every row read ends in exactly one of created, updated,
    unchanged or skipped; a skip always carries its reason."""

    name: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_reasons.values())

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped_reasons[reason] += count


@dataclass
class ImportSummary:
    """The import's outcome. ``dry_run``: everything was read, compared and written inside
    one transaction that was then rolled back, so the counts say what a real run would do."""

    dry_run: bool
    source: str = ""
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def entity(self, name: str) -> EntityCounts:
        """The counts of ``name``, created on first use (the table keeps that order)."""
        return self.entities.setdefault(name, EntityCounts(name))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def lines(self) -> list[str]:
        """The summary as printed by ``manage.py import_mvp``: a header, one row per entity,
        the skip reasons, then the notes."""
        if self.dry_run:
            header = "MVP import (DRY RUN: nothing was written, the transaction was rolled back)"
        else:
            header = "MVP import"
        lines = [f"{header}: {self.source}" if self.source else header]
        lines.append("entity".ljust(ENTITY_WIDTH) + "".join(c.rjust(NUMBER_WIDTH) for c in COLUMNS))
        for counts in self.entities.values():
            numbers = (counts.read, counts.created, counts.updated, counts.unchanged)
            lines.append(
                counts.name.ljust(ENTITY_WIDTH)
                + "".join(str(n).rjust(NUMBER_WIDTH) for n in (*numbers, counts.skipped))
            )
        skips = [
            f"  {counts.name}: {count} {reason}"
            for counts in self.entities.values()
            for reason, count in sorted(counts.skipped_reasons.items())
        ]
        if skips:
            lines += ["skipped:", *skips]
        if self.notes:
            lines += ["notes:", *(f"  {note}" for note in self.notes)]
        return lines
