"""External account binding (RFC 8555 §7.3.4): optional or required per domain; the key is
sealed at rest, binds one account, and every bad binding is refused."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.management import call_command

from enrollment.acme import eab
from enrollment.acme.models import AcmeAccount, ExternalAccountKey
from tests.acme.conftest import make_acme_domain
from tests.acme.jws import AcmeClient, Key, b64u, b64u_decode

pytestmark = pytest.mark.django_db
ERR = "urn:ietf:params:acme:error:"


def binding(kid: str, hmac_key: str, url: str, jwk: dict, *, alg: str = "HS256", **extra) -> dict:
    protected = b64u(json.dumps({"alg": alg, "kid": kid, "url": url, **extra}).encode())
    payload = b64u(json.dumps(jwk).encode())
    mac = hmac.new(b64u_decode(hmac_key), f"{protected}.{payload}".encode(), hashlib.sha256)
    return {"protected": protected, "payload": payload, "signature": b64u(mac.digest())}


@pytest.fixture
def strict(db):
    return make_acme_domain("strict", eab_required=True)


def register(client: AcmeClient, eab_doc: dict | None):
    payload: dict[str, object] = {"termsOfServiceAgreed": True}
    if eab_doc is not None:
        payload["externalAccountBinding"] = eab_doc
    return client.post(f"{client.base}/new-account", payload, use_jwk=True)


def test_required_eab_refuses_accounts_without_it(strict, client_for):
    client = client_for(domain=strict)
    assert client.directory()["meta"]["externalAccountRequired"] is True
    response = register(client, None)
    assert response.status_code == 400
    assert response.json()["type"] == ERR + "externalAccountRequired"


def test_a_good_binding_creates_and_binds_the_account_once(strict, client_for):
    made = eab.create_key(strict, comment="team a")
    assert made.hmac_key.encode() not in bytes(made.key.sealed_hmac_key)  # sealed at rest
    client = client_for(domain=strict)
    url = f"{client.base}/new-account"
    response = register(client, binding(made.key.key_id, made.hmac_key, url, client.key.jwk()))
    assert response.status_code == 201, response.content
    account = AcmeAccount.objects.get(domain=strict)
    assert account.eab_key_id == made.key.key_id
    # The key binds one account: a second account cannot reuse it.
    other = client_for(domain=strict)
    again = register(other, binding(made.key.key_id, made.hmac_key, url, other.key.jwk()))
    assert again.status_code == 403
    assert again.json()["type"] == ERR + "unauthorized"


@pytest.mark.parametrize(
    "spoil",
    ["wrong-mac", "other-jwk", "wrong-url", "unknown-kid", "nonce", "rs256", "revoked"],
)
def test_bad_bindings_are_refused(strict, client_for, spoil):
    made = eab.create_key(strict)
    client = client_for(domain=strict)
    url = f"{client.base}/new-account"
    kid, key, jwk, extra, alg = made.key.key_id, made.hmac_key, client.key.jwk(), {}, "HS256"
    if spoil == "wrong-mac":
        key = b64u(b"\x00" * 32)
    elif spoil == "other-jwk":
        jwk = Key.make().jwk()
    elif spoil == "wrong-url":
        url = f"{client.base}/new-order"
    elif spoil == "unknown-kid":
        kid = "no-such-key"
    elif spoil == "nonce":
        extra = {"nonce": client.nonce()}
    elif spoil == "rs256":
        alg = "RS256"
    elif spoil == "revoked":
        ExternalAccountKey.objects.filter(pk=made.key.pk).update(revoked_at="2026-01-01T00:00Z")
    response = register(client, binding(kid, key, url, jwk, alg=alg, **extra))
    assert response.status_code in (400, 403), response.content
    assert response.json()["type"].startswith(ERR)
    assert not AcmeAccount.objects.filter(domain=strict).exists()


def test_optional_eab_accepts_both(client_for, acme_domain):
    plain = client_for()
    assert plain.register().status_code == 201
    made = eab.create_key(acme_domain)
    bound = client_for()
    url = f"{bound.base}/new-account"
    response = register(bound, binding(made.key.key_id, made.hmac_key, url, bound.key.jwk()))
    assert response.status_code == 201
    assert AcmeAccount.objects.get(eab_key_id=made.key.key_id)


def test_the_command_prints_a_key_once(strict, capsys):
    call_command("acme_eab_key", "strict", "--comment", "for lego")
    out = json.loads(capsys.readouterr().out)
    key = ExternalAccountKey.objects.get(key_id=out["kid"])
    assert key.comment == "for lego" and len(b64u_decode(out["hmac_key"])) == 32


def test_admin_revokes_a_key_and_it_binds_no_account(strict, client_for):
    from django.contrib.auth.models import User
    from django.test import Client

    from audit.models import AuditEvent

    made = eab.create_key(strict)
    admin = User.objects.create_superuser("root", "root@acme.test", "pw")
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/admin/acme/externalaccountkey/").status_code == 200
    response = browser.post(
        "/admin/acme/externalaccountkey/",
        {"action": "revoke_keys", "_selected_action": [made.key.pk]},
    )
    assert response.status_code == 302
    made.key.refresh_from_db()
    assert made.key.revoked_at is not None
    assert AuditEvent.objects.filter(action="acme.eab_key.revoked").exists()
    client = client_for(domain=strict)
    url = f"{client.base}/new-account"
    refused = register(client, binding(made.key.key_id, made.hmac_key, url, client.key.jwk()))
    assert refused.status_code == 403
