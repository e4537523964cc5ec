"""The real `openssl cmp` (3.0) against a live server: enrollment with a shared secret,
then cr / kur signed with the certificate, p10cr, rr, genm, and refusals each with their
failInfo."""

from __future__ import annotations

import subprocess
from pathlib import Path

from accounts.roles import Role
from enrollment import onboarding
from enrollment.cmp.models import CmpTransaction
from enrollment.models import Device
from pki.crypto.pkcs import pem
from pki.models import IssuedCertificate, Revocation
from pki.services import crls
from tests.enrollment.cmp.conftest import Cmp
from tests.pki.helpers import openssl_verify
from tests.pki.ocsp_helpers import Leaf, openssl_ocsp

OUTSIDE = "/CN=x.elsewhere.test"


def verify(cmp: Cmp, cert) -> None:
    done = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(cmp.root_pem),
            "-untrusted",
            str(cmp.issuing_pem),
            str(cert),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and ": OK" in done.stdout, done.stdout + done.stderr


def test_ir_with_a_shared_secret_then_cr_kur_and_rr_signed_with_the_certificate(
    cmp: Cmp, enrolled
) -> None:
    c1, k1 = enrolled("d1")
    verify(cmp, c1)
    tx = CmpTransaction.objects.get(operation="ir")
    assert tx.state == CmpTransaction.State.CONFIRMED  # certConf answered with pkiConf

    k2, c2 = cmp.key("d2"), cmp.dir / "c2.pem"
    done = cmp.run(
        "-cmd",
        "cr",
        "-cert",
        c1,
        "-key",
        k1,
        "-newkey",
        k2,
        "-subject",
        "/CN=d2.alpha.test",
        "-sans",
        "d2.alpha.test",
        "-trusted",
        cmp.root_pem,
        "-certout",
        c2,
    )
    assert done.returncode == 0, done.output  # our signed answer validated against the root
    verify(cmp, c2)

    k3, c3 = cmp.key("d3"), cmp.dir / "c3.pem"
    done = cmp.run(
        "-cmd",
        "kur",
        "-cert",
        c1,
        "-key",
        k1,
        "-newkey",
        k3,
        "-trusted",
        cmp.root_pem,
        "-certout",
        c3,
    )
    assert done.returncode == 0, done.output
    verify(cmp, c3)
    kur = IssuedCertificate.objects.get(requester__contains="cmp:cert:", subject__contains="d1")
    assert kur.protocol == "cmp"

    done = cmp.run(
        "-cmd",
        "rr",
        "-oldcert",
        c2,
        "-cert",
        c2,
        "-key",
        k2,
        "-trusted",
        cmp.root_pem,
        "-revreason",
        "1",
    )
    assert done.returncode == 0, done.output
    revoked = IssuedCertificate.objects.get(subject__contains="d2.alpha.test")
    assert revoked.status == IssuedCertificate.Status.REVOKED
    assert Revocation.objects.get(certificate=revoked).reason == "keyCompromise"
    # Then signing with the revoked certificate is refused.
    done = cmp.run(
        "-cmd",
        "cr",
        "-cert",
        c2,
        "-key",
        k2,
        "-newkey",
        cmp.key("d4"),
        "-subject",
        "/CN=d4.alpha.test",
        "-trusted",
        cmp.root_pem,
    )
    assert done.returncode != 0 and "certRevoked" in done.output


def test_p10cr_with_a_csr(cmp: Cmp) -> None:
    key, csr, out = cmp.key("p10"), cmp.dir / "p10.csr", cmp.dir / "p10.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-key",
            str(key),
            "-subj",
            "/CN=p10.alpha.test",
            "-out",
            str(csr),
        ],
        check=True,
        capture_output=True,
    )
    done = cmp.run("-cmd", "p10cr", "-csr", csr, *cmp.mac(), "-certout", out)
    assert done.returncode == 0, done.output
    verify(cmp, out)


def test_genm_ca_certs(cmp: Cmp) -> None:
    done = cmp.run("-cmd", "genm", "-infotype", "caCerts", *cmp.mac())
    assert done.returncode == 0, done.output
    assert "id-it-caCerts" in done.output


def test_a_wrong_secret_is_refused_with_bad_message_check(cmp: Cmp) -> None:
    done = cmp.run(
        "-cmd",
        "ir",
        *cmp.mac(secret="wrong" + cmp.secret),
        "-newkey",
        cmp.key("w"),
        "-subject",
        "/CN=w.alpha.test",
    )
    assert done.returncode != 0
    assert "rejection" in done.output and "badMessageCheck" in done.output
    assert not IssuedCertificate.objects.filter(subject__contains="w.alpha").exists()


