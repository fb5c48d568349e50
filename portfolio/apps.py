from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self) -> None:
        # The nightly chain: a finished market-data refresh recomputes every index. The market
        # app only announces the refresh; orchestration lives here, in the higher app.
        from market.signals import refresh_finished

        from .tasks import recompute_after_refresh

        refresh_finished.connect(
            recompute_after_refresh, sender=None, dispatch_uid="portfolio.recompute_after_refresh"
        )
