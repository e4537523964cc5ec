"""One boto3 client for an AWS service, as the KMS key backend and the Private CA upstream use it.

OPTIONS are botocore ``Config`` arguments (connect_timeout, read_timeout, retries...) over
`DEFAULT_CONFIG`. Credentials are passed explicitly or left to boto3's usual chain (None).
The client is made on first use (boto3 clients are thread-safe), and every AWS or transport
failure of a call becomes the caller's own error type, with the AWS code and message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"max_attempts": 3, "mode": "standard"},
}

Service = Literal["kms", "acm-pca"]  # the boto3 services Anchorage talks to

# The AWS and transport failures a call can raise.
AWS_ERRORS = (ClientError, BotoCoreError)


def reason(exc: Exception) -> str:
    """``Code: Message`` of an AWS error, else the exception's text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        return f"{code}: {message}" if message else code
    return str(exc) or type(exc).__name__


def error_code(exc: Exception) -> str | None:
    """The AWS error code of a ClientError (``RequestInProgressException``...), else None."""
    if not isinstance(exc, ClientError):
        return None
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code


class AwsClient:
    """A lazily made boto3 client for `service`; failures become ``error(message)``.

    `name` is how messages call the service ("KMS", "AWS Private CA"), `options_name` how
    they call its options (defaults to `name`).
    """

    def __init__(
        self,
        service: Service,
        *,
        name: str,
        error: Callable[[str], Exception],
        region: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        options_name: str | None = None,
    ) -> None:
        self.service = service
        self.name = name
        self.error = error
        self.region = region
        self.endpoint_url = endpoint_url
        self._credentials = (access_key_id, secret_access_key)
        try:
            self._config = Config(**{**DEFAULT_CONFIG, **(options or {})})
        except (TypeError, BotoCoreError) as exc:
            raise error(f"invalid {options_name or name} options: {exc}") from None
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The boto3 client, made on first use."""
        with self._lock:
            if self._client is None:
                session = boto3.session.Session(
                    aws_access_key_id=self._credentials[0],
                    aws_secret_access_key=self._credentials[1],
                    region_name=self.region,
                )
                self._client = session.client(
                    self.service, endpoint_url=self.endpoint_url, config=self._config
                )
            return self._client

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run a client method (``sign``, ``issue_certificate``...); AWS errors → `error`."""
        try:
            response: dict[str, Any] = getattr(self.client(), operation)(**params)
        except AWS_ERRORS as exc:
            raise self.failed(operation, exc) from None
        return response

    def failed(self, operation: str, exc: Exception) -> Exception:
        """The caller's error for `operation` failing with `exc`."""
        return self.error(f"{self.name} {operation} failed: {reason(exc)}")


__all__ = ["AWS_ERRORS", "DEFAULT_CONFIG", "AwsClient", "Service", "error_code", "reason"]
