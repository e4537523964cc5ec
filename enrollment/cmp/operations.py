"""What each CMP request does once its sender is known (RFC 9483 §4): certificate requests
(ir / cr / kur / p10cr) through pki.services.issuance.issue(), certConf, rr through
pki.services.revocation, genm. Each returns the response body to encode, or raises Refusal."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from config.errors import Conflict, Forbidden, Unavailable, reason_of
from enrollment import onboarding
from enrollment.cmp import services
from enrollment.cmp.auth import Refusal, Sender
from enrollment.cmp.models import CmpTransaction
from enrollment.models import Device, DeviceCertificate
from pki.crypto import certs
from pki.crypto.cmp import asn1, requests, responses, verify
from pki.crypto.cmp.message import Message
from pki.models import CertificateAuthority, Domain, IssuedCertificate, Protocol
from pki.services import cas, profiles
from pki.services.cas import CaUnavailable
from pki.services.issuance import IssueRequest, ProfileDenied, issue
from pki.services.revocation import revoke

CMP = Protocol.CMP.value
ENROLL = {"ir": "ip", "cr": "cp", "kur": "kup", "p10cr": "cp"}


@dataclass
class Outcome:
    """A successful answer: its body, and what the header adds."""

    body: str
    value: object = None
    certified: list[responses.Certified] = field(default_factory=list)
    ca_pubs: list[bytes] = field(default_factory=list)
    extra_certs: list[bytes] = field(default_factory=list)
    implicit_confirm: bool = False
    transaction: CmpTransaction | None = None


def require_allowed(domain: Domain, operation: str) -> None:
    if not onboarding.operation_allowed(domain, CMP, operation):
        raise Refusal(f"CMP {operation} is not allowed in domain {domain.slug}", "notAuthorized")


def refused(domain: Domain, sender: Sender | None, operation: str, refusal: Refusal) -> None:
    with transaction.atomic():
        record(
            "cmp.refused",
            domain=domain,
            object_type="cmp",
            details={
                "operation": operation,
                "requester": sender.label if sender else "",
                "reason": refusal.reason[:500],
                "fail_info": list(refusal.fail),
            },
        )


# --- ir / cr / kur / p10cr ---------------------------------------------------------------


def enroll(domain: Domain, message: Message, sender: Sender) -> Outcome:
    operation = message.body_type
    require_allowed(domain, operation)
    try:
        wanted = requests.cert_requests(message)
    except requests.RequestError as exc:
        raise Refusal(str(exc), exc.fail) from None
    if len(wanted) != 1:
        raise Refusal("one certificate request per message (RFC 9483 §4.1.1)", "badRequest")
    request = wanted[0]
    old = _authorize(domain, operation, sender, request)
    sender = idevid_gate(domain, sender)
    profile = _profile(domain, operation, message, old)
    tx = _open(domain, message, sender, request)
    key = f"cmp:{domain.pk}:{tx.transaction_id}:{request.cert_req_id}"
    try:
        issued = issue(
            IssueRequest(
                domain=domain,
                profile=profile,
                csr=request.csr,
                protocol=CMP,
                requester=_requester(sender),
                idempotency_key=key,
                extra={"cmp_operation": operation, "transaction_id": tx.transaction_id},
            )
        )
    except ProfileDenied as exc:
        raise _failed(
            tx, Refusal(f"profile {profile}: {'; '.join(exc.reasons)}", "badCertTemplate")
        ) from None
    except ValidationError as exc:
        raise _failed(tx, Refusal(reason_of(exc), "badCertTemplate")) from None
    except Forbidden as exc:
        raise _failed(tx, Refusal(str(exc), "notAuthorized")) from None
    except Conflict as exc:
        raise _failed(tx, Refusal(exc.detail, "transactionIdInUse")) from None
    except (Unavailable, CaUnavailable) as exc:
        raise _failed(tx, Refusal(str(exc), "systemUnavail")) from None
    cert = issued.certificate
    device = _link(domain, sender, operation, cert, issued.created)
    implicit = (
        message.header.implicit_confirm and services.cmp_config(domain).allow_implicit_confirm
    )
    now = timezone.now()
    tx.certificate, tx.device, tx.cert_req_id = cert, device, request.cert_req_id
    tx.state = CmpTransaction.State.CONFIRMED if implicit else CmpTransaction.State.WAITING
    tx.ended_at = now if implicit else None
    tx.confirm_by = (
        None if implicit else now + timedelta(seconds=settings.ANCHORAGE_CMP_CONFIRM_SECONDS)
    )
    tx.save(
        update_fields=["certificate", "device", "cert_req_id", "state", "ended_at", "confirm_by"]
    )
    # RFC 9483 §4.1.1: caPubs may carry the root for an ir answered under a MAC.
    ca_pubs = [cas.root_of(cert.ca)] if operation == "ir" and sender.mac is not None else []
    return Outcome(
        ENROLL[operation],
        certified=[responses.Certified(request.cert_req_id, responses.Status(), bytes(cert.der))],
        ca_pubs=ca_pubs,
        extra_certs=issued.chain,
        implicit_confirm=bool(implicit),
        transaction=tx,
    )


def _authorize(
    domain: Domain, operation: str, sender: Sender, request: requests.CertRequest
) -> IssuedCertificate | None:
    """Who may ask what (RFC 9483 §4.1): ir with a shared secret or an IDevID; cr and
    p10cr with a shared secret or a certificate of ours; kur signed by the certificate it
    updates (§4.1.3). Returns the certificate a kur replaces."""
    if sender.idevid and operation != "ir":
        raise Refusal("an IDevID onboards with ir; then use the domain credential", "notAuthorized")
    if operation == "ir" and sender.certificate is not None:
        raise Refusal("a device holding a certificate of ours asks with cr or kur", "notAuthorized")
    if operation != "kur":
        return None
    if sender.certificate is None:
        raise Refusal(
            "kur must be signed by the certificate it updates (RFC 9483 §4.1.3)", "notAuthorized"
        )
    old = sender.certificate
    if request.old_cert_serial is None:  # RFC 9483 §4.1.3: controls with oldCertID REQUIRED
        raise Refusal("kur must name the certificate it updates in oldCertID", "badRequest")
    issuer, _ = verify.issuer_and_serial(bytes(old.der))
    if certs.serial_hex(request.old_cert_serial) != old.serial or not verify.same_name(
        request.old_cert_issuer, issuer
    ):
        raise Refusal(
            "oldCertID (issuer and serial) does not name the certificate that signed the request",
            "badCertId",
        )
    return old


def _profile(
    domain: Domain, operation: str, message: Message, old: IssuedCertificate | None
) -> str:
    wanted = message.header.cert_profile
    if wanted:
        if profiles.current_by_name(domain, wanted) is None:
            raise Refusal(f"domain {domain.slug} has no profile {wanted!r}", "badCertTemplate")
        return wanted
    name = services.cmp_config(domain).profile_for(operation)
    if not name and old is not None:
        return old.profile_version.profile.name
    return name or services.cmp_config(domain).ir_profile


def _open(
    domain: Domain, message: Message, sender: Sender, request: requests.CertRequest
) -> CmpTransaction:
    """The transaction row, claimed before anything is issued: a transactionID held by
    another live transaction is refused (transactionIdInUse); the same sender retrying the
    same request goes on (issue() then answers with the same certificate)."""
    assert message.header.transaction_id is not None
    tx_id = message.header.transaction_id.hex()
    fingerprint = hashlib.sha256(request.csr.der).hexdigest()
    try:
        with transaction.atomic():
            return CmpTransaction.objects.create(
                domain=domain,
                transaction_id=tx_id,
                operation=message.body_type,
                sender=sender.label[:200],
                fingerprint=fingerprint,
                secret=sender.secret,
                device=sender.device,
            )
    except IntegrityError:
        pass
    found = CmpTransaction.objects.filter(domain=domain, transaction_id=tx_id).first()
    same = (
        found is not None
        and found.sender == sender.label[:200]
        and found.fingerprint == fingerprint
        and found.operation == message.body_type
        and found.state in (CmpTransaction.State.WAITING, CmpTransaction.State.CONFIRMED)
    )
    if not same or found is None:
        raise Refusal("this transactionID is in use by another transaction", "transactionIdInUse")
    return found


def _failed(tx: CmpTransaction, refusal: Refusal) -> Refusal:
    if tx.certificate_id is None:
        CmpTransaction.objects.filter(pk=tx.pk).update(
            state=CmpTransaction.State.FAILED, ended_at=timezone.now()
        )
    return refusal


def _requester(sender: Sender) -> str:
    device = sender.device
    return f"cmp:{sender.label} device:{device.name}"[:200] if device else f"cmp:{sender.label}"


def _link(
    domain: Domain, sender: Sender, operation: str, cert: IssuedCertificate, created: bool
) -> Device | None:
    """Which device got what (as EST does), and its onboarding: an ir by a shared secret or
    an IDevID issues the device's domain credential."""
    device = sender.device
    method = None
    if operation == "ir" and sender.idevid:
        method = Device.Onboarding.IDEVID  # registered by idevid_gate before issuance
    elif operation == "ir" and sender.secret is not None and device is not None:
        method = Device.Onboarding.CMP_SHARED_SECRET
    link = {"domain": domain, "device": device, "credential": None, "operation": f"cmp-{operation}"}
    if created:
        try:
            with transaction.atomic():
                DeviceCertificate.objects.create(certificate=cert, **link)
        except IntegrityError:
            pass
    else:
        DeviceCertificate.objects.get_or_create(certificate=cert, defaults=link)
    if device is not None and method is not None and device.domain_credential_id != cert.pk:
        onboarding.record_domain_credential(device, cert, method)
    return device


