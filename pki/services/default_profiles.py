"""The profiles a new domain starts with (and the demo uses): TLS server, TLS client, device.

`suffixes` are the DNS names the domain may certify; the demo uses demo.test and localhost.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from pki.models import CertificateAuthority, Domain, ProfileVersion
from pki.services.profiles import save_profile


def specs(suffixes: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "tls-server": (
            "TLS server certificates for hosts under the domain's DNS names",
            {
                "key_types": ["rsa", "ec"],
                "key_usage": ["digitalSignature"],
                "ekus": ["serverAuth"],
                "validity_days": 90,
                "max_validity_days": 397,
                "dns_suffixes": suffixes,
                "ip_networks": ["127.0.0.0/8", "::1/128"],
            },
        ),
        "tls-client": (
            "TLS client certificates for services and people",
            {
                "key_types": ["rsa", "ec", "ed25519"],
                "key_usage": ["digitalSignature"],
                "ekus": ["clientAuth"],
                "validity_days": 90,
                "max_validity_days": 397,
                "dns_suffixes": suffixes,
                "require_san": False,
                "allow_emails": True,
                "subject_allowed": ["CN", "O", "OU", "C", "ST", "L", "emailAddress"],
            },
        ),
        "device": (
            "Device identities (EST / CMP domain credentials and application certificates)",
            {
                "key_types": ["rsa", "ec", "ed25519"],
                "key_usage": ["digitalSignature"],
                "ekus": ["clientAuth"],
                "validity_days": 365,
                "max_validity_days": 825,
                "dns_suffixes": suffixes,
                "require_san": False,
                "cn_in_san": False,
                "subject_allowed": ["CN", "O", "OU", "C", "serialNumber", "pseudonym"],
            },
        ),
    }


def ensure_default_profiles(
    domain: Domain, ca: CertificateAuthority, suffixes: list[str], actor: User | None = None
) -> list[ProfileVersion]:
    """Idempotent: an unchanged profile gets no new version."""
    return [
        save_profile(domain, name, spec, ca, actor=actor, description=description)
        for name, (description, spec) in specs(suffixes).items()
    ]
