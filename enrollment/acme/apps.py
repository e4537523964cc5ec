from django.apps import AppConfig


class AcmeConfig(AppConfig):
    name = "enrollment.acme"
    label = "acme"
    verbose_name = "ACME"
