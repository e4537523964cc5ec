"""OpenAPI description of a consumer's report token (drf-spectacular), loaded by
EstateConfig.ready()."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ConsumerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "truststores.estate.api_reports.ConsumerTokenAuthentication"
    name = "consumerTokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Token ancc_…`: the consumer's own report token",
        }
