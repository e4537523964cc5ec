"""Alternate chains (RFC 8555 §7.4.2): when a CA on the leaf's path is cross-signed by another
root (a 2-of-3 ceremony), the certificate URL links rel="alternate" to a chain through the
cross-certificate, and `openssl verify` accepts each chain against its own root."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client

from enrollment.acme import services as acme
from pki.models import Ceremony
from tests.acme.jws import AcmeClient, Key
from tests.acme.test_protocol import complete
from tests.pki.conftest import people  # noqa: F401 (fixture)
from tests.pki.helpers import assert_verifies, create_intermediate, create_root, openssl_verify

pytestmark = pytest.mark.django_db


def ders(pem: bytes) -> list[bytes]:
    return [
        c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)
    ]


def test_cross_signed_ca_gives_an_alternate_chain(
    people,  # noqa: F811
    http01,
    django_capture_on_commit_callbacks,
    tmp_path: Path,
):
    root_a = create_root(people, "alpha-root-a")
    root_b = create_root(people, "alpha-root-b")
    intermediate = create_intermediate(people, "alpha-int-a", root_a)
    acme.enable(people.domain, intermediate, ["acme.test"])
    client = AcmeClient(Client(), people.domain.slug, Key.make())
    client.register()
    _, order = complete(client, http01, django_capture_on_commit_callbacks, "x.acme.test")
    plain = client.get(order["certificate"])
    assert not plain.has_header("Link") or "alternate" not in plain["Link"]

    people.run(Ceremony.Operation.CROSS_SIGN, {"ca": intermediate.slug, "issuer": root_b.slug})
    default = client.get(order["certificate"])
    alternate_url = f"{order['certificate']}/alt/1"
    assert f'<{alternate_url}>;rel="alternate"' in default["Link"]
    alternate = client.get(alternate_url)
    assert alternate.status_code == 200
    assert f'<{order["certificate"]}>;rel="alternate"' in alternate["Link"]

    leaf, *chain = ders(default.content)
    alt_leaf, *alt_chain = ders(alternate.content)
    assert alt_leaf == leaf and alt_chain != chain
    assert_verifies(tmp_path, trusted=[bytes(root_a.certificate)], untrusted=chain, target=leaf)
    assert_verifies(tmp_path, trusted=[bytes(root_b.certificate)], untrusted=alt_chain, target=leaf)
    # the default chain does not reach root B
    assert (
        openssl_verify(
            tmp_path, trusted=[bytes(root_b.certificate)], untrusted=chain, target=leaf
        ).returncode
        != 0
    )
    missing = client.get(f"{order['certificate']}/alt/2")
    assert missing.status_code == 404