def idevid_gate(domain: Domain, sender: Sender) -> Sender:
    """An IDevID's device registered (or refused) BEFORE anything is issued."""
    if not sender.idevid or sender.signer is None:
        return sender
    try:
        device = onboarding.register_idevid_device(
            domain, sender.signer.serial_number, sender.signer.subject_text
        )
    except onboarding.OnboardingRefused as exc:
        raise Refusal(str(exc), "notAuthorized") from None
    return Sender(label=sender.label, signer=sender.signer, idevid=True, device=device)


# --- certConf -----------------------------------------------------------------------------


def confirm(domain: Domain, message: Message, sender: Sender) -> Outcome:
    header = message.header
    assert header.transaction_id is not None
    tx = (
        CmpTransaction.objects.select_related("certificate")
        .filter(domain=domain, transaction_id=header.transaction_id.hex())
        .first()
    )
    if tx is None or tx.certificate is None or tx.sender != sender.label[:200]:
        raise Refusal(
            "no certificate of this sender waits for confirmation in this transaction", "badRequest"
        )
    if bytes(tx.response_nonce) != (header.recip_nonce or b""):
        raise Refusal("recipNonce is not the senderNonce of our answer", "badRecipientNonce")
    if tx.state == CmpTransaction.State.CONFIRMED:
        raise Refusal("the certificate was confirmed already", "certConfirmed")
    if tx.state != CmpTransaction.State.WAITING:
        raise Refusal(f"the transaction is {tx.get_state_display()}", "badRequest")
    cert = tx.certificate
    if tx.confirm_by is not None and timezone.now() > tx.confirm_by:
        expire(tx)
        raise Refusal("the confirmation came too late: the certificate was revoked", "certRevoked")
    confirmations = requests.confirmations(message)
    if len(confirmations) != 1 or confirmations[0].cert_req_id != tx.cert_req_id:
        raise Refusal("certConf must confirm the one certificate of the transaction", "badCertId")
    item = confirmations[0]
    if item.hash_alg is not None and header.pvno < 3:
        raise Refusal("hashAlg in certConf needs pvno 3 (cmp2021, RFC 9480 §2.10)", "badRequest")
    try:
        expected = requests.cert_hash(bytes(cert.der), item.hash_alg)
    except requests.RequestError as exc:
        raise Refusal(str(exc), exc.fail) from None
    if item.cert_hash != expected:
        raise Refusal("certHash is not the hash of the certificate issued", "badCertId")
    with transaction.atomic():
        if item.accepted:
            tx.state = CmpTransaction.State.CONFIRMED
        else:  # RFC 9483 §4.1.1: a certificate the end entity rejects is revoked
            tx.state = CmpTransaction.State.REJECTED
            revoke(
                cert, "cessationOfOperation", requester=f"cmp:{sender.label} (certConf rejection)"
            )
        tx.ended_at = timezone.now()
        tx.save(update_fields=["state", "ended_at"])
        record(
            "cmp.confirmed" if item.accepted else "cmp.rejected",
            domain=domain,
            obj=cert,
            details={
                "serial": cert.serial,
                "transaction_id": tx.transaction_id,
                "reason": item.reason,
            },
        )
    return Outcome("pkiconf", transaction=None)


