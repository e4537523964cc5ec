from django.apps import AppConfig


class EstateConfig(AppConfig):
    name = "truststores.estate"
    label = "estate"
    verbose_name = "Trust across the estate"
