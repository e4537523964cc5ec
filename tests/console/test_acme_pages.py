"""ACME in the console: EAB keys made (HMAC key shown once, never stored in the clear) and
revoked by certs.issue holders; early renewal (ARI) asked for a certificate or a CA by
certs.revoke holders, which moves the certificate's renewal window to now."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from accounts.roles import Role
from enrollment.acme import ari
from enrollment.acme.models import ExternalAccountKey, RenewalFlag
from pki.models import Domain
from pki.services.issuance import IssueRequest, issue
from tests.conftest import MakeUser
from tests.console.helpers import logged_in
from tests.pki import conftest as pki_fixtures
from tests.pki.conftest import MakeCsr

pki = pki_fixtures.pki
make_csr = pki_fixtures.make_csr

pytestmark = pytest.mark.django_db


def test_eab_keys_are_made_once_and_revoked(
    domain: Domain, other_domain: Domain, make_user: MakeUser
) -> None:
    olga = logged_in(make_user("olga", Role.OPERATOR, domain))
    made = olga.post("/acme-keys/", {"domain": "alpha", "comment": "for the web team"})
    assert made.status_code == 200 and made["Cache-Control"] == "no-store"
    key = ExternalAccountKey.objects.get()
    hmac_key = made.context["hmac_key"]
    assert len(hmac_key) >= 40 and hmac_key in made.content.decode()
    assert hmac_key.encode() not in bytes(key.sealed_hmac_key)
    assert hmac_key not in olga.get("/acme-keys/").content.decode()  # shown once
    assert olga.post("/acme-keys/", {"domain": "beta", "comment": "x"}).status_code == 200
    assert ExternalAccountKey.objects.count() == 1  # not a domain of hers: a form error

    stranger = logged_in(make_user("sven", Role.OPERATOR, other_domain))
    assert stranger.post(f"/acme-keys/{key.pk}/revoke").status_code == 404
    assert olga.post(f"/acme-keys/{key.pk}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    rachel = logged_in(make_user("rachel", Role.RA_OFFICER, domain))
    assert rachel.get("/acme-keys/").status_code == 403


def test_early_renewal_moves_the_window_to_now(
    pki: Any, domain: Domain, make_user: MakeUser, make_csr: MakeCsr
) -> None:
    olga = make_user("olga", Role.OPERATOR, domain)
    cert = issue(
        IssueRequest(domain, "tls-server", make_csr("w.alpha.test"), "api", user=olga)
    ).certificate
    assert ari.window(cert).start > timezone.now()
    auditor = logged_in(make_user("audrey", Role.AUDITOR, domain))
    assert auditor.post(f"/certificates/{cert.serial}/renew").status_code == 403
    answer = logged_in(olga).post(
        f"/certificates/{cert.serial}/renew", {"explanation_url": "https://status.example/key"}
    )
    assert answer.status_code == 302
    window = ari.window(cert)
    assert window.end <= timezone.now()
    assert window.explanation_url == "https://status.example/key"

    assert logged_in(olga).post(f"/cas/{pki[1].slug}/renew").status_code == 302
    assert RenewalFlag.objects.filter(ca=pki[1]).exists()
    assert auditor.post(f"/cas/{pki[1].slug}/renew").status_code == 403