def expire(tx: CmpTransaction) -> None:
    """An unconfirmed certificate past its grace period is revoked (RFC 9483 §4.1.1)."""
    with transaction.atomic():
        locked = CmpTransaction.objects.select_for_update().get(pk=tx.pk)
        if locked.state != CmpTransaction.State.WAITING or locked.certificate is None:
            return
        revoke(locked.certificate, "cessationOfOperation", requester="cmp: not confirmed in time")
        locked.state = CmpTransaction.State.EXPIRED
        locked.ended_at = timezone.now()
        locked.save(update_fields=["state", "ended_at"])


def expire_due(limit: int = 200) -> int:
    due = list(
        CmpTransaction.objects.filter(
            state=CmpTransaction.State.WAITING, confirm_by__lt=timezone.now()
        ).order_by("confirm_by")[:limit]
    )
    for tx in due:
        expire(tx)
    return len(due)


# --- rr -----------------------------------------------------------------------------------


def revoke_request(domain: Domain, message: Message, sender: Sender) -> Outcome:
    require_allowed(domain, "rr")
    try:
        wanted = requests.revocation_requests(message)[0]
    except requests.RequestError as exc:
        raise Refusal(str(exc), exc.fail) from None
    cert = IssuedCertificate.objects.filter(
        domain=domain, serial=certs.serial_hex(wanted.serial)
    ).first()
    if cert is None or not verify.same_name(
        wanted.issuer, verify.issuer_and_serial(bytes(cert.der))[0]
    ):
        raise Refusal("no certificate of this domain has this issuer and serial", "badCertId")
    if not _may_revoke(sender, cert):
        raise Refusal("the sender may not revoke this certificate", "notAuthorized")
    if cert.status == IssuedCertificate.Status.REVOKED:
        raise Refusal("the certificate is revoked already", "certRevoked")
    revoke(cert, wanted.reason, requester=_requester(sender))
    return Outcome("rp")


