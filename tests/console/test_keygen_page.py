"""A server-generated key delivered once as PKCS#12: openssl opens it with the password, the
key matches the certificate, the chain is in it; the profile still decides; only certs.issue
holders; nothing of the key is kept."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from accounts.roles import Role
from pki.models import Domain, IssuedCertificate
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures

pki = pki_fixtures.pki

pytestmark = pytest.mark.django_db
URL = "/certificates/new-key"
PASSWORD = "correct horse battery"


def form(**change: str) -> dict[str, str]:
    return {
        "profile": "alpha/tls-server",
        "common_name": "app.alpha.test",
        "dns_names": "app.alpha.test, www.app.alpha.test",
        "ip_addresses": "",
        "algorithm": "ec-p256",
        "password": PASSWORD,
        "password_again": PASSWORD,
        **change,
    }


def openssl(*args: str, data: bytes = b"") -> str:
    done = subprocess.run(["openssl", *args], input=data, capture_output=True, check=True)
    return done.stdout.decode()


@pytest.mark.parametrize("algorithm", ["ec-p256", "rsa-2048"])
def test_the_pkcs12_opens_and_its_key_matches(
    pki: Any, domain: Domain, make_user: MakeUser, tmp_path: Path, algorithm: str
) -> None:
    olga = logged_in(make_user("olga", Role.OPERATOR, domain))
    answer = olga.post(URL, form(algorithm=algorithm))
    assert answer.status_code == 200 and answer["Content-Type"] == "application/x-pkcs12"
    cert = IssuedCertificate.objects.get()
    assert answer["Content-Disposition"] == f'attachment; filename="{cert.serial}.p12"'
    p12 = tmp_path / "out.p12"
    p12.write_bytes(answer.content)
    opened = openssl("pkcs12", "-in", str(p12), "-passin", f"pass:{PASSWORD}", "-nodes")
    assert "PRIVATE KEY" in opened and opened.count("BEGIN CERTIFICATE") == 2  # leaf + issuing
    (tmp_path / "all.pem").write_text(opened)
    key_pub = openssl("pkey", "-in", str(tmp_path / "all.pem"), "-pubout")
    cert_pub = openssl("x509", "-in", str(tmp_path / "all.pem"), "-noout", "-pubkey")
    assert key_pub == cert_pub
    with pytest.raises(subprocess.CalledProcessError):
        openssl("pkcs12", "-in", str(p12), "-passin", "pass:wrong password!", "-nodes")
    assert "app.alpha.test" in cert.sans and "www.app.alpha.test" in cert.sans


def test_the_profile_decides_and_nothing_is_issued(
    pki: Any, domain: Domain, make_user: MakeUser
) -> None:
    olga = logged_in(make_user("olga", Role.OPERATOR, domain))
    refused = olga.post(URL, form(common_name="x.elsewhere.test", dns_names="x.elsewhere.test"))
    assert refused.status_code == 403 and "x.elsewhere.test" in refused.content.decode()
    bad_ip = olga.post(URL, form(ip_addresses="300.1.1.1"))
    assert bad_ip.status_code == 400 and "300.1.1.1" in bad_ip.content.decode()
    differ = olga.post(URL, form(password_again="something else entirely"))
    assert differ.status_code == 200 and "the two passwords differ" in differ.content.decode()
    short = olga.post(URL, form(password="short", password_again="short"))
    assert short.status_code == 200 and PASSWORD not in short.content.decode()
    assert not IssuedCertificate.objects.exists()


def test_only_issuers_may_use_it(pki: Any, domain: Domain, make_user: MakeUser) -> None:
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    assert rachel.get(URL).status_code == 403
    assert rachel.post(URL, form()).status_code == 403
    assert "let the server make the key" not in rachel.get("/certificates/new").content.decode()
    olga = logged_in(make_user("olga", Role.OPERATOR, domain))
    assert "Let the server make the key" in olga.get("/certificates/new").content.decode()
    assert not IssuedCertificate.objects.exists()
