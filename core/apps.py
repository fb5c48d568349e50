from django.apps import AppConfig
from django.core.signals import request_finished


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from .logging import install_request_id_record_factory

        install_request_id_record_factory()
        request_finished.connect(clear_request_id, dispatch_uid="core.clear_request_id")


def clear_request_id(**_: object) -> None:
    from .request_context import client_ip_var, request_id_var

    request_id_var.set(None)
    client_ip_var.set(None)
