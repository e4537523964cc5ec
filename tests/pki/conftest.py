"""PKI fixtures: a domain with a local root + issuing CA and the default profiles, CSRs, and
the people of a ceremony (an operator and three custodians of the domain)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pki.crypto.keys import KeyAlgorithm
from pki.models import CertificateAuthority, Domain
from pki.services import hierarchy, profiles
from tests.pki.helpers import TLS_SERVER, People, make_people


@pytest.fixture
def pki(domain: Domain) -> tuple[CertificateAuthority, CertificateAuthority]:
    root, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing)
    return root, issuing


@pytest.fixture
def people(make_user, domain: Domain) -> People:
    return make_people(make_user, domain)


MakeCsr = Callable[..., bytes]


@pytest.fixture
def make_csr() -> MakeCsr:
    """make_csr("a.alpha.test", key="ec"|"rsa1024"|..., eku=None, sans=None) → PEM bytes."""

    def make(
        cn: str = "www.alpha.test",
        *,
        key: str = "ec",
        sans: list[str] | None = None,
        eku: list[x509.ObjectIdentifier] | None = None,
        private_key: object = None,
    ) -> bytes:
        if private_key is None:
            private_key = (
                rsa.generate_private_key(65537, int(key[3:]))
                if key.startswith("rsa")
                else ec.generate_private_key(ec.SECP256R1())
            )
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        )
        names = [cn] if sans is None else sans
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        csr = builder.sign(private_key, hashes.SHA256())  # type: ignore[arg-type]
        return csr.public_bytes(serialization.Encoding.PEM)

    return make
