from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "compat"
    verbose_name = "MVP compatibility (/api/v1)"
