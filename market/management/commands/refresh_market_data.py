"""``manage.py refresh_market_data [--symbols …] [--start] [--end]``: refresh prices now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from core.management.base import OPERATIONAL_ERRORS, OperationalCommand
from market.models import RefreshRun
from market.providers import TwelveDataError
from market.services import RefreshAlreadyRunning, SymbolOutcome, prices_refresh


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from None


def _liveness(run: RefreshRun) -> str:
    beat = run.heartbeat_at or run.started_at
    seconds = max(0, round((timezone.now() - beat).total_seconds()))
    task = f", task {run.task_id}" if run.task_id else ""
    return f"trigger {run.trigger}, last heartbeat {seconds} s ago{task}"


class Command(OperationalCommand):
    # Vendor outages, a bad key, spent credits: one line and exit 1 (the run is marked failed).
    operational_errors = (*OPERATIONAL_ERRORS, TwelveDataError, RefreshAlreadyRunning)
    help = (
        "Fetch daily prices from TwelveData (incrementally: from each asset's last stored date "
        "minus the overlap) and upsert them. Prints a per-symbol summary; exits non-zero if the "
        "run failed, or if another refresh is already running (nothing started)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbols", nargs="+", help="default: every active asset")
        parser.add_argument("--start", type=_date, help="YYYY-MM-DD (default: incremental)")
        parser.add_argument("--end", type=_date, help="YYYY-MM-DD (default: today, UTC)")

    def handle(self, *args: Any, **options: Any) -> None:
        outcomes: list[SymbolOutcome] = []
        with tqdm(
            desc="refresh", unit="symbol", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:

            def progress(outcome: SymbolOutcome) -> None:
                outcomes.append(outcome)
                bar.set_postfix_str(outcome.symbol)
                bar.update(1)

            run = prices_refresh(
                symbols=options["symbols"],
                start=options["start"],
                end=options["end"],
                trigger=RefreshRun.Trigger.CLI,
                progress=progress,
            )
        if run.status == RefreshRun.Status.RUNNING:
            # Joined a live refresh (fresh heartbeat; a dead one is replaced): one line, exit 1,
            # so a script or cron job never takes it for a refresh it ran.
            raise CommandError(
                f"refresh #{run.pk} is already running ({_liveness(run)}); nothing started"
            )
        self._summary(run, outcomes)
        if run.status == RefreshRun.Status.FAILED:
            raise CommandError(f"refresh #{run.pk} failed: {run.failure or 'every symbol failed'}")

    def _summary(self, run: RefreshRun, outcomes: list[SymbolOutcome]) -> None:
        width = max([len("symbol"), *(len(outcome.symbol) for outcome in outcomes)])
        self.stdout.write(f"{'symbol':<{width}}  {'status':<8}  {'rows':>6}  note")
        for outcome in sorted(outcomes, key=lambda o: o.symbol):
            self.stdout.write(
                f"{outcome.symbol:<{width}}  {outcome.status:<8}  {outcome.rows:>6}  "
                f"{outcome.message}".rstrip()
            )
        style = (
            self.style.SUCCESS if run.status == RefreshRun.Status.SUCCEEDED else self.style.WARNING
        )
        self.stdout.write(
            style(
                f"refresh #{run.pk} {run.status}: inserted={run.rows_inserted} "
                f"updated={run.rows_updated} unchanged={run.rows_unchanged} "
                f"failed={run.symbols_failed} deferred={len(run.deferred_symbols)}"
            )
        )
