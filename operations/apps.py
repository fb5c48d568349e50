from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Connects the beat heartbeat's Celery signal handlers (beat_init, before_task_publish).
        from operations import heartbeats  # noqa: F401
