"""What bench/ocsp.py loads: a P-256 CA, certificates issued through issue_batch() (so their
responses are signed ahead, as in production), the OCSP requests for them, and the files
`openssl ocsp` needs to answer for the same certificates (index.txt, CA, responder)."""

from __future__ import annotations

import random
from datetime import UTC
from pathlib import Path
from typing import Any

import _server


def make(count: int, work: Path) -> dict[str, Any]:
    _server.django_setup()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import NameOID
    from django.conf import settings

    from pki.crypto.backends.software import SoftwareBackend
    from pki.crypto.keys import KeyAlgorithm
    from pki.crypto.pkcs import pem
    from pki.models import Domain, IssuedCertificate, OcspResponder
    from pki.services import hierarchy, profiles
    from pki.services.issuance import IssueRequest, issue_batch

    slug = f"ocspb{random.randrange(10**6)}"  # noqa: S311 (a name, not a secret)
    domain = Domain.objects.create(slug=slug, name="OCSP bench", enabled_protocols=["api"])
    _, issuing = hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)
    spec = {
        "key_types": ["ec"],
        "ekus": ["serverAuth"],
        "key_usage": ["digitalSignature"],
        "validity_days": 90,
        "max_validity_days": 397,
        "dns_suffixes": ["bench.test"],
    }
    profiles.save_profile(domain, "tls-server", spec, issuing)
    key = ec.generate_private_key(ec.SECP256R1())  # one key: the bench is about OCSP

    def csr(n: int) -> bytes:
        name = f"host{n}.bench.test"
        builder = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    for start in range(0, count, 100):
        requests = [
            IssueRequest(domain=domain, profile="tls-server", csr=csr(n), protocol="api",
                         requester="bench")
            for n in range(start, min(count, start + 100))
        ]  # fmt: skip
        issue_batch(requests)
        if start % 2000 == 0:
            print(f"  issued {start + len(requests):,} of {count:,}", flush=True)

    issuer = x509.load_der_x509_certificate(bytes(issuing.certificate))
    responder = OcspResponder.objects.filter(ca=issuing).order_by("-not_after").first()
    assert responder is not None
    (work / "issuer.pem").write_text(pem("CERTIFICATE", bytes(issuing.certificate)))
    (work / "responder.pem").write_text(pem("CERTIFICATE", bytes(responder.certificate)))
    exported = SoftwareBackend(alias="ocsp").export_private_key(responder.key_ref)
    (work / "responder.key").write_text(pem("PRIVATE KEY", exported))
    index, bodies = [], []
    for cert in IssuedCertificate.objects.filter(ca=issuing).iterator():
        serial = cert.serial if len(cert.serial) % 2 == 0 else "0" + cert.serial
        expiry = cert.not_after.astimezone(UTC).strftime("%y%m%d%H%M%SZ")
        index.append(f"V\t{expiry}\t\t{serial}\tunknown\t/CN={cert.subject[3:]}\n")
        request = ocsp.OCSPRequestBuilder().add_certificate(
            x509.load_der_x509_certificate(bytes(cert.der)),
            issuer,
            hashes.SHA1(),  # noqa: S303
        )
        bodies.append(request.build().public_bytes(serialization.Encoding.DER).hex() + "\n")
    random.shuffle(bodies)
    (work / "index.txt").write_text("".join(index))
    (work / "requests.hex").write_text("".join(bodies))
    files = {
        "index": "index.txt",
        "issuer": "issuer.pem",
        "responder": "responder.pem",
        "responder_key": "responder.key",
    }
    return {
        "slug": issuing.slug,
        "algorithm": "P-256",
        "kek": settings.ANCHORAGE_KEK,
        "files": files,
    }
