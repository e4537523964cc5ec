"""PKI state: domains, CAs and ceremonies, profiles, issued certificates and requests.

Written only by pki.services; everything else reads through selectors or the services.
"""

from pki.models.cas import Ceremony, CertificateAuthority, CrossCertificate
from pki.models.certificates import CertificateRequest, IdempotencyKey, IssuedCertificate
from pki.models.domains import Domain, Protocol, default_protocols, validate_protocols
from pki.models.profiles import Profile, ProfileVersion
from pki.models.revocation import (
    Crl,
    CrlSeries,
    OcspResponder,
    OcspResponse,
    Reason,
    Revocation,
)

__all__ = [
    "Ceremony",
    "CertificateAuthority",
    "CertificateRequest",
    "Crl",
    "CrlSeries",
    "CrossCertificate",
    "Domain",
    "IdempotencyKey",
    "IssuedCertificate",
    "OcspResponder",
    "OcspResponse",
    "Profile",
    "ProfileVersion",
    "Protocol",
    "Reason",
    "Revocation",
    "default_protocols",
    "validate_protocols",
]
