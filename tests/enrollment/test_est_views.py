"""EST over Django's test client: every endpoint, every failure status, Basic auth and its
throttle, idempotency, the profile binding and the audit trail."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.test import Client, override_settings

from audit.models import AuditEvent
from enrollment import services
from enrollment.models import DeviceCertificate, EstConfig
from pki.models import Domain, IssuedCertificate
from pki.services import profiles
from tests.enrollment.conftest import Cred, certs_of, make_csr, post

E = "/.well-known/est/alpha"
pytestmark = pytest.mark.django_db


def test_cacerts_is_the_whole_chain_certs_only(est_client: Client, est_pki) -> None:
    root, issuing = est_pki
    response = est_client.get(f"{E}/cacerts")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkcs7-mime; smime-type=certs-only"
    assert response["Content-Transfer-Encoding"] == "base64"
    got = {c.subject for c in certs_of(response.content)}  # a SET OF: DER sorts it
    assert got == {
        x509.load_der_x509_certificate(bytes(ca.certificate)).subject for ca in (issuing, root)
    }


def test_label_less_paths_serve_the_default_domain(est_client: Client, domain, cred) -> None:
    assert est_client.get("/.well-known/est/cacerts").status_code == 404
    Domain.objects.filter(pk=domain.pk).update(is_default=True)
    assert est_client.get("/.well-known/est/cacerts").status_code == 200
    response = post(est_client, "/.well-known/est/simpleenroll", make_csr().b64, cred.basic)
    assert response.status_code == 200, response.content


def test_unknown_and_disabled_domains(est_client: Client, domain, est_pki) -> None:
    response = est_client.get("/.well-known/est/nope/cacerts")
    assert response.status_code == 404 and b"nope" in response.content
    domain.enabled_protocols = ["api"]
    domain.save()
    response = est_client.get(f"{E}/cacerts")
    assert response.status_code == 403 and b"EST is disabled" in response.content
    domain.enabled_protocols = ["api", "est"]
    domain.save()
    EstConfig.objects.create(domain=domain, enabled=False)
    assert est_client.get(f"{E}/cacerts").status_code == 403


def test_simpleenroll_issues_under_the_device_profile(est_client: Client, cred: Cred) -> None:
    csr = make_csr("d1.alpha.test")
    response = post(est_client, f"{E}/simpleenroll", csr.b64, cred.basic)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pkcs7-mime; smime-type=certs-only"
    assert response["Content-Transfer-Encoding"] == "base64"
    [cert] = certs_of(response.content)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "d1.alpha.test"
    issued = IssuedCertificate.objects.get(serial=f"{cert.serial_number:X}".rjust(2, "0"))
    assert issued.protocol == "est"
    assert issued.profile_version.profile.name == "device"
    assert issued.requester == "est:dev1"
    link = DeviceCertificate.objects.get(certificate=issued)
    assert link.credential == cred.credential and link.operation == "simpleenroll"
    event = AuditEvent.objects.get(action="ca.issue", object_id=str(issued.pk))
    assert event.details["est_operation"] == "simpleenroll"
    assert event.details["protocol"] == "est"


def test_a_retried_enrollment_returns_the_same_certificate(est_client: Client, cred) -> None:
    csr = make_csr()
    first = post(est_client, f"{E}/simpleenroll", csr.b64, cred.basic)
    # Line breaks and no Content-Transfer-Encoding header (RFC 8951 §3) change nothing.
    wrapped = b"\n".join(csr.b64[i : i + 64] for i in range(0, len(csr.b64), 64)) + b"\n"
    second = est_client.post(
        f"{E}/simpleenroll",
        wrapped,
        content_type="application/pkcs10",
        HTTP_AUTHORIZATION=cred.basic,
    )
    assert first.status_code == second.status_code == 200
    assert certs_of(first.content)[0] == certs_of(second.content)[0]
    assert IssuedCertificate.objects.count() == 1
    third = post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic)
    assert certs_of(third.content)[0] != certs_of(first.content)[0]


def test_unauthenticated_is_401_with_a_basic_challenge(est_client: Client, cred) -> None:
    body = make_csr().b64
    for auth in (None, "Basic " + base64.b64encode(b"dev1:wrong").decode(), "Basic !!", "Bearer x"):
        response = post(est_client, f"{E}/simpleenroll", body, auth)
        assert response.status_code == 401, (auth, response.content)
        assert response["WWW-Authenticate"].startswith('Basic realm="')
    assert IssuedCertificate.objects.count() == 0


def test_revoked_and_foreign_credentials_are_refused(
    est_client: Client, cred: Cred, other_domain: Domain
) -> None:
    _, secret = services.create_credential(other_domain, None, username="dev9")
    auth = "Basic " + base64.b64encode(f"dev9:{secret}".encode()).decode()
    assert post(est_client, f"{E}/simpleenroll", make_csr().b64, auth).status_code == 401
    services.revoke_credential(cred.credential, None)
    assert post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic).status_code == 401


@pytest.mark.parametrize(
    "body",
    [b"not base64 at all !!", b"", base64.b64encode(b"hello"), b"MIIB"],
    ids=["junk", "empty", "not-der", "truncated"],
)
def test_malformed_bodies_are_400(est_client: Client, cred, body: bytes) -> None:
    response = post(est_client, f"{E}/simpleenroll", body, cred.basic)
    assert response.status_code == 400
    assert response.content.strip()
    assert AuditEvent.objects.filter(action="est.refused").exists()


def test_truncated_csr_and_wrong_signature_are_400(est_client: Client, cred) -> None:
    der = make_csr().der
    truncated = base64.b64encode(der[: len(der) // 2])
    assert post(est_client, f"{E}/simpleenroll", truncated, cred.basic).status_code == 400
    tampered = bytearray(der)
    tampered[-3] ^= 0x01  # inside the signature
    response = post(est_client, f"{E}/simpleenroll", base64.b64encode(tampered), cred.basic)
    assert response.status_code == 400
    assert b"signature" in response.content


def test_the_profile_refuses_with_its_reason(est_client: Client, cred) -> None:
    response = post(est_client, f"{E}/simpleenroll", make_csr("x.evil.test").b64, cred.basic)
    assert response.status_code == 403
    assert b"x.evil.test" in response.content
    assert AuditEvent.objects.filter(
        action="issuance.profile_evaluated", details__decision="deny"
    ).exists()


def test_the_binding_picks_the_profile(est_client: Client, domain, cred, est_pki) -> None:
    EstConfig.objects.create(domain=domain, enroll_profile="tls-server")
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic)
    assert response.status_code == 200
    assert IssuedCertificate.objects.get().profile_version.profile.name == "tls-server"
    EstConfig.objects.filter(domain=domain).update(enroll_profile="missing")
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic)
    assert response.status_code == 403 and b"missing" in response.content


@override_settings(ANCHORAGE_EST_MAX_FAILURES=3, ANCHORAGE_EST_LOCKOUT_SECONDS=60)
def test_password_guessing_is_throttled(est_client: Client, cred: Cred) -> None:
    from django.core.cache import cache

    cache.clear()
    wrong = "Basic " + base64.b64encode(b"dev1:guess").decode()
    body = make_csr().b64
    assert [post(est_client, f"{E}/simpleenroll", body, wrong).status_code for _ in range(3)] == [
        401
    ] * 3
    response = post(est_client, f"{E}/simpleenroll", body, cred.basic)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert AuditEvent.objects.filter(action="est.auth_failed").count() == 3
    # Another address is not locked out.
    response = post(est_client, f"{E}/simpleenroll", body, cred.basic, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 200
    cache.clear()


def test_csrattrs_lists_what_the_profile_requires(est_client: Client, domain, est_pki) -> None:
    response = est_client.get(f"{E}/csrattrs")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/csrattrs"
    der = base64.b64decode(response.content)
    assert der[0] == 0x30 and bytes.fromhex("0603550403") in der  # SEQUENCE, OID 2.5.4.3 (CN)
    spec = {**profiles.ProfileSpec().as_json(), "subject_required": [], "require_san": False}
    spec["dns_suffixes"] = ["alpha.test"]
    profiles.save_profile(domain, "device", spec, est_pki[1])
    assert est_client.get(f"{E}/csrattrs").status_code == 204


def test_wrong_methods_are_405(est_client: Client, est_pki) -> None:
    assert est_client.get(f"{E}/simpleenroll").status_code == 405
    assert est_client.post(f"{E}/cacerts").status_code == 405


def test_reenroll_needs_a_client_certificate(est_client: Client, cred: Cred) -> None:
    response = post(est_client, f"{E}/simplereenroll", make_csr().b64, cred.basic)
    assert response.status_code == 401
    assert b"certificate being renewed" in response.content


@pytest.mark.parametrize(
    ("auth", "body", "extra"),
    [
        ("Basic " + base64.b64encode(b"a\x00b:pw").decode(), b"x", {}),
        ("Basic " + base64.b64encode(b"x" * 500 + b":pw").decode(), b"x", {}),
        ("Basic " + base64.b64encode(b"\xff\xfe:pw").decode(), b"x", {}),
        ("Basic " + base64.b64encode(b"nocolon").decode(), b"x", {}),
        (None, b"x", {"HTTP_X_SSL_CLIENT_CERT": "%00%ff-----BEGIN CERTIFICATE-----%0Azz"}),
        (None, b"x", {"HTTP_X_SSL_CLIENT_CERT": "-"}),
        ("good", b"A" * 70_000, {}),
        ("good", b"\x30\x82\x01\x00" + b"\x00" * 300, {}),
        ("good", base64.b64encode(b"\x30\x03\x02\x01\x00"), {}),
    ],
    ids=["nul-user", "long-user", "not-utf8", "no-colon", "junk-cert", "dash-cert", "huge",
         "raw-der", "tiny-der"],
)  # fmt: skip
def test_hostile_input_is_answered_never_500(
    est_client: Client, cred: Cred, auth: str | None, body: bytes, extra: dict[str, str]
) -> None:
    header = cred.basic if auth == "good" else auth
    for path in ("simpleenroll", "simplereenroll", "serverkeygen"):
        response = post(est_client, f"{E}/{path}", body, header, **extra)
        assert response.status_code in {400, 401, 413}, (path, response.status_code)
        assert response.content.strip()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_djangos_limit_is_413(est_client: Client, cred: Cred) -> None:
    response = post(est_client, f"{E}/simpleenroll", b"A" * 5000, cred.basic)
    assert response.status_code == 413


def test_serverkeygen_with_an_rsa_csr_gets_an_rsa_key(est_client: Client, cred: Cred) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.enrollment.conftest import multipart

    key = rsa.generate_private_key(65537, 2048)
    csr = make_csr("r1.alpha.test", key=key)  # type: ignore[arg-type]
    response = post(est_client, f"{E}/serverkeygen", csr.b64, cred.basic)
    assert response.status_code == 200, response.content
    parts = multipart(response["Content-Type"], response.content)
    from cryptography.hazmat.primitives import serialization

    made = serialization.load_der_private_key(parts["application/pkcs8"][1], None)
    assert isinstance(made, rsa.RSAPrivateKey) and made.key_size == 2048


def test_csrattrs_is_der_openssl_reads(est_client: Client, domain, est_pki, tmp_path) -> None:
    import subprocess

    EstConfig.objects.create(domain=domain, enroll_profile="tls-server")  # requires a SAN
    response = est_client.get(f"{E}/csrattrs")
    assert response.status_code == 200
    (tmp_path / "attrs.der").write_bytes(base64.b64decode(response.content))
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-inform", "DER", "-in", str(tmp_path / "attrs.der")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "commonName" in parsed
    assert "Extension Request" in parsed and "Subject Alternative Name" in parsed
