"""Onboarding over CMP with the real `openssl cmp`: re-onboarding a device revokes its
superseded domain credential; an ir under a domain-wide secret binds no device; the
protection certificate keeps its fixed contents whatever the ir profile says."""

from __future__ import annotations

import subprocess
from pathlib import Path

from audit.models import AuditEvent
from enrollment import services as devices
from enrollment.cmp import services
from enrollment.cmp.models import CmpProtectionKey
from enrollment.models import Device, DeviceCertificate
from pki.crypto import certs
from pki.models import IssuedCertificate, Revocation
from pki.services.default_profiles import specs
from pki.services.profiles import save_profile
from tests.enrollment.cmp.conftest import Cmp


def _ir(cmp: Cmp, reference: str, secret: str, name: str, subject: str) -> Path:
    out = cmp.dir / f"{name}.pem"
    done = cmp.run(
        "-cmd", "ir", *cmp.mac(reference, secret), "-newkey", cmp.key(name),
        "-subject", subject, "-trusted", cmp.root_pem, "-certout", out,
    )  # fmt: skip
    assert done.returncode == 0, done.output
    return out


def _issued(path: Path) -> IssuedCertificate:
    serial = certs.info(path.read_text()).serial
    return IssuedCertificate.objects.get(serial=certs.serial_hex(serial))


def test_a_second_ir_with_the_device_secret_supersedes_the_first_credential(cmp: Cmp) -> None:
    pump = devices.create_device(
        cmp.domain, None, name="pump-7", onboarding_method=Device.Onboarding.CMP_SHARED_SECRET
    )
    _, secret = services.create_secret(cmp.domain, None, reference="pump-7", device=pump)
    first = _issued(_ir(cmp, "pump-7", secret, "p1", "/CN=pump-7.alpha.test"))
    pump.refresh_from_db()
    assert pump.domain_credential == first and pump.onboarding_state == Device.State.ONBOARDED

    second = _issued(_ir(cmp, "pump-7", secret, "p2", "/CN=pump-7.alpha.test"))
    pump.refresh_from_db()
    first.refresh_from_db()
    assert pump.domain_credential == second
    assert first.status == IssuedCertificate.Status.REVOKED
    assert Revocation.objects.get(certificate=first).reason == "superseded"
    assert second.status == IssuedCertificate.Status.VALID
    event = AuditEvent.objects.filter(action="enrollment.device.onboarded").order_by("-pk")[0]
    assert event.details["superseded"] == first.serial
    assert AuditEvent.objects.filter(
        action="ca.certificate.revoked", details__serial=first.serial
    ).exists()


def test_an_ir_with_a_domain_wide_secret_is_linked_to_no_device(cmp: Cmp) -> None:
    # A device whose serial number the request names is NOT bound: a domain-wide secret
    # proves membership of the domain, not which device is asking.
    pump = devices.create_device(
        cmp.domain,
        None,
        name="pump-8",
        serial_number="SN-8",
        onboarding_method=Device.Onboarding.CMP_SHARED_SECRET,
    )
    got = _issued(_ir(cmp, cmp.reference, cmp.secret, "w", "/CN=w.alpha.test/serialNumber=SN-8"))
    link = DeviceCertificate.objects.get(certificate=got)
    assert link.device is None and link.operation == "cmp-ir" and link.domain == cmp.domain
    pump.refresh_from_db()
    assert pump.domain_credential is None and pump.onboarding_state == Device.State.PENDING
    assert Device.objects.count() == 1


def test_the_protection_certificate_does_not_follow_the_ir_profile(cmp: Cmp, enrolled) -> None:
    c1, k1 = enrolled("d1")
    # An RA officer tightens "device": SANs required, RSA only. The old protection CSR
    # (EC, no SAN) would now be refused, and every signed answer with it.
    description, spec = specs(["alpha.test"])["device"]
    save_profile(cmp.domain, "device", {**spec, "require_san": True, "key_types": ["rsa"]},
                 cmp.issuing, description=description)  # fmt: skip
    services.forget()
    done = cmp.run(
        "-cmd", "genm", "-infotype", "caCerts", "-cert", c1, "-key", k1,
        "-trusted", cmp.root_pem,
    )  # fmt: skip
    assert done.returncode == 0, done.output  # openssl validated our signed answer
    row = CmpProtectionKey.objects.get(domain=cmp.domain)
    assert row.ca == cmp.issuing and row.certificate is None
    pem_path = cmp.dir / "protection.pem"
    pem_path.write_text(certs.der_to_pem(bytes(row.der)))
    text = subprocess.run(
        ["openssl", "x509", "-in", str(pem_path), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Digital Signature" in text and "Key Encipherment" not in text
    assert "CMC Registration Authority" in text or "1.3.6.1.5.5.7.3.28" in text
    assert "TLS Web Client Authentication" not in text  # not the device profile's EKU
    assert AuditEvent.objects.filter(
        action="ca.system_certificate.issued", details__serial=row.serial
    ).exists()
