"""REST API of the PKI core: domains, certificates, CAs, ceremonies, profiles, requests.

Views are thin: they check input and the per-domain permission, call pki.services, and
serialize. An object of a domain where the caller does not hold domain.view answers 404.
"""

from pki.api.cas import CertificateAuthorityViewSet
from pki.api.ceremonies import CeremonyViewSet
from pki.api.certificates import CertificateViewSet
from pki.api.domains import DomainViewSet
from pki.api.profiles import ProfileViewSet
from pki.api.requests import CertificateRequestViewSet

__all__ = [
    "CeremonyViewSet",
    "CertificateAuthorityViewSet",
    "CertificateRequestViewSet",
    "CertificateViewSet",
    "DomainViewSet",
    "ProfileViewSet",
]
