from django.apps import AppConfig


class EstateConfig(AppConfig):
    name = "truststores.estate"
    label = "estate"
    verbose_name = "Trust across the estate"

    def ready(self) -> None:
        from truststores.estate import changes, schema  # noqa: F401 (schema: OpenAPI token)

        changes.register_kind()
