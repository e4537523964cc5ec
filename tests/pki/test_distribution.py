"""/ca/<ca>.crt: the caIssuers URL in every certificate we issue."""

from __future__ import annotations

import subprocess

from django.test import Client

from pki.crypto import certs


def test_ca_certificate_is_served_as_der_with_cache_headers(pki, tmp_path):
    root, issuing = pki
    response = Client().get(f"/ca/{issuing.slug}.crt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-cert"
    assert response.content == bytes(issuing.certificate)
    assert "max-age" in response["Cache-Control"] and response["ETag"] and response["Last-Modified"]
    (tmp_path / "ca.der").write_bytes(response.content)
    out = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-in", tmp_path / "ca.der", "-noout", "-subject"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert issuing.name in out.stdout
    again = Client().get(f"/ca/{issuing.slug}.crt", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert certs.info(bytes(root.certificate)).self_signed


def test_unknown_ca_is_404(pki):
    assert Client().get("/ca/nope.crt").status_code == 404
    assert Client().post(f"/ca/{pki[0].slug}.crt").status_code == 405
