"""Backup figures of the demo database (``manage.py load_demo_data`` + the demo index):
``backup.demo.size``, ``backup.demo.seconds``, ``backup.demo.verify_seconds`` (see
``bench.backup``)."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management import call_command

from bench.backup import prefixed
from operations.backups.measure import backup_figures
from portfolio.models import Index, IndexRun
from portfolio.services import index_run_compute


def run() -> Iterator[dict[str, Any]]:
    print("  backup: loading the demo data and computing the demo index", file=sys.stderr)
    call_command("load_demo_data", verbosity=0)
    index_run_compute(index=Index.objects.get(slug="autoindex"), trigger=IndexRun.Trigger.CLI)
    with tempfile.TemporaryDirectory(prefix="bench-backup-demo-") as folder:
        yield from prefixed(backup_figures(folder=Path(folder)), "demo")
