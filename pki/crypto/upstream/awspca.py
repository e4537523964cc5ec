"""AWS Private CA (acm-pca) as an upstream issuer.

IssueCertificate is asynchronous: it returns a certificate ARN at once and GetCertificate
answers RequestInProgressException until the certificate exists. `PrivateCA.issue` polls
for it, up to `timeout` seconds. Every AWS or transport failure becomes an UpstreamError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pki.crypto.aws import AWS_ERRORS, AwsClient, error_code


class UpstreamError(Exception):
    """The upstream CA could not be reached, refused, or did not issue in time."""


@dataclass(frozen=True)
class IssuedByUpstream:
    certificate_der: bytes
    chain_der: list[bytes] = field(default_factory=list)  # issuer first, up to the root
    certificate_arn: str = ""


def _ders(pem: str | None) -> list[bytes]:
    if not pem or not pem.strip():
        return []
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise UpstreamError(f"AWS Private CA returned an unreadable certificate: {exc}") from None
    return [c.public_bytes(serialization.Encoding.DER) for c in certs]


class PrivateCA:
    def __init__(
        self,
        arn: str,
        region: str,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        *,
        poll_interval: float = 1.0,
        timeout: float = 60.0,
        **options: Any,
    ) -> None:
        self.arn = arn
        self.region = region
        self.endpoint_url = endpoint_url
        self.poll_interval = poll_interval
        self.timeout = timeout
        self._aws = AwsClient(
            "acm-pca",
            name="AWS Private CA",
            error=UpstreamError,
            region=region,
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            options=options,
        )

    def client(self) -> Any:
        return self._aws.client()

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return self._aws.call(operation, **params)

    def issue(
        self,
        csr_der: bytes,
        validity_days: int,
        signing_algorithm: str,
        idempotency_token: str | None = None,
        template_arn: str | None = None,
    ) -> IssuedByUpstream:
        """Have the Private CA sign `csr_der`. `signing_algorithm` is PCA's spelling
        (SHA256WITHRSA, SHA384WITHECDSA...); `template_arn` None is PCA's end-entity default."""
        if validity_days < 1:
            raise UpstreamError("validity must be at least one day")
        try:
            csr_pem = x509.load_der_x509_csr(csr_der).public_bytes(serialization.Encoding.PEM)
        except ValueError as exc:
            raise UpstreamError(f"not a PKCS#10 request: {exc}") from None
        params: dict[str, Any] = {
            "CertificateAuthorityArn": self.arn,
            "Csr": csr_pem,
            "SigningAlgorithm": signing_algorithm,
            "Validity": {"Value": validity_days, "Type": "DAYS"},
        }
        if idempotency_token:
            params["IdempotencyToken"] = idempotency_token
        if template_arn:
            params["TemplateArn"] = template_arn
        certificate_arn: str = self._call("issue_certificate", **params)["CertificateArn"]
        response = self._wait(certificate_arn)
        certificates = _ders(response.get("Certificate"))
        if not certificates:
            raise UpstreamError(f"AWS Private CA returned no certificate for {certificate_arn}")
        return IssuedByUpstream(
            certificates[0], _ders(response.get("CertificateChain")), certificate_arn
        )

    def ca_certificate(self) -> tuple[bytes, list[bytes]]:
        """The Private CA's own certificate and the chain above it (empty for a root)."""
        response = self._call(
            "get_certificate_authority_certificate", CertificateAuthorityArn=self.arn
        )
        certificates = _ders(response.get("Certificate"))
        if not certificates:
            raise UpstreamError(f"AWS Private CA {self.arn} has no certificate yet")
        return certificates[0], _ders(response.get("CertificateChain"))

    def _wait(self, certificate_arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                response: dict[str, Any] = self.client().get_certificate(
                    CertificateAuthorityArn=self.arn, CertificateArn=certificate_arn
                )
                return response
            except AWS_ERRORS as exc:
                if error_code(exc) != "RequestInProgressException":
                    raise self._aws.failed("GetCertificate", exc) from None
            if time.monotonic() + self.poll_interval > deadline:
                raise UpstreamError(
                    f"AWS Private CA did not issue {certificate_arn} within {self.timeout:g}s"
                )
            time.sleep(self.poll_interval)


__all__ = ["IssuedByUpstream", "PrivateCA", "UpstreamError"]
