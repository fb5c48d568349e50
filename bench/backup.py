"""Backup figures of the benchmark database after the ingest and engine benchmarks.

By then it holds the 539-asset universe's prices (``ingest.rows``) and a large published index:
``backup.large.size`` (bytes of the compressed custom-format dump), ``backup.large.seconds``
(``manage.py backup``'s service: snapshot, counts, pg_dump, checksum, store) and
``backup.large.verify_seconds`` (checksum, restore into a scratch database, counts, partitions,
published runs, ``migrate --check``, drop). ``bench.backup_demo`` gives the same for the demo
database.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from operations.backups.measure import backup_figures


def prefixed(figures: list[dict[str, Any]], prefix: str) -> Iterator[dict[str, Any]]:
    for figure in figures:
        yield {**figure, "name": figure["name"].replace("backup.", f"backup.{prefix}.", 1)}


def run() -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as folder:
        print("  backup: dump + verify of the benchmark database", file=sys.stderr, flush=True)
        yield from prefixed(backup_figures(folder=Path(folder)), "large")
