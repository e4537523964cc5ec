"""Who sent a CMP request (RFC 9483 §3.2, §3.3): a shared secret named by senderKID (MAC),
or a signer certificate from extraCerts that we issued in the domain (valid, not revoked),
or an IDevID that chains to the domain's deployed `provisioning` truststore."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from enrollment.cmp import services
from enrollment.cmp.models import CmpSecret
from enrollment.models import Device, DeviceCertificate
from pki.crypto import est
from pki.crypto.cmp import verify
from pki.crypto.cmp.message import Message
from pki.crypto.cmp.protection import MacSpec, ProtectionError
from pki.crypto.cmp.responses import MacKey, SigningKey
from pki.models import Domain, IssuedCertificate
from pki.selectors import issued_by_fingerprint
from truststores.services import deployed


class Refusal(Exception):
    """Answered with an error PKIMessage: `fail` are PKIFailureInfo bit names. `protected`
    False when the sender is not authenticated (the answer cannot be protected for it)."""

    def __init__(self, reason: str, *fail: str, protected: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fail = fail
        self.protected = protected


@dataclass(frozen=True)
class Sender:
    label: str  # "ref:<reference>", "cert:<serial>" or "idevid:<fingerprint>"
    secret: CmpSecret | None = None
    secret_value: bytes | None = None
    mac: MacSpec | None = None
    reference: bytes | None = None
    signer: verify.Signer | None = None
    certificate: IssuedCertificate | None = None  # the signer, when we issued it
    device: Device | None = None
    idevid: bool = False

    def protection(self, domain: Domain) -> MacKey | SigningKey:
        """How our answer is protected: the same MAC and secret (RFC 9483 §3.2), else our
        signature (§3.3)."""
        if self.secret_value is not None and self.mac is not None:
            return MacKey(self.secret_value, self.mac, self.reference)
        return services.protection_key(domain)


def authenticate(domain: Domain, message: Message) -> Sender:
    try:
        mac = verify.kind(message)
    except ProtectionError as exc:
        fail = "badMessageCheck" if message.protection is None else "badAlg"
        raise Refusal(f"protection: {exc}", fail, protected=False) from None
    if mac is not None:
        return _mac_sender(domain, message, mac)
    return _signature_sender(domain, message)


def _mac_sender(domain: Domain, message: Message, mac: MacSpec) -> Sender:
    reference = message.header.sender_kid
    row = services.find_secret(domain, reference)
    if row is None:
        raise Refusal(
            "no active CMP shared secret with this reference (senderKID) in this domain",
            "badMessageCheck",
            protected=False,
        )
    value = services.secret_value(row)
    try:
        ok = verify.mac_ok(message, value)
    except ProtectionError as exc:
        raise Refusal(f"protection: {exc}", "badAlg", protected=False) from None
    if not ok:
        raise Refusal("the MAC does not verify", "badMessageCheck", protected=False)
    return Sender(
        label=f"ref:{row.reference}",
        secret=row,
        secret_value=value,
        mac=mac,
        reference=reference,
        device=row.device,
    )


def _signature_sender(domain: Domain, message: Message) -> Sender:
    try:
        signer = verify.signer(message)
    except ProtectionError as exc:
        raise Refusal(f"protection: {exc}", "signerNotTrusted", protected=False) from None
    try:
        ok = verify.signature_ok(message, signer.der)
    except ProtectionError as exc:
        raise Refusal(f"protection: {exc}", "badAlg", protected=False) from None
    if not ok:
        raise Refusal("the signature does not verify", "badMessageCheck", protected=False)
    if message.header.sender_dn is not None and not verify.same_name(
        message.header.sender_dn, signer.subject_der
    ):
        raise Refusal(
            "the header's sender is not the signer certificate's subject",
            "badMessageCheck",
            protected=False,
        )
    kid = message.header.sender_kid
    if kid is not None and signer.key_id is not None and kid != signer.key_id:
        raise Refusal(
            "senderKID is not the signer's key identifier", "badMessageCheck", protected=False
        )
    now = timezone.now()
    issued = issued_by_fingerprint(domain.pk, signer.fingerprint)
    if issued is not None:
        if issued.status != IssuedCertificate.Status.VALID:
            raise Refusal("the signer certificate is revoked", "certRevoked", protected=False)
        if not issued.not_before <= now <= issued.not_after:
            raise Refusal(
                "the signer certificate is not valid now", "signerNotTrusted", protected=False
            )
        return Sender(
            label=f"cert:{issued.serial}",
            signer=signer,
            certificate=issued,
            device=_device_of(issued),
        )
    truststore = deployed(domain, "provisioning")
    if truststore is not None and est.chains_to(signer.der, truststore.bundle.encode(), now):
        return Sender(label=f"idevid:{signer.fingerprint[:40]}", signer=signer, idevid=True)
    raise Refusal(
        "the signer certificate was not issued in this domain and does not chain to its "
        "provisioning (IDevID) truststore",
        "signerNotTrusted",
        protected=False,
    )


def _device_of(cert: IssuedCertificate) -> Device | None:
    link = DeviceCertificate.objects.select_related("device").filter(certificate=cert).first()
    if link is not None and link.device is not None:
        return link.device
    return Device.objects.filter(domain_credential=cert).first()
