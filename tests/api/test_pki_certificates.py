"""/api/v1/certificates: issuance through issue(), idempotent replays, profile denials with
their audit events, and reading certificates only in domains the caller can see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from rest_framework.test import APIClient

from accounts.roles import Role
from audit.models import AuditEvent
from pki.crypto import certs
from pki.crypto.keys import KeyAlgorithm
from pki.crypto.pkcs import pem
from pki.models import IssuedCertificate
from pki.services import hierarchy, profiles
from pki.services.issuance import IssueRequest, issue
from tests.api.conftest import new_csr
from tests.pki.helpers import TLS_SERVER, assert_verifies

pytestmark = pytest.mark.django_db

URL = "/api/v1/certificates"


@pytest.fixture
def operator(domain, make_user):
    return make_user("olga", Role.OPERATOR, domain)


@pytest.fixture
def client(operator, api_client_for) -> APIClient:
    return api_client_for(operator)


def post(client: APIClient, csr: bytes | str, key: str | None = None, **body: object):
    data = {"domain": "alpha", "profile": "tls-server", "csr": _text(csr), **body}
    headers = {"Idempotency-Key": key} if key is not None else None
    return client.post(URL, data, format="json", headers=headers)


def _text(csr: bytes | str) -> str:
    return csr.decode() if isinstance(csr, bytes) else csr


@pytest.fixture
def beta_certificate(other_domain) -> IssuedCertificate:
    _, issuing = hierarchy.create_local_pki(other_domain, KeyAlgorithm.EC_P256)
    profiles.save_profile(
        other_domain, "tls-server", {**TLS_SERVER, "dns_suffixes": ["beta.test"]}, issuing
    )
    issued = issue(
        IssueRequest(
            domain=other_domain,
            profile="tls-server",
            csr=new_csr("www.beta.test"),
            protocol="api",
            requester="test",
        )
    )
    return issued.certificate


# --- issuing --------------------------------------------------------------------------------


def test_issue_answers_201_with_a_chain_openssl_verifies(pki, client, make_csr, tmp_path: Path):
    root, issuing = pki
    response = post(client, make_csr("www.alpha.test"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {
        "serial",
        "certificate",
        "chain",
        "ca",
        "profile",
        "profile_version",
        "not_before",
        "not_after",
        "subject",
        "sans",
        "status",
    }
    assert body["ca"] == issuing.slug
    assert (body["profile"], body["profile_version"]) == ("tls-server", 1)
    assert body["sans"] == ["www.alpha.test"]
    assert body["subject"] == "CN=www.alpha.test"
    assert body["status"] == "valid"
    assert body["chain"] == [certs.der_to_pem(bytes(issuing.certificate))]
    assert body["serial"] == body["serial"].upper()
    assert response["Location"].endswith(f"/api/v1/certificates/{body['serial']}")

    assert_verifies(
        tmp_path,
        trusted=[bytes(root.certificate)],
        untrusted=body["chain"],
        target=body["certificate"],
        extra=("-purpose", "sslserver"),
    )

    leaf = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert f"{leaf.serial_number:X}" == body["serial"].lstrip("0")
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    cert = IssuedCertificate.objects.get()
    assert cert.protocol == "api" and cert.requester == "user:olga"


def test_replay_with_the_same_key_answers_200_with_the_same_certificate(pki, client, make_csr):
    csr = make_csr()
    first = post(client, csr, key="order-42")
    again = post(client, csr, key="order-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["serial"] == first.json()["serial"]
    assert again.json()["certificate"] == first.json()["certificate"]
    assert again.json()["chain"] == first.json()["chain"]
    assert IssuedCertificate.objects.count() == 1


def test_the_same_key_for_a_different_csr_is_a_409(pki, client, make_csr):
    assert post(client, make_csr(), key="order-43").status_code == 201
    response = post(client, make_csr(), key="order-43")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert IssuedCertificate.objects.count() == 1


def test_without_a_key_each_request_is_a_new_certificate(pki, client, make_csr):
    csr = make_csr()
    assert post(client, csr).status_code == 201
    assert post(client, csr).status_code == 201
    assert IssuedCertificate.objects.count() == 2


@pytest.mark.parametrize("key", ["k" * 201, "", "tab\there"])
def test_a_bad_idempotency_key_is_a_400(pki, client, make_csr, key):
    response = post(client, make_csr(), key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not IssuedCertificate.objects.exists()


def test_a_200_character_key_is_fine(pki, client, make_csr):
    assert post(client, make_csr(), key="k" * 200).status_code == 201


# --- refusals -------------------------------------------------------------------------------


def _broken_signature(csr_pem: bytes) -> str:
    der = bytearray(x509.load_pem_x509_csr(csr_pem).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value: the request still parses
    return pem("CERTIFICATE REQUEST", bytes(der))


DENIALS: dict[str, tuple[dict[str, Any], str]] = {
    "rsa-1024": (dict(key="rsa1024"), "RSA-1024 is below the minimum"),
    "code signing": (
        dict(eku=[ExtendedKeyUsageOID.CODE_SIGNING]),
        "extended key usage codeSigning is not allowed",
    ),
    "outside the suffixes": (
        dict(cn="www.example.com"),
        "DNS name www.example.com is outside the allowed suffixes",
    ),
    "broken signature": (dict(broken=True), "signature does not verify"),
}


@pytest.mark.parametrize("case", DENIALS, ids=list(DENIALS))
def test_profile_denials_are_403_with_the_reason_and_audited(pki, client, make_csr, case):
    kwargs, reason = DENIALS[case]
    kwargs = dict(kwargs)
    broken = kwargs.pop("broken", False)
    cn = kwargs.pop("cn", "www.alpha.test")
    csr: bytes | str = make_csr(cn, **kwargs)
    if broken:
        csr = _broken_signature(csr)  # type: ignore[arg-type]
    response = post(client, csr)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "profile_denied"
    assert any(reason in r for r in body["reasons"]), body
    assert reason in body["detail"]
    assert not IssuedCertificate.objects.exists()
    event = AuditEvent.objects.filter(action="issuance.profile_evaluated").get()
    assert event.details["decision"] == "deny"
    assert any(reason in r for r in event.details["reasons"])
    assert event.domain_slug == "alpha" and event.actor_name == "olga"


def test_an_allowed_issue_is_audited_as_allow(pki, client, make_csr):
    assert post(client, make_csr()).status_code == 201
    event = AuditEvent.objects.get(action="issuance.profile_evaluated")
    assert event.details["decision"] == "allow"
    assert AuditEvent.objects.filter(action="ca.issue").count() == 1


def test_ra_officer_may_not_issue(pki, domain, make_user, api_client_for, make_csr):
    client = api_client_for(make_user("rita", Role.RA_OFFICER, domain))
    response = post(client, make_csr())
    assert response.status_code == 403
    assert "certs.issue" in response.json()["detail"]
    assert not IssuedCertificate.objects.exists()


@pytest.mark.parametrize(
    "csr",
    [
        "hello, I am not a CSR",
        "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
        "",
    ],
    ids=["not pem", "truncated", "empty"],
)
def test_malformed_csrs_are_a_400(pki, client, csr):
    response = post(client, csr)
    assert response.status_code == 400
    assert "csr" in response.json()["detail"]
    assert not IssuedCertificate.objects.exists()


def test_a_truncated_real_csr_is_a_400(pki, client, make_csr):
    pem = make_csr().decode().splitlines()
    truncated = "\n".join(pem[:3] + pem[-1:])
    response = post(client, truncated)
    assert response.status_code == 400
    assert "csr" in response.json()["detail"]


def test_non_json_bodies_are_refused(pki, client):
    broken = client.post(URL, b'{"domain": "alpha", ', content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"
    plain = client.post(URL, b"domain=alpha", content_type="text/plain")
    assert plain.status_code == 415
    array = client.post(URL, b"[1, 2]", content_type="application/json")
    assert array.status_code == 400


def test_no_domain_is_a_400(pki, client, make_csr):
    response = client.post(URL, {"profile": "tls-server", "csr": _text(make_csr())}, format="json")
    assert response.status_code == 400
    assert "domain" in response.json()["errors"]


# --- reading --------------------------------------------------------------------------------


def test_read_by_serial_in_either_case_and_download(pki, client, make_csr):
    issued = post(client, make_csr()).json()
    serial = issued["serial"]

    detail = client.get(f"{URL}/{serial.lower()}")
    assert detail.status_code == 200
    assert detail.json()["serial"] == serial
    assert detail.json()["certificate"] == issued["certificate"]
    assert detail.json()["chain"] == issued["chain"]

    pem = client.get(f"{URL}/{serial}/pem")
    assert pem.status_code == 200
    assert pem["Content-Type"] == "application/x-pem-file"
    assert pem.content.decode() == issued["certificate"] + "".join(issued["chain"])

    der = client.get(f"{URL}/{serial.lower()}/der/")
    assert der.status_code == 200
    assert der["Content-Type"] == "application/pkix-cert"
    assert der.content == bytes(IssuedCertificate.objects.get(serial=serial).der)

    assert client.get(f"{URL}/ABCDEF0123").status_code == 404


def test_list_filters_and_paginates(pki, client, make_csr, beta_certificate):
    _, issuing = pki
    www = post(client, make_csr("www.alpha.test")).json()["serial"]
    api = post(client, make_csr("api.alpha.test")).json()["serial"]

    listed = client.get(URL).json()
    assert listed["count"] == 2
    assert {c["serial"] for c in listed["results"]} == {www, api}
    assert "certificate" not in listed["results"][0]

    def serials(query: str) -> set[str]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200
        return {c["serial"] for c in response.json()["results"]}

    assert serials("q=api.alpha") == {api}
    assert serials("q=WWW.ALPHA") == {www}
    assert serials(f"ca={issuing.slug}") == {www, api}
    assert serials("ca=nope") == set()
    assert serials("profile=tls-server&status=valid") == {www, api}
    assert serials("status=revoked") == set()
    assert serials("domain=alpha") == {www, api}
    assert serials("domain=beta") == set()
    assert serials("expires_within=3650") == {www, api}
    assert serials("expires_within=1") == set()  # 90-day certificates
    page = client.get(f"{URL}?limit=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]


def test_another_domains_certificate_is_a_404_and_not_listed(pki, client, beta_certificate):
    serial = beta_certificate.serial
    for path in (f"{URL}/{serial}", f"{URL}/{serial}/pem", f"{URL}/{serial}/der"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
    assert client.get(URL).json()["count"] == 0


def test_an_auditor_reads_but_does_not_issue(pki, domain, client, make_user, api_client_for):
    serial = post(client, new_csr("www.alpha.test")).json()["serial"]
    auditor = api_client_for(make_user("aude", Role.AUDITOR, domain))
    assert auditor.get(f"{URL}/{serial}").status_code == 200
    assert auditor.get(URL).json()["count"] == 1
    assert post(auditor, new_csr("api.alpha.test")).status_code == 403


def test_anonymous_is_a_401(pki, make_csr):
    assert APIClient().get(URL).status_code == 401
    assert post(APIClient(), make_csr()).status_code == 401
