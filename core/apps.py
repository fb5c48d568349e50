from django.apps import AppConfig
from django.core.signals import request_finished


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django_structlog.celery.signals import modify_context_before_task_publish
        from django_structlog.signals import bind_extra_request_metadata

        from .logging import (
            add_user_to_task_context,
            bind_request_context,
            configure_structlog,
            install_request_id_record_factory,
        )
        from .tracing import configure_tracing

        install_request_id_record_factory()
        configure_structlog()
        # Every process sets Django up before it serves anything (gunicorn workers with or
        # without --preload, Celery worker and beat, commands), so tracing starts here.
        configure_tracing()
        bind_extra_request_metadata.connect(
            bind_request_context, dispatch_uid="core.bind_request_context"
        )
        modify_context_before_task_publish.connect(
            add_user_to_task_context, dispatch_uid="core.add_user_to_task_context"
        )
        request_finished.connect(clear_request_id, dispatch_uid="core.clear_request_id")


def clear_request_id(**_: object) -> None:
    from .logging import current_request_var
    from .request_context import client_ip_var, request_id_var
    from .tracing import request_trace_ids_var

    current_request_var.set(None)
    request_id_var.set(None)
    client_ip_var.set(None)
    request_trace_ids_var.set(None)
