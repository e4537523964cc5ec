"""Demo devices for `manage.py bootstrap_demo` (domain `demo`), one per onboarding method the
console shows most: a PLC onboarding over CMP with its own shared secret, a sensor waiting
for EST, a gateway waiting for a browser link, a printer needing no onboarding.

Made through the enrollment services (audited, by the demo RA officer). Safe to run again:
what exists is left alone, so a second run writes nothing, not even audit events. The PLC's
secret is random and never shown: the demo's usable CMP secret is the shared `demo-cmp`."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from enrollment.cmp.models import CmpSecret
from enrollment.cmp.services import create_secret
from enrollment.models import Device
from enrollment.services import create_device
from pki.models import Domain

Onboarding = Device.Onboarding

# (name, serial number, onboarding method, description)
DEVICES: list[tuple[str, str, str, str]] = [
    ("plc-0001", "PLC-0001", Onboarding.CMP_SHARED_SECRET, "Line 1 PLC, onboards over CMP"),
    ("sensor-0001", "SN-0001", Onboarding.EST_CREDENTIAL, "Temperature sensor, EST"),
    ("gateway-0001", "GW-0001", Onboarding.BROWSER, "Field gateway, set up in a browser"),
    ("printer-0001", "PR-0001", Onboarding.NONE, "Office printer, application certs only"),
]


@transaction.atomic
def ensure_demo_devices(domain: Domain, manager: User) -> list[str]:
    """The demo devices, made once by `manager` (devices.manage); their names."""
    existing = {d.name: d for d in Device.objects.filter(domain=domain)}
    for name, serial, method, description in DEVICES:
        device = existing.get(name) or create_device(
            domain,
            manager,
            name=name,
            serial_number=serial,
            description=description,
            onboarding_method=method,
        )
        if method == Onboarding.CMP_SHARED_SECRET:
            mine = CmpSecret.objects.filter(Q(device=device) | Q(reference=name), domain=domain)
            if not mine.exists():
                # The value is discarded: shown once, to nobody (the demo prints demo-cmp's).
                create_secret(
                    domain,
                    manager,
                    reference=name,
                    device=device,
                    description=f"per-device secret of {name}",
                )
    return [name for name, *_ in DEVICES]