def test_another_domains_secret_is_refused(cmp: Cmp, other_domain) -> None:
    from enrollment.cmp import services

    _, secret = services.create_secret(other_domain, None, reference="beta-ref")
    done = cmp.run(
        "-cmd",
        "ir",
        *cmp.mac("beta-ref", secret),
        "-newkey",
        cmp.key("b"),
        "-subject",
        "/CN=b.alpha.test",
    )
    assert done.returncode != 0 and "badMessageCheck" in done.output


def test_a_signer_from_another_ca_is_not_trusted(cmp: Cmp) -> None:
    ca, ca_key = _manufacturer_ca(cmp, "rogue")
    cert, key = _idevid(cmp, ca, ca_key, "R-1", "rogue")
    done = cmp.run(
        "-cmd",
        "cr",
        "-cert",
        cert,
        "-key",
        key,
        "-newkey",
        cmp.key("r2"),
        "-subject",
        "/CN=r.alpha.test",
        "-trusted",
        cmp.root_pem,
    )
    assert done.returncode != 0 and "signerNotTrusted" in done.output
    assert not IssuedCertificate.objects.exists()


def test_a_replayed_request_gets_an_error_not_a_second_certificate(cmp: Cmp) -> None:
    key, saved = cmp.key("rp"), cmp.dir / "ir.der"
    args: list[str | Path] = [
        "-cmd",
        "ir",
        *cmp.mac(),
        "-newkey",
        key,
        "-subject",
        "/CN=rp.alpha.test",
        "-implicit_confirm",
    ]
    first = cmp.run(*args, "-reqout", saved, "-certout", cmp.dir / "rp.pem")
    assert first.returncode == 0, first.output
    again = cmp.run(*args, "-reqin", saved, "-certout", cmp.dir / "rp2.pem")
    assert again.returncode != 0 and "badSenderNonce" in again.output
    assert IssuedCertificate.objects.count() == 1


def test_a_disabled_operation_answers_not_authorized(cmp: Cmp, enrolled, make_user) -> None:
    c1, k1 = enrolled("d1")
    officer = make_user("ra", Role.RA_OFFICER, cmp.domain)
    allowed = [o for o in onboarding.config(cmp.domain).allowed_operations if o != "cmp.cr"]
    onboarding.update_config(officer, cmp.domain, allowed_operations=allowed)
    done = cmp.run(
        "-cmd",
        "cr",
        "-cert",
        c1,
        "-key",
        k1,
        "-newkey",
        cmp.key("d5"),
        "-subject",
        "/CN=d5.alpha.test",
        "-trusted",
        cmp.root_pem,
    )
    assert done.returncode != 0 and "notAuthorized" in done.output
    assert "cr is not allowed" in done.output


def test_a_template_the_profile_refuses_gets_bad_cert_template(cmp: Cmp) -> None:
    done = cmp.run(
        "-cmd",
        "ir",
        *cmp.mac(),
        "-newkey",
        cmp.key("o"),
        "-subject",
        OUTSIDE,
        "-sans",
        "x.elsewhere.test",
    )
    assert done.returncode != 0 and "badCertTemplate" in done.output
    assert "outside the allowed suffixes" in done.output
    assert CmpTransaction.objects.get().state == CmpTransaction.State.FAILED


def _manufacturer_ca(cmp: Cmp, name: str) -> tuple:
    ca_key, ca = cmp.key(f"{name}-ca"), cmp.dir / f"{name}-ca.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-key",
            str(ca_key),
            "-subj",
            f"/CN={name} CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-out",
            str(ca),
        ],
        check=True,
        capture_output=True,
    )
    return ca, ca_key


