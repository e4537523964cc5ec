"""Operator commands: create_local_pki, list_cas, issue_certificate, run_ceremony. Refusals
are CommandErrors with the reason; an RA officer cannot issue through a command either."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.roles import Role
from audit.models import AuditEvent
from pki.models import Ceremony, CertificateAuthority, IssuedCertificate
from tests.pki.helpers import assert_verifies, make_people


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- create_local_pki -------------------------------------------------------------------------


def test_create_local_pki(domain):
    out, _ = run("create_local_pki", "alpha", "--algorithm", "rsa-2048")
    assert "root CA alpha-root" in out and "issuing CA alpha-issuing" in out
    root = CertificateAuthority.objects.get(slug="alpha-root")
    issuing = CertificateAuthority.objects.get(slug="alpha-issuing")
    assert issuing.parent == root and root.key_algorithm == "rsa-2048"
    assert root.key_backend == "default"


def test_create_local_pki_refusals(domain, settings):
    with pytest.raises(CommandError, match="no domain 'nowhere'"):
        run("create_local_pki", "nowhere")
    with pytest.raises(CommandError, match="no key backend named 'hsm9'"):
        run("create_local_pki", "alpha", "--key-backend", "hsm9")
    assert not CertificateAuthority.objects.exists()
    settings.ANCHORAGE_LOCAL_PKI = False
    with pytest.raises(CommandError, match="ANCHORAGE_LOCAL_PKI"):
        run("create_local_pki", "alpha")
    settings.ANCHORAGE_LOCAL_PKI = True
    run("create_local_pki", "alpha")
    with pytest.raises(CommandError, match="already has CAs"):
        run("create_local_pki", "alpha")
    with pytest.raises(CommandError, match="invalid choice"):
        run("create_local_pki", "alpha", "--algorithm", "dsa-512")


# --- list_cas ---------------------------------------------------------------------------------


def test_list_cas(domain, other_domain):
    out, _ = run("list_cas")
    assert out.strip() == "no CAs"
    run("create_local_pki", "alpha")
    run("create_local_pki", "beta", "--algorithm", "ec-p384")
    out, _ = run("list_cas")
    lines = out.splitlines()
    assert lines[0].split() == [
        "slug",
        "domain",
        "kind",
        "status",
        "algorithm",
        "backend",
        "not_after",
    ]
    rows = [line.split() for line in lines[1:]]
    assert [r[:6] for r in rows] == [
        ["alpha-root", "alpha", "root", "active", "ec-p256", "default"],
        ["alpha-issuing", "alpha", "intermediate", "active", "ec-p256", "default"],
        ["beta-root", "beta", "root", "active", "ec-p384", "default"],
        ["beta-issuing", "beta", "intermediate", "active", "ec-p384", "default"],
    ]
    assert all(r[6].endswith("Z") for r in rows)
    out, _ = run("list_cas", "--domain", "beta")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["beta-root", "beta-issuing"]
    with pytest.raises(CommandError, match="no domain 'gamma'"):
        run("list_cas", "--domain", "gamma")


# --- issue_certificate ------------------------------------------------------------------------


@pytest.fixture
def ready(pki, domain, make_user, make_csr, tmp_path: Path):
    make_user("olga", Role.OPERATOR, domain)
    make_user("rita", Role.RA_OFFICER, domain)
    csr = tmp_path / "req.pem"
    csr.write_bytes(make_csr("www.alpha.test"))
    return csr


def _issue(csr: Path, user: str = "olga", *extra: str) -> tuple[str, str]:
    return run(
        "issue_certificate",
        "--domain",
        "alpha",
        "--profile",
        "tls-server",
        "--csr",
        str(csr),
        "--user",
        user,
        *extra,
    )


def test_issue_certificate_writes_a_chain_openssl_verifies(ready, pki, tmp_path: Path):
    root, issuing = pki
    out_file = tmp_path / "leaf.pem"
    out, err = _issue(ready, "olga", "--out", str(out_file))
    assert out == ""
    cert = IssuedCertificate.objects.get()
    assert f"issued: serial {cert.serial}" in err
    assert cert.requested_by is not None
    assert cert.requested_by.username == "olga" and cert.protocol == "api"
    assert cert.ca == issuing
    written = out_file.read_text()
    assert written.count("BEGIN CERTIFICATE") == 2  # leaf, issuing CA
    # as the file is: openssl verify checks the first certificate of the target, the leaf
    assert_verifies(
        tmp_path, trusted=[bytes(root.certificate)], untrusted=[written], target=written
    )
    event = AuditEvent.objects.get(action="ca.issue")
    assert event.actor is not None
    assert event.actor.username == "olga"
    assert event.details["via"] == "manage.py issue_certificate"


def test_issue_certificate_to_stdout_and_idempotent(ready):
    first, _ = _issue(ready, "olga", "--idempotency-key", "batch-1")
    again, err = _issue(ready, "olga", "--idempotency-key", "batch-1")
    assert first == again and first.startswith("-----BEGIN CERTIFICATE-----")
    assert "already issued under this idempotency key" in err
    assert IssuedCertificate.objects.count() == 1


def test_an_ra_officer_cannot_issue_through_the_command(ready):
    with pytest.raises(
        CommandError, match=r"refused: you do not hold certs\.issue in domain alpha"
    ):
        _issue(ready, "rita")
    assert not IssuedCertificate.objects.exists()


def test_issue_certificate_refusals(ready, make_csr, tmp_path: Path):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        _issue(ready, "nobody")
    with pytest.raises(CommandError, match="cannot read the CSR"):
        _issue(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a CSR")
    with pytest.raises(CommandError, match="refused: csr:"):
        _issue(garbage)
    outside = tmp_path / "outside.pem"
    outside.write_bytes(make_csr("www.example.com"))
    with pytest.raises(CommandError, match="outside the allowed suffixes"):
        _issue(outside)
    weak = tmp_path / "weak.pem"
    weak.write_bytes(make_csr(key="rsa1024"))
    with pytest.raises(CommandError, match="RSA-1024 is below the minimum"):
        _issue(weak)
    with pytest.raises(CommandError, match="no profile 'nope'"):
        run(
            "issue_certificate",
            "--domain",
            "alpha",
            "--profile",
            "nope",
            "--csr",
            str(ready),
            "--user",
            "olga",
        )
    _issue(ready, "olga", "--idempotency-key", "k")
    other = tmp_path / "other.pem"
    other.write_bytes(make_csr("other.alpha.test"))
    with pytest.raises(CommandError, match="different request"):
        _issue(other, "olga", "--idempotency-key", "k")
    assert IssuedCertificate.objects.count() == 1


def test_issue_certificate_through_a_profile_of_another_domain_is_refused(
    ready, other_domain, make_user
):
    make_user("oscar", Role.OPERATOR, other_domain)
    with pytest.raises(CommandError, match=r"certs\.issue in domain alpha"):
        _issue(ready, "oscar")


# --- run_ceremony -----------------------------------------------------------------------------


def test_run_ceremony(domain, make_user):
    people = make_people(make_user, domain)
    ceremony = people.start(Ceremony.Operation.CREATE_ROOT, {"slug": "alpha-cmd-root"})
    with pytest.raises(CommandError, match="has 0 of 2 custodian approvals"):
        run("run_ceremony", str(ceremony.pk))
    people.approve(ceremony, 1)
    with pytest.raises(CommandError, match="has 1 of 2 custodian approvals"):
        run("run_ceremony", str(ceremony.pk))
    assert not CertificateAuthority.objects.exists()
    people.approve(ceremony, 2)
    out, _ = run("run_ceremony", str(ceremony.pk))
    assert "done: ca alpha-cmd-root" in out
    assert CertificateAuthority.objects.get().ceremony_id == ceremony.pk
    with pytest.raises(CommandError, match="already run"):
        run("run_ceremony", str(ceremony.pk))
    with pytest.raises(CommandError, match="no ceremony #999999"):
        run("run_ceremony", "999999")
    assert CertificateAuthority.objects.count() == 1
