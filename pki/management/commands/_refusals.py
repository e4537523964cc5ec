"""What the operator commands turn into a CommandError with the reason, never a traceback."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from config.errors import Conflict, NotFound, reason_of
from pki.crypto.keys import KeyBackendError
from pki.services.ca_driver import UpstreamFailed
from pki.services.cas import CaUnavailable
from pki.services.issuance import IssuanceUnavailable

# ValueError covers the crypto boundary's parse errors (CSR, certificate, container).
REFUSALS: tuple[type[Exception], ...] = (
    PermissionDenied,
    ValidationError,
    Conflict,
    NotFound,
    KeyBackendError,
    CaUnavailable,
    IssuanceUnavailable,
    UpstreamFailed,
    ValueError,
)

__all__ = ["REFUSALS", "reason_of"]
