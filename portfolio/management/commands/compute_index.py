"""``manage.py compute_index [slug]``: compute, store and publish an index run."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from core.management.base import OperationalCommand
from portfolio.models import Index, IndexRun
from portfolio.selectors import index_run_published
from portfolio.services import index_run_compute

PHASES = ("load", "compute", "metrics", "store", "publish")


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


class Command(OperationalCommand):
    help = "Compute an index from the stored prices and publish the new run (default: autoindex)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", default="autoindex")
        parser.add_argument(
            "--no-publish", action="store_true", help="store the run without publishing it"
        )
        parser.add_argument(
            "--unless-published",
            action="store_true",
            help="do nothing if the index already has a published run (used by make run)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            index = Index.objects.select_related("strategy", "benchmark").get(slug=options["slug"])
        except Index.DoesNotExist as error:
            raise CommandError(f"no live index with slug {options['slug']!r}") from error
        if options["unless_published"] and index_run_published(index=index) is not None:
            self.stdout.write(f"{index.slug}: already published, nothing to do")
            return
        phases = PHASES[:-1] if options["no_publish"] else PHASES
        with tqdm(total=len(phases), desc=index.slug, disable=options["verbosity"] == 0) as bar:

            def progress(phase: str) -> None:
                bar.set_postfix_str(phase)
                if phase != "load":
                    bar.update(1)

            try:
                run = index_run_compute(
                    index=index,
                    trigger=IndexRun.Trigger.CLI,
                    publish=not options["no_publish"],
                    progress=progress,
                )
            except Exception as error:
                raise CommandError(f"computation failed: {error}") from error
            bar.update(1)
        overall = run.metrics.get("max", {})
        self.stdout.write(
            self.style.SUCCESS(f"{index.slug}: run #{run.pk} {run.status}")
            + f"\n  inception      {run.inception_date}"
            + f"\n  data through   {run.data_through}"
            + f"\n  last level     {_number(run.last_level)}"
            + f"\n  rebalances     {run.rebalance_count}"
            + f"\n  CAGR           {_percent(overall.get('cagr'))}"
            + f"\n  Sharpe         {_number(overall.get('sharpe'))}"
            + f"\n  max drawdown   {_percent(overall.get('max_drawdown'))}"
        )
