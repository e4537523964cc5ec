"""What the operator commands turn into a CommandError with the reason, never a traceback."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from config.errors import Conflict, NotFound, Unavailable, reason_of
from pki.crypto.keys import KeyBackendError
from pki.services.cas import CaUnavailable

# ValueError covers the crypto boundary's parse errors (CSR, certificate, container).
REFUSALS: tuple[type[Exception], ...] = (
    PermissionDenied,
    ValidationError,
    Conflict,
    NotFound,
    KeyBackendError,
    CaUnavailable,
    Unavailable,
    ValueError,
)

__all__ = ["REFUSALS", "reason_of"]
