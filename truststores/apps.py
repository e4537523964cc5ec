from django.apps import AppConfig


class TruststoresConfig(AppConfig):
    name = "truststores"

    def ready(self) -> None:
        from truststores import services

        services.register_kind()
