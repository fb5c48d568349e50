"""``manage.py load_demo_data``: the bundled real prices (raw), FX rates, splits and dividends,
idempotently."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from core.management.base import OperationalCommand
from market.services.demo import demo_data_load


class Command(OperationalCommand):
    help = (
        "Load the bundled demo prices, FX rates, splits and dividends (safe to run again: "
        "nothing is duplicated)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(desc="demo data", unit="rows", disable=options["verbosity"] == 0) as bar:

            def progress(symbol: str, rows: int) -> None:
                bar.set_postfix_str(symbol)
                bar.update(rows)

            loaded = demo_data_load(progress=progress)
        result = loaded.result
        self.stdout.write(
            self.style.SUCCESS(
                f"{loaded.assets} assets; prices inserted={result.inserted} "
                f"updated={result.updated} unchanged={result.unchanged}; "
                f"splits inserted={loaded.splits.inserted} unchanged={loaded.splits.unchanged}; "
                f"dividends inserted={loaded.dividends.inserted} "
                f"unchanged={loaded.dividends.unchanged}"
            )
        )
