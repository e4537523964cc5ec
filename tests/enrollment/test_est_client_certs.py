"""TLS client certificates as the proxy passes them (X-SSL-Client-Cert, URL-escaped PEM):
re-enrollment by the certificate being renewed (RFC 7030 §4.2.2), the trusted-proxy rule, the
`est` truststore, revoked certificates, and serverkeygen (§4.4)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from enrollment.models import DeviceCertificate
from enrollment.services import create_device
from pki.models import Domain, IssuedCertificate
from pki.services import revocation
from tests.enrollment.conftest import Cred, certs_of, make_csr, multipart, post
from tests.truststores.certs import make
from truststores import services as truststores
from truststores.models import TruststoreRequest

E = "/.well-known/est/alpha"
pytestmark = pytest.mark.django_db


def header(cert: x509.Certificate) -> dict[str, str]:
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return {"HTTP_X_SSL_CLIENT_CERT": quote(pem, safe="")}


def enrolled(client: Client, cred: Cred, cn: str = "d1.alpha.test") -> x509.Certificate:
    response = post(client, f"{E}/simpleenroll", make_csr(cn).b64, cred.basic)
    assert response.status_code == 200, response.content
    return certs_of(response.content)[0]


def test_reenroll_with_the_certificate_being_renewed(est_client: Client, cred: Cred) -> None:
    old = enrolled(est_client, cred)
    response = post(est_client, f"{E}/simplereenroll", make_csr().b64, **header(old))
    assert response.status_code == 200, response.content
    [new] = certs_of(response.content)
    assert new.subject == old.subject and new.serial_number != old.serial_number
    link = DeviceCertificate.objects.get(certificate__serial=f"{new.serial_number:X}")
    assert link.operation == "simplereenroll" and link.credential == cred.credential


def test_reenroll_with_another_subject_is_403(est_client: Client, cred: Cred) -> None:
    old = enrolled(est_client, cred)
    response = post(
        est_client, f"{E}/simplereenroll", make_csr("other.alpha.test").b64, **header(old)
    )
    assert response.status_code == 403
    assert b"subject" in response.content
    same_cn_other_san = make_csr("d1.alpha.test", sans=["d1.alpha.test", "x.alpha.test"])
    response = post(est_client, f"{E}/simplereenroll", same_cn_other_san.b64, **header(old))
    assert response.status_code == 403 and b"subjectAltName" in response.content
    assert AuditEvent.objects.filter(action="est.refused").count() == 2
    assert IssuedCertificate.objects.count() == 1


def test_the_header_counts_only_from_a_trusted_proxy(est_client: Client, cred: Cred) -> None:
    old = enrolled(est_client, cred)
    response = post(
        est_client,
        f"{E}/simplereenroll",
        make_csr().b64,
        REMOTE_ADDR="192.0.2.7",
        **header(old),
    )
    assert response.status_code == 401


def test_a_revoked_certificate_does_not_authenticate(est_client: Client, cred: Cred) -> None:
    old = enrolled(est_client, cred)
    issued = IssuedCertificate.objects.get()
    revocation.revoke(issued, "keyCompromise", requester="test")
    response = post(est_client, f"{E}/simplereenroll", make_csr().b64, **header(old))
    assert response.status_code == 401 and b"revoked" in response.content
    # ...nor for simpleenroll, even beside a good password: a bad certificate is refused.
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic, **header(old))
    assert response.status_code == 401


def test_an_unknown_certificate_or_junk_header_is_401(est_client: Client, cred: Cred) -> None:
    stranger = make("stranger.alpha.test", make("Stranger CA"), ca=False).cert
    response = post(est_client, f"{E}/simplereenroll", make_csr().b64, **header(stranger))
    assert response.status_code == 401 and b"truststore" in response.content
    response = post(
        est_client, f"{E}/simpleenroll", make_csr().b64, HTTP_X_SSL_CLIENT_CERT="garbage"
    )
    assert response.status_code == 401


def test_a_certificate_chaining_to_the_est_truststore_enrolls(
    est_client: Client, domain: Domain, cred: Cred, make_user
) -> None:
    vendor = make("Vendor Device CA")
    idevid = make("d1.alpha.test", vendor, ca=False).cert
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, **header(idevid))
    assert response.status_code == 401
    request = truststores.submit(
        domain,
        make_user("sam", Role.RA_OFFICER, domain),
        name="vendor",
        truststore_type="est",
        bundle=vendor.pem,
    )
    TruststoreRequest.objects.filter(pk=request.pk).update(
        state=TruststoreRequest.State.READY, ready_at=timezone.now()
    )
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, **header(idevid))
    assert response.status_code == 200, response.content
    assert IssuedCertificate.objects.get().requester.startswith("est:cert:")


def test_a_device_credential_names_the_device(
    est_client: Client, domain: Domain, est_pki: object
) -> None:
    from enrollment.services import create_credential

    device = create_device(domain, None, name="pump-7", serial_number="SN7")
    credential, secret = create_credential(domain, None, username="pump-7", device=device)
    cred = Cred(credential, "pump-7", secret)
    old = enrolled(est_client, cred)
    assert IssuedCertificate.objects.get().requester == "est:pump-7 device:pump-7"
    response = post(est_client, f"{E}/simplereenroll", make_csr().b64, **header(old))
    assert response.status_code == 200
    assert set(device.certificates.values_list("operation", flat=True)) == {
        "simpleenroll",
        "simplereenroll",
    }


def test_serverkeygen_returns_a_key_that_matches_its_certificate(
    est_client: Client, cred: Cred
) -> None:
    response = post(est_client, f"{E}/serverkeygen", make_csr("k1.alpha.test").b64, cred.basic)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("multipart/mixed; boundary=")
    parts = multipart(response["Content-Type"], response.content)
    cte, key_der = parts["application/pkcs8"]
    assert cte == "base64"
    key = serialization.load_der_private_key(key_der, None)
    cte, p7 = parts["application/pkcs7-mime"]
    [cert] = certs_of(base64.b64encode(p7))
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) == key.public_key().public_bytes(serialization.Encoding.DER, public)
    assert "k1.alpha.test" in cert.subject.rfc4514_string()
    # A retry makes a new key, so a new certificate (nothing to replay the old key from).
    again = post(est_client, f"{E}/serverkeygen", make_csr("k1.alpha.test").b64, cred.basic)
    assert again.status_code == 200 and IssuedCertificate.objects.count() == 2