def _idevid(cmp: Cmp, ca, ca_key, serial: str, name: str) -> tuple:
    """A device certificate of the manufacturer CA with subject serialNumber `serial`."""
    d = cmp.dir
    key, csr, cert = cmp.key(f"{name}-{serial}"), d / f"{serial}.csr", d / f"{serial}.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-key",
            str(key),
            "-subj",
            f"/CN=device/serialNumber={serial}",
            "-out",
            str(csr),
        ],
        check=True,
        capture_output=True,
    )
    ext = d / "ext.cnf"
    ext.write_text("subjectKeyIdentifier=hash\nkeyUsage=critical,digitalSignature\n")
    subprocess.run(
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _manufacturer(cmp: Cmp, serial: str, name: str = "vendor") -> tuple:
    ca, ca_key = _manufacturer_ca(cmp, name)
    return (ca, *_idevid(cmp, ca, ca_key, serial, name))


def _deploy_provisioning(cmp: Cmp, bundle: bytes, make_user) -> None:
    from django.utils import timezone

    from truststores import services as truststores
    from truststores.models import TruststoreRequest

    request = truststores.submit(
        cmp.domain,
        make_user("sam", Role.RA_OFFICER, cmp.domain),
        name="vendor",
        truststore_type="provisioning",
        bundle=bundle,
    )
    TruststoreRequest.objects.filter(pk=request.pk).update(
        state=TruststoreRequest.State.READY, ready_at=timezone.now()
    )


def test_an_idevid_from_the_provisioning_truststore_onboards(cmp: Cmp, make_user) -> None:
    ca, idevid, key = _manufacturer(cmp, "SN-1001")
    _deploy_provisioning(cmp, ca.read_bytes(), make_user)
    officer = make_user("ra", Role.RA_OFFICER, cmp.domain)
    onboarding.update_config(
        officer, cmp.domain, idevid_enabled=True, idevid_serial_patterns=[r"SN-\d+"]
    )
    out = cmp.dir / "ldevid.pem"
    done = cmp.run(
        "-cmd",
        "ir",
        "-cert",
        idevid,
        "-key",
        key,
        "-newkey",
        cmp.key("ld"),
        "-subject",
        "/CN=sn-1001.alpha.test",
        "-trusted",
        cmp.root_pem,
        "-certout",
        out,
    )
    assert done.returncode == 0, done.output
    verify(cmp, out)
    device = Device.objects.get(serial_number="SN-1001")
    assert device.onboarding_method == Device.Onboarding.IDEVID
    assert device.onboarding_state == Device.State.ONBOARDED
    assert device.domain_credential is not None and device.domain_credential.subject.startswith(
        "CN=sn-1001"
    )

    # A serial number outside the patterns is refused, registering nothing.
    other, other_key = _idevid(cmp, ca, cmp.dir / "vendor-ca.key", "XX-1", "vendor")
    done = cmp.run(
        "-cmd",
        "ir",
        "-cert",
        other,
        "-key",
        other_key,
        "-newkey",
        cmp.key("x"),
        "-subject",
        "/CN=xx.alpha.test",
        "-trusted",
        cmp.root_pem,
    )
    assert done.returncode != 0 and "notAuthorized" in done.output


def test_an_idevid_outside_the_truststore_is_refused(cmp: Cmp, make_user) -> None:
    ca, _, _ = _manufacturer(cmp, "SN-1", name="trusted")
    _deploy_provisioning(cmp, ca.read_bytes(), make_user)
    onboarding.update_config(
        make_user("ra", Role.RA_OFFICER, cmp.domain),
        cmp.domain,
        idevid_enabled=True,
        idevid_serial_patterns=[r"SN-\d+"],
    )
    _, idevid, key = _manufacturer(cmp, "SN-2", name="unknown")
    done = cmp.run(
        "-cmd",
        "ir",
        "-cert",
        idevid,
        "-key",
        key,
        "-newkey",
        cmp.key("u"),
        "-subject",
        "/CN=u.alpha.test",
        "-trusted",
        cmp.root_pem,
    )
    assert done.returncode != 0 and "signerNotTrusted" in done.output
    assert not Device.objects.filter(serial_number="SN-2").exists()
    assert not IssuedCertificate.objects.filter(subject__contains="u.alpha").exists()


def _verify_with_crl(cmp: Cmp, cert: Path, crl_der: bytes) -> subprocess.CompletedProcess[str]:
    """`openssl verify -crl_check` of `cert` with a CRL we published."""
    crl_pem = cmp.dir / "issuing-crl.pem"
    crl_pem.write_text(pem("X509 CRL", crl_der))
    return openssl_verify(
        cmp.dir,
        trusted=[cmp.root_pem.read_text()],
        untrusted=[cmp.issuing_pem.read_text()],
        target=cert.read_text(),
        extra=("-crl_check", "-CRLfile", str(crl_pem)),
    )


def test_rr_is_seen_by_openssl_ocsp_and_in_a_fresh_crl(cmp: Cmp, enrolled) -> None:
    c1, k1 = enrolled("d1")
    cert = IssuedCertificate.objects.get(subject__contains="d1.alpha.test")
    cafile = cmp.dir / "trust.pem"
    cafile.write_text(cmp.root_pem.read_text() + cmp.issuing_pem.read_text())
    leaf = Leaf(cert, c1, cmp.issuing_pem, cafile)
    ocsp_url = f"http://{cmp.url}/ocsp/{cmp.issuing.slug}/"
    before = openssl_ocsp(leaf, ocsp_url)
    assert before.status == "good" and before.verified, before.stdout + before.stderr
    ok = _verify_with_crl(cmp, c1, bytes(crls.publish(cmp.issuing.pk)[0].der))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    done = cmp.run(
        "-cmd", "rr", "-oldcert", c1, "-cert", c1, "-key", k1, "-trusted", cmp.root_pem,
        "-revreason", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.output

    after = openssl_ocsp(leaf, ocsp_url)  # the live server's /ocsp/<ca>/
    assert after.status == "revoked" and after.verified, after.stdout + after.stderr
    assert "Reason: keyCompromise" in after.stdout
    complete = crls.publish(cmp.issuing.pk)[0]  # what the debounced task would publish
    refused = _verify_with_crl(cmp, c1, bytes(complete.der))
    assert refused.returncode != 0, refused.stdout
    assert "certificate revoked" in refused.stdout + refused.stderr
