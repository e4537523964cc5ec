"""Who signs for a CA: its own key through its key backend, or an upstream CA (AWS Private
CA). One function, so issuance does not care which (seed 002, F4)."""

from __future__ import annotations

from config.errors import Unavailable
from pki.crypto import certs
from pki.crypto.backends import get_signer
from pki.models import CertificateAuthority
from pki.services import cas


class UpstreamFailed(Unavailable):
    """The upstream CA refused or did not answer (503 to the client)."""

    code = "upstream_failed"


def sign(
    ca: CertificateAuthority, template: certs.CertTemplate, csr_der: bytes, validity_days: int
) -> tuple[bytes, list[bytes]]:
    """The signed certificate (DER) and its chain (DER, issuing CA first, no root)."""
    if ca.kind == CertificateAuthority.Kind.UPSTREAM:
        der, chain = _sign_upstream(ca, csr_der, validity_days)
        # Trust, but check: the upstream must have certified the key we were asked to.
        if not certs.public_key_matches(der, template.public_key_der):
            raise UpstreamFailed(f"upstream CA {ca.slug} returned a certificate for another key")
        return der, chain
    signer = get_signer(ca.key_backend, ca.key_ref)
    return certs.build(template, signer, bytes(ca.certificate)), cas.issuing_chain(ca)


def _sign_upstream(
    ca: CertificateAuthority, csr_der: bytes, validity_days: int
) -> tuple[bytes, list[bytes]]:
    from pki.crypto.upstream.awspca import PrivateCA, UpstreamError

    config = dict(ca.upstream)
    algorithm = config.pop("signing_algorithm", None) or _pca_algorithm(ca.key_algorithm)
    template_arn = config.pop("template_arn", None)
    try:
        issued = PrivateCA(**config).issue(
            csr_der, validity_days, algorithm, template_arn=template_arn
        )
    except UpstreamError as exc:
        raise UpstreamFailed(f"upstream CA {ca.slug}: {exc}") from None
    chain = [d for d in issued.chain_der if not certs.info(d).self_signed]
    return issued.certificate_der, chain


def _pca_algorithm(key_algorithm: str) -> str:
    if key_algorithm.startswith("rsa"):
        return "SHA256WITHRSA"
    return "SHA384WITHECDSA" if key_algorithm == "ec-p384" else "SHA256WITHECDSA"
