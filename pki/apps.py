from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "pki"
    verbose_name = "PKI"

    def ready(self) -> None:
        from pki.services import ceremonies, requests

        ceremonies.register_kind()
        requests.register_kind()
