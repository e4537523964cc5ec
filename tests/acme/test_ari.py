"""ARI (RFC 9773): the certificate identifier, the window (last third of life, spread per
certificate), operator flags for a certificate or a whole CA, and `replaces` in newOrder."""

from __future__ import annotations

import pytest
from cryptography import x509
from django.test import Client

from enrollment.acme import ari
from enrollment.acme.models import AcmeOrder
from pki.models import IssuedCertificate
from tests.acme.jws import b64u
from tests.acme.test_protocol import complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(client_for, http01, django_capture_on_commit_callbacks):
    client = client_for()
    client.register()
    _, order = complete(client, http01, django_capture_on_commit_callbacks, "ari.acme.test")
    pem = client.get(order["certificate"]).content
    leaf = x509.load_pem_x509_certificates(pem)[0]
    cert = IssuedCertificate.objects.get(serial=f"{leaf.serial_number:X}")
    return client, leaf, cert


def rfc9773_id(leaf: x509.Certificate) -> str:
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = leaf.serial_number
    assert aki.key_identifier is not None
    return (
        f"{b64u(aki.key_identifier)}.{b64u(serial.to_bytes(serial.bit_length() // 8 + 1, 'big'))}"
    )


def test_renewal_info_window_is_in_the_last_third(issued):
    _, leaf, cert = issued
    assert ari.cert_id(cert) == rfc9773_id(leaf)
    url = f"/acme/acme1/renewal-info/{rfc9773_id(leaf)}"
    response = Client().get(url)
    assert response.status_code == 200, response.content
    assert int(response["Retry-After"]) > 0
    window = ari.window(cert)
    life = cert.not_after - cert.not_before
    assert cert.not_before + life * 2 / 3 <= window.start < window.end <= cert.not_after
    doc = response.json()["suggestedWindow"]
    assert doc == ari.window(cert).as_json()["suggestedWindow"]  # deterministic
    assert "explanationURL" not in response.json()


def test_the_spread_differs_between_certificates(issued):
    _, _, cert = issued
    twin = IssuedCertificate(serial="0123", not_before=cert.not_before, not_after=cert.not_after)
    assert ari.scheduled(twin).start != ari.scheduled(cert).start
    assert ari.scheduled(cert) == ari.window(cert)


def test_flagging_the_certificate_moves_the_window_to_now(issued):
    _, leaf, cert = issued
    ari.flag(cert.domain, certificate=cert, explanation_url="https://ops.acme.test/incident")
    doc = Client().get(f"/acme/acme1/renewal-info/{rfc9773_id(leaf)}").json()
    window = ari.window(cert)
    assert window.end <= cert.created_at.__class__.now(window.end.tzinfo)
    assert doc["explanationURL"] == "https://ops.acme.test/incident"


def test_flagging_the_ca_moves_every_window_with_the_domains_explanation(issued):
    _, leaf, cert = issued
    cert.domain.acme.ari_explanation_url = "https://ops.acme.test/ca"
    cert.domain.acme.save()
    ari.flag(cert.domain, ca=cert.ca)
    doc = Client().get(f"/acme/acme1/renewal-info/{rfc9773_id(leaf)}").json()
    assert doc["explanationURL"] == "https://ops.acme.test/ca"
    assert doc["suggestedWindow"]["end"] <= ari.window(cert).as_json()["suggestedWindow"]["end"]


@pytest.mark.parametrize("bad", ["nodot", "a.b.c", "!!.AA", "AAAA.gA", "AAAA.AQ"])
def test_bad_or_unknown_certificate_ids(acme_domain, bad):
    response = Client().get(f"/acme/acme1/renewal-info/{bad}")
    assert response.status_code in (400, 404)
    assert response.json()["type"] == "urn:ietf:params:acme:error:malformed"


def test_replaces_is_recorded_and_only_once(issued, client_for):
    client, leaf, cert = issued
    cid = rfc9773_id(leaf)
    response = client.new_order("ari.acme.test", replaces=cid)
    assert response.status_code == 201, response.content
    assert response.json()["replaces"] == cid
    assert AcmeOrder.objects.get(replaces=cert)
    again = client.new_order("ari.acme.test", replaces=cid)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:ietf:params:acme:error:alreadyReplaced"
    stranger = client_for()
    stranger.register()
    refused = stranger.new_order("ari.acme.test", replaces=cid)
    assert refused.status_code == 403
