"""The onboarding foundation: per-domain allowed operations (EST honours them), IDevID
registration by serial-number pattern, and recording a device's domain credential."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEvent
from config.errors import Forbidden
from enrollment import onboarding
from enrollment.models import Device, OnboardingConfig
from enrollment.models.onboarding import ALL_OPERATIONS
from enrollment.onboarding import OnboardingRefused
from pki.models import IssuedCertificate
from tests.enrollment.conftest import Cred, certs_of, make_csr, post

E = "/.well-known/est/alpha"
pytestmark = pytest.mark.django_db


def test_everything_is_allowed_until_the_ra_officer_narrows_it(domain, make_user) -> None:
    assert not onboarding.operation_allowed(domain, "cmp", "ir")  # CMP is off in the domain
    domain.enabled_protocols = ["api", "est", "cmp"]
    domain.save()
    assert onboarding.operation_allowed(domain, "cmp", "ir")
    assert not onboarding.operation_allowed(domain, "cmp", "nonsense")
    assert not onboarding.operation_allowed(domain, "smtp", "ir")
    officer = make_user("ra", Role.RA_OFFICER, domain)
    onboarding.update_config(officer, domain, allowed_operations=["est.cacerts", "cmp.genm"])
    assert not onboarding.operation_allowed(domain, "cmp", "ir")
    assert onboarding.operation_allowed(domain, "cmp", "genm")
    domain.enabled_protocols = ["api", "est"]
    domain.save()
    assert not onboarding.operation_allowed(domain, "cmp", "genm")  # the protocol is off
    event = AuditEvent.objects.get(action="enrollment.onboarding.configured")
    assert event.details["after"]["allowed_operations"] == ["cmp.genm", "est.cacerts"]


def test_only_device_managers_configure_and_bad_values_change_nothing(
    domain, other_domain, make_user
) -> None:
    approver = make_user("ap", Role.APPROVER, domain)
    with pytest.raises(Forbidden):
        onboarding.update_config(approver, domain, allowed_operations=[])
    foreign = make_user("ra2", Role.RA_OFFICER, other_domain)
    with pytest.raises(Forbidden):
        onboarding.update_config(foreign, domain, allowed_operations=[])
    officer = make_user("ra", Role.RA_OFFICER, domain)
    with pytest.raises(ValidationError, match=r"unknown operations: cmp\.teleport"):
        onboarding.update_config(officer, domain, allowed_operations=["cmp.teleport"])
    with pytest.raises(ValidationError, match="not a regular expression"):
        onboarding.update_config(
            officer, domain, idevid_enabled=True, idevid_serial_patterns=["SN-("]
        )
    assert not OnboardingConfig.objects.filter(domain=domain, idevid_enabled=True).exists()
    assert not AuditEvent.objects.filter(action="enrollment.onboarding.configured").exists()


def test_a_disallowed_est_operation_is_403(est_client: Client, domain, cred: Cred, make_user):
    officer = make_user("ra", Role.RA_OFFICER, domain)
    allowed = [op for op in ALL_OPERATIONS if op != "est.simpleenroll"]
    onboarding.update_config(officer, domain, allowed_operations=allowed)
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic)
    assert response.status_code == 403
    assert b"EST simpleenroll is not allowed in domain alpha" in response.content
    assert not IssuedCertificate.objects.exists()
    assert est_client.get(f"{E}/cacerts").status_code == 200


def test_idevid_registration_follows_the_patterns(domain, make_user) -> None:
    with pytest.raises(OnboardingRefused, match="IDevID onboarding is off"):
        onboarding.register_idevid_device(domain, "SN-0001", "CN=dev")
    officer = make_user("ra", Role.RA_OFFICER, domain)
    onboarding.update_config(
        officer, domain, idevid_enabled=True, idevid_serial_patterns=[r"SN-\d{4}"]
    )
    with pytest.raises(OnboardingRefused, match="matches none"):
        onboarding.register_idevid_device(domain, "SN-00012", "CN=dev")  # full match only
    with pytest.raises(OnboardingRefused, match="no serialNumber"):
        onboarding.register_idevid_device(domain, "", "CN=dev")
    device = onboarding.register_idevid_device(domain, "SN-0001", "CN=dev")
    assert device.onboarding_method == Device.Onboarding.IDEVID
    assert device.onboarding_state == Device.State.PENDING
    assert onboarding.register_idevid_device(domain, "SN-0001", "CN=dev") == device
    assert Device.objects.filter(domain=domain).count() == 1
    assert AuditEvent.objects.filter(action="enrollment.device.registered").count() == 1


def test_recording_a_domain_credential_onboards_the_device(
    est_client: Client, domain, cred: Cred
) -> None:
    response = post(est_client, f"{E}/simpleenroll", make_csr().b64, cred.basic)
    [cert] = certs_of(response.content)
    issued = IssuedCertificate.objects.get(serial=f"{cert.serial_number:X}".rjust(2, "0"))
    device = Device.objects.create(domain=domain, name="d1")
    assert device.onboarding_state == Device.State.NOT_REQUIRED
    with pytest.raises(ValidationError):
        onboarding.record_domain_credential(device, issued, Device.Onboarding.NONE)
    onboarding.record_domain_credential(device, issued, Device.Onboarding.EST_CREDENTIAL)
    device.refresh_from_db()
    assert device.domain_credential == issued
    assert device.onboarding_state == Device.State.ONBOARDED
    assert device.onboarded_at is not None
    event = AuditEvent.objects.get(action="enrollment.device.onboarded")
    assert event.details == {
        "method": "est_credential",
        "serial": issued.serial,
        "superseded": None,
    }
