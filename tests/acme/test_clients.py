"""Real ACME clients against a live server, with http-01 checked by a real Celery worker:
certbot (PyPI) issues, renews (forced, and because ARI says so) and revokes with --standalone;
lego (Debian) issues with http-01; `openssl verify` accepts what they got."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from enrollment.acme import ari, eab
from enrollment.acme.models import AcmeChallenge
from pki.models import IssuedCertificate
from tests.acme.live import openssl_verify, run, tool

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def certbot(server, tmp_path: Path, *args: str) -> str:
    command = [
        tool("certbot"),
        *args,
        "--non-interactive", "--no-random-sleep-on-renew",
        "--config-dir", str(tmp_path / "conf"),
        "--work-dir", str(tmp_path / "work"),
        "--logs-dir", str(tmp_path / "logs"),
    ]  # fmt: skip
    result = run(command)
    log = tmp_path / "logs" / "letsencrypt.log"
    tail = log.read_text()[-6000:] if log.exists() else ""
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{tail}"
    return result.stdout + result.stderr


def certbot_issue(server, tmp_path: Path, name: str) -> Path:
    certbot(
        server, tmp_path, "certonly", "--standalone",
        "--http-01-port", str(server.port), "--http-01-address", "127.0.0.1",
        "--server", server.directory, "-d", name,
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    return tmp_path / "conf" / "live" / name


def serial_of(pem: Path) -> str:
    return f"{x509.load_pem_x509_certificate(pem.read_bytes()).serial_number:X}"


def test_certbot_issues_renews_and_revokes(acme_server, tmp_path):
    live = certbot_issue(acme_server, tmp_path, "cb1.acme.test")
    openssl_verify(acme_server.root, live / "chain.pem", live / "cert.pem")
    first = IssuedCertificate.objects.get(serial=serial_of(live / "cert.pem"))
    assert first.protocol == "acme" and first.sans == ["cb1.acme.test"]

    certbot(acme_server, tmp_path, "renew", "--force-renewal",
            "--http-01-port", str(acme_server.port))  # fmt: skip
    second = IssuedCertificate.objects.get(serial=serial_of(live / "cert.pem"))
    assert second.pk != first.pk
    openssl_verify(acme_server.root, live / "chain.pem", live / "cert.pem")

    # Revoked by the account that holds it, then the renewed one by its own key (§7.6).
    archive = tmp_path / "conf" / "archive" / "cb1.acme.test"
    certbot(acme_server, tmp_path, "revoke", "--cert-path", str(archive / "cert1.pem"),
            "--reason", "superseded", "--no-delete-after-revoke",
            "--server", acme_server.directory)  # fmt: skip
    first.refresh_from_db()
    assert first.status == IssuedCertificate.Status.REVOKED
    assert first.revocation.reason == "superseded"
    certbot(acme_server, tmp_path, "revoke", "--cert-path", str(archive / "cert2.pem"),
            "--key-path", str(archive / "privkey2.pem"), "--reason", "keycompromise",
            "--no-delete-after-revoke", "--server", acme_server.directory)  # fmt: skip
    second.refresh_from_db()
    assert second.status == IssuedCertificate.Status.REVOKED
    assert second.revocation.reason == "keyCompromise"
    assert second.revocation.requester == "acme:certificate-key"


def test_certbot_renews_what_ari_flags_and_only_that(acme_server, tmp_path):
    flagged_live = certbot_issue(acme_server, tmp_path, "ari1.acme.test")
    other_live = certbot_issue(acme_server, tmp_path, "ari2.acme.test")
    flagged = IssuedCertificate.objects.get(serial=serial_of(flagged_live / "cert.pem"))
    before = ari.window(flagged)
    assert before.start > flagged.not_before + (flagged.not_after - flagged.not_before) * 0.66
    ari.flag(acme_server.domain, certificate=flagged, explanation_url="https://ops.acme.test/x")

    out = certbot(acme_server, tmp_path, "renew", "--http-01-port", str(acme_server.port))
    assert "ari2.acme.test" in out and "not due for renewal" in out
    renewed = IssuedCertificate.objects.get(serial=serial_of(flagged_live / "cert.pem"))
    assert renewed.pk != flagged.pk and renewed.sans == ["ari1.acme.test"]
    assert IssuedCertificate.objects.filter(sans=["ari2.acme.test"]).count() == 1
    assert (
        serial_of(other_live / "cert.pem")
        == IssuedCertificate.objects.get(sans=["ari2.acme.test"]).serial
    )


def test_lego_issues_with_http01(acme_server, tmp_path):
    result = run(
        [
            tool("lego"), "--server", acme_server.directory, "--email", "lego@acme.test",
            "--accept-tos", "--domains", "lego1.acme.test", "--http",
            "--http.port", f"127.0.0.1:{acme_server.port}", "--path", str(tmp_path / "lego"),
            "run",
        ]
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    got = tmp_path / "lego" / "certificates"
    openssl_verify(
        acme_server.root, got / "lego1.acme.test.issuer.crt", got / "lego1.acme.test.crt"
    )
    assert IssuedCertificate.objects.filter(sans=["lego1.acme.test"], protocol="acme").exists()


def test_lego_with_external_account_binding(acme_server, tmp_path):
    acme_server.domain.acme.eab_required = True
    acme_server.domain.acme.save()
    lego = [
        tool("lego"), "--server", acme_server.directory, "--email", "eab@acme.test",
        "--accept-tos", "--domains", "lego-eab.acme.test", "--http",
        "--http.port", f"127.0.0.1:{acme_server.port}", "--path", str(tmp_path / "lego"),
    ]  # fmt: skip
    refused = run([*lego, "run"])
    assert refused.returncode != 0
    # lego reads meta.externalAccountRequired from the directory and stops before asking
    # (the server's own refusal is tests/acme/test_eab.py's).
    assert "External Account Binding" in refused.stdout + refused.stderr
    made = eab.create_key(acme_server.domain, comment="lego")
    result = run([*lego, "--eab", "--kid", made.key.key_id, "--hmac", made.hmac_key, "run"])
    assert result.returncode == 0, result.stdout + result.stderr
    got = tmp_path / "lego" / "certificates"
    openssl_verify(
        acme_server.root, got / "lego-eab.acme.test.issuer.crt", got / "lego-eab.acme.test.crt"
    )
    made.key.refresh_from_db()
    assert made.key.account is not None


def test_lego_issues_with_tls_alpn01(acme_server, tmp_path):
    result = run(
        [
            tool("lego"), "--server", acme_server.directory, "--email", "alpn@acme.test",
            "--accept-tos", "--domains", "alpn.acme.test", "--tls",
            "--tls.port", f"127.0.0.1:{acme_server.tls_port}", "--path", str(tmp_path / "lego"),
            "run",
        ]
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    got = tmp_path / "lego" / "certificates"
    openssl_verify(acme_server.root, got / "alpn.acme.test.issuer.crt", got / "alpn.acme.test.crt")
    challenge = AcmeChallenge.objects.get(
        authorization__identifier_value="alpn.acme.test", status="valid"
    )
    assert challenge.type == "tls-alpn-01"


def test_lego_issues_a_wildcard_with_dns01(acme_server, tmp_path):
    # lego's exec provider runs this script to publish the TXT record; the test DNS server
    # reads the file, and the worker asks that server (ANCHORAGE_ACME_DNS_RESOLVER).
    script = tmp_path / "publish.sh"
    records = acme_server.txt_records.records_file
    script.write_text(f'#!/bin/sh\n[ "$1" = present ] && echo "$2 $3" >> {records}\nexit 0\n')
    script.chmod(0o755)
    result = run(
        [
            tool("lego"), "--server", acme_server.directory, "--email", "dns@acme.test",
            "--accept-tos", "--domains", "*.lw.acme.test", "--dns", "exec",
            "--dns.disable-cp", "--path", str(tmp_path / "lego"), "run",
        ],
        env={"EXEC_PATH": str(script)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    got = tmp_path / "lego" / "certificates"
    openssl_verify(acme_server.root, got / "_.lw.acme.test.issuer.crt", got / "_.lw.acme.test.crt")
    challenge = AcmeChallenge.objects.get(authorization__identifier_value="*.lw.acme.test")
    assert (challenge.type, challenge.status) == ("dns-01", "valid")