def _may_revoke(sender: Sender, cert: IssuedCertificate) -> bool:
    """RFC 9483 §4.2: signed by the certificate itself, or by the domain credential of its
    device; under a MAC, by the secret that got it or the device's own secret."""
    if sender.certificate is not None:
        if sender.certificate.pk == cert.pk:
            return True
        link = DeviceCertificate.objects.select_related("device").filter(certificate=cert).first()
        return bool(
            link and link.device and link.device.domain_credential_id == sender.certificate.pk
        )
    if sender.secret is not None:
        if CmpTransaction.objects.filter(certificate=cert, secret=sender.secret).exists():
            return True
        if sender.secret.device_id is not None:
            return DeviceCertificate.objects.filter(
                certificate=cert, device_id=sender.secret.device_id
            ).exists()
    return False


# --- genm ---------------------------------------------------------------------------------


def general(domain: Domain, message: Message, sender: Sender) -> Outcome:
    require_allowed(domain, "genm")
    try:
        asked = requests.info_requests(message)
    except (ValueError, KeyError) as exc:
        raise Refusal(f"unreadable genm: {exc}", "badDataFormat") from None
    ca = _issuing_ca(domain)
    items: list[tuple[str, bytes | None]] = []
    for item in asked or [requests.InfoRequest(asn1.IT_CA_CERTS, None)]:
        if item.oid == asn1.IT_CA_CERTS:
            items.append((item.oid, responses.ca_certs_value(cas.chain(ca))))
        elif item.oid == asn1.IT_ROOT_CA_KEY_UPDATE:
            items.append((item.oid, _root_update(ca, item.value)))
        elif item.oid == asn1.IT_CERT_REQ_TEMPLATE:
            items.append((item.oid, _template(domain)))
        # Other info types are not offered: left out of genp (RFC 4210 §5.3.19).
    return Outcome("genp", value=items)


def _issuing_ca(domain: Domain) -> CertificateAuthority:
    try:
        return services.signing_ca(domain)
    except CaUnavailable as exc:
        raise Refusal(str(exc), "systemUnavail") from None


def _root_update(ca: CertificateAuthority, value: bytes | None) -> bytes | None:
    """RFC 9483 §4.3.2: the new root when the current one (or the one named) has a
    successor, else no value (no update). Link certificates are not kept, so only
    newWithNew is given."""
    try:
        old = requests.root_ca_cert(value)
    except requests.RequestError as exc:
        raise Refusal(str(exc), exc.fail) from None
    root = ca
    while root.parent_id is not None and root.parent is not None:
        root = root.parent
    if old is not None and old != bytes(root.certificate):
        found = CertificateAuthority.objects.filter(
            fingerprint=hashlib.sha256(old).hexdigest()
        ).first()
        if found is None:
            return None
        root = found
    if root.superseded_by_id is None:
        return None
    new = CertificateAuthority.objects.get(pk=root.superseded_by_id)
    return responses.root_ca_key_update_value(bytes(new.certificate), None, None)


def _template(domain: Domain) -> bytes | None:
    version = profiles.current_by_name(domain, services.cmp_config(domain).ir_profile)
    if version is None:
        return None
    spec = profiles.ProfileSpec.parse(version.spec)
    return responses.cert_req_template_value(
        spec.subject_required, spec.key_types, spec.ec_curves, spec.min_rsa_bits
    )
