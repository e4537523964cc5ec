from django.apps import AppConfig


class CmpAppConfig(AppConfig):
    name = "enrollment.cmp"
    label = "cmp"
    verbose_name = "CMP"
