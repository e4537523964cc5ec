"""ACME business rules (RFC 8555 §7): enabling ACME in a domain, accounts, orders and their
authorizations, answering a challenge, finalizing through the one issuance path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from config.errors import Unavailable, reason_of
from enrollment.acme import ari, eab, identifiers, limits
from enrollment.acme.models import (
    AcmeAccount,
    AcmeAuthorization,
    AcmeChallenge,
    AcmeOrder,
    AcmeSettings,
    Status,
)
from enrollment.acme.problems import AcmeProblem, malformed, unauthorized
from pki.crypto import certs, jose
from pki.crypto import csr as csrs
from pki.models import (
    CertificateAuthority,
    CrossCertificate,
    Domain,
    IssuedCertificate,
    Profile,
    Protocol,
)
from pki.services import cas, default_profiles, domains, profiles
from pki.services.issuance import IssueRequest, issue

ORDER_LIFETIME = timedelta(days=7)
# RFC 8555 §8, RFC 8737, RFC 8738 §7: what proves which identifier.
CHALLENGE_TYPES = {
    "dns": ("http-01", "dns-01", "tls-alpn-01"),
    "wildcard": ("dns-01",),
    "ip": ("http-01", "tls-alpn-01"),
}
_MAILTO = re.compile(r"^mailto:[^@\s,?]+@[^@\s,?]+\.[^@\s,?]+$")

# The profile ACME issues under: a TLS server certificate whose subject may be empty, since
# ACME clients (certbot) often send CSRs with the names only in subjectAltName.
ACME_PROFILE = "acme-tls-server"


def acme_profile_spec(suffixes: list[str]) -> dict[str, Any]:
    """The domain's default tls-server rules, with what ACME changes."""
    _, tls_server = default_profiles.specs(suffixes)["tls-server"]
    return {
        **tls_server,
        # Wildcards are proven by dns-01 only (the one challenge a wildcard order offers).
        "allow_wildcards": True,
        "subject_required": [],
        "subject_allowed": ["CN"],
        "protocols": [Protocol.ACME.value],
    }


@transaction.atomic
def enable(
    domain: Domain,
    ca: CertificateAuthority,
    suffixes: list[str],
    *,
    eab_required: bool = False,
    actor: User | None = None,
) -> AcmeSettings:
    """ACME on in `domain`: the protocol, the ACME profile and the settings (idempotent)."""
    profiles.save_profile(
        domain,
        ACME_PROFILE,
        acme_profile_spec(suffixes),
        ca,
        actor=actor,
        description="TLS server certificates issued over ACME",
    )
    if not domain.protocol_enabled(Protocol.ACME.value):
        domains.set_protocols(domain, [*domain.enabled_protocols, Protocol.ACME.value], actor=actor)
    found, created = AcmeSettings.objects.get_or_create(
        domain=domain, defaults={"profile": ACME_PROFILE, "eab_required": eab_required}
    )
    if created:
        record(
            "acme.enabled",
            actor=actor,
            domain=domain,
            obj=found,
            details={"profile": found.profile, "eab_required": eab_required},
        )
    return found


def settings_of(slug: str) -> tuple[Domain, AcmeSettings]:
    found = AcmeSettings.objects.select_related("domain").filter(domain__slug=slug).first()
    if found is None or not found.enabled or not found.domain.protocol_enabled(Protocol.ACME.value):
        raise AcmeProblem("malformed", f"no ACME service in domain {slug[:63]!r}", 404)
    return found.domain, found


def profile_spec(domain: Domain, acme: AcmeSettings) -> profiles.ProfileSpec:
    profile = Profile.objects.filter(domain=domain, name=acme.profile).first()
    if profile is None:
        raise AcmeProblem("serverInternal", f"the ACME profile {acme.profile} is missing", 503)
    return profiles.ProfileSpec.parse(profiles.current(profile).spec)


# --- accounts (RFC 8555 §7.3) -------------------------------------------------------------


@dataclass(frozen=True)
class AccountResult:
    account: AcmeAccount
    created: bool


def new_account(
    domain: Domain, acme: AcmeSettings, jwk: dict[str, Any], payload: dict[str, Any], url: str
) -> AccountResult:
    try:
        thumb = jose.thumbprint(jwk)
    except jose.JoseError as exc:
        raise AcmeProblem("badPublicKey", str(exc)) from None
    existing = AcmeAccount.objects.filter(domain=domain, thumbprint=thumb).first()
    if existing is not None:  # §7.3.1: the existing account, 200
        return AccountResult(existing, created=False)
    if payload.get("onlyReturnExisting") is True:
        raise AcmeProblem("accountDoesNotExist", "no account exists with this key")
    binding = payload.get("externalAccountBinding")
    if acme.eab_required and binding is None:
        raise AcmeProblem(
            "externalAccountRequired", "this server requires external account binding"
        )
    contacts = _contacts(payload.get("contact", []))
    try:
        with transaction.atomic():
            key = eab.verify(domain, binding, url, jwk) if binding is not None else None
            account = AcmeAccount.objects.create(
                domain=domain, thumbprint=thumb, jwk=jose.public_jwk(jwk), contacts=contacts
            )
            if key is not None:
                eab.bind(key, account)
            record(
                "acme.account.created",
                domain=domain,
                obj=account,
                details={
                    "account": account.ident,
                    "contacts": contacts,
                    "eab_key_id": key.key_id if key else None,
                },
            )
    except IntegrityError:  # the same key registered concurrently: that account
        return AccountResult(AcmeAccount.objects.get(domain=domain, thumbprint=thumb), False)
    return AccountResult(account, created=True)


def update_account(account: AcmeAccount, payload: dict[str, Any]) -> AcmeAccount:
    """§7.3.2 contact update, §7.3.6 deactivation; other fields are ignored."""
    with transaction.atomic():
        if "contact" in payload:
            account.contacts = _contacts(payload["contact"])
            account.save(update_fields=["contacts"])
            record(
                "acme.account.updated",
                domain=account.domain,
                obj=account,
                details={"account": account.ident, "contacts": account.contacts},
            )
        status = payload.get("status")
        if status is not None:
            if status != Status.DEACTIVATED:
                raise malformed("an account's status can only be set to deactivated")
            account.status = Status.DEACTIVATED
            account.save(update_fields=["status"])
            record(
                "acme.account.deactivated",
                domain=account.domain,
                obj=account,
                details={"account": account.ident},
            )
    return account


def _contacts(raw: object) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw) or len(raw) > 10:
        raise malformed("contact must be a list of at most 10 URLs")
    for contact in raw:
        if not contact.startswith("mailto:"):
            raise AcmeProblem("unsupportedContact", "only mailto: contacts are supported")
        if not _MAILTO.match(contact):
            raise AcmeProblem("invalidContact", f"{contact[:100]!r} is not a valid mailto: URL")
    return list(raw)


# --- orders (RFC 8555 §7.4) -------------------------------------------------------------


def new_order(account: AcmeAccount, acme: AcmeSettings, payload: dict[str, Any]) -> AcmeOrder:
    spec = profile_spec(account.domain, acme)
    wanted = identifiers.parse(payload.get("identifiers"), spec)
    limits.count_new_order(account)
    if payload.get("notBefore") or payload.get("notAfter"):
        raise malformed("notBefore and notAfter are not supported; the profile sets validity")
    replaces = ari.replaced_certificate(account, payload.get("replaces"))
    expires = timezone.now() + ORDER_LIFETIME
    with transaction.atomic():
        order = AcmeOrder.objects.create(
            account=account,
            identifiers=[i.as_json() for i in wanted],
            expires=expires,
            replaces=replaces,
        )
        for ident in wanted:
            authz = AcmeAuthorization.objects.create(
                order=order,
                identifier_type=ident.type,
                identifier_value=ident.value,
                wildcard=ident.wildcard,
                expires=expires,
            )
            kinds = CHALLENGE_TYPES["wildcard" if ident.wildcard else ident.type]
            AcmeChallenge.objects.bulk_create(
                [AcmeChallenge(authorization=authz, type=kind) for kind in kinds]
            )
        record(
            "acme.order.created",
            domain=account.domain,
            obj=order,
            details={
                "account": account.ident,
                "order": order.ident,
                "identifiers": order.identifiers,
                "replaces": replaces.serial if replaces else None,
            },
        )
    return order


def owned_order(account: AcmeAccount, ident: str) -> AcmeOrder:
    order = AcmeOrder.objects.filter(ident=ident, account__domain=account.domain).first()
    if order is None:
        raise AcmeProblem("malformed", "no such order", 404)
    if order.account_id != account.pk:
        raise unauthorized("this order belongs to another account")
    return expire(order)


def owned_authz(account: AcmeAccount, ident: str) -> AcmeAuthorization:
    authz = (
        AcmeAuthorization.objects.select_related("order")
        .filter(ident=ident, order__account__domain=account.domain)
        .first()
    )
    if authz is None:
        raise AcmeProblem("malformed", "no such authorization", 404)
    if authz.order.account_id != account.pk:
        raise unauthorized("this authorization belongs to another account")
    return authz


def owned_challenge(account: AcmeAccount, ident: str) -> AcmeChallenge:
    challenge = (
        AcmeChallenge.objects.select_related("authorization__order")
        .filter(ident=ident, authorization__order__account__domain=account.domain)
        .first()
    )
    if challenge is None:
        raise AcmeProblem("malformed", "no such challenge", 404)
    if challenge.authorization.order.account_id != account.pk:
        raise unauthorized("this challenge belongs to another account")
    return challenge


def expire(order: AcmeOrder) -> AcmeOrder:
    if order.status in (Status.PENDING, Status.READY) and order.expires <= timezone.now():
        order.status = Status.INVALID
        order.error = AcmeProblem("malformed", "the order expired").document()
        order.save(update_fields=["status", "error"])
    return order


def deactivate_authz(authz: AcmeAuthorization, payload: dict[str, Any]) -> AcmeAuthorization:
    """§7.5.2: a client may deactivate an authorization it holds."""
    if payload.get("status") != Status.DEACTIVATED:
        raise malformed("an authorization's status can only be set to deactivated")
    if authz.status not in (Status.PENDING, Status.VALID):
        raise malformed(f"the authorization is {authz.status}")
    with transaction.atomic():
        authz.status = Status.DEACTIVATED
        authz.save(update_fields=["status"])
        _settle(authz.order)
    return authz


def respond(challenge: AcmeChallenge, account: AcmeAccount) -> AcmeChallenge:
    """§7.5.1: the client says it is ready; the check runs in a worker after the commit."""
    from enrollment.acme import tasks

    with transaction.atomic():
        challenge = AcmeChallenge.objects.select_for_update().get(pk=challenge.pk)
        authz = challenge.authorization
        if challenge.status != Status.PENDING or authz.status != Status.PENDING:
            return challenge  # answered already: the current state, not an error
        if authz.expires <= timezone.now():
            raise malformed("the authorization expired")
        challenge.status = Status.PROCESSING
        challenge.requested_at = timezone.now()
        challenge.save(update_fields=["status", "requested_at"])
        transaction.on_commit(lambda: tasks.enqueue(challenge.pk))
    return challenge


def record_validation(challenge_id: int, error: dict[str, Any] | None) -> None:
    """A worker's verdict on a challenge: it and its authorization, then the order (§7.1.6)."""
    with transaction.atomic():
        challenge = (
            AcmeChallenge.objects.select_for_update()
            .select_related("authorization__order")
            .filter(pk=challenge_id)
            .first()
        )
        if challenge is None or challenge.status != Status.PROCESSING:
            return  # a retried task whose work is done
        authz = challenge.authorization
        challenge.status = Status.INVALID if error else Status.VALID
        challenge.error = error
        challenge.validated = None if error else timezone.now()
        challenge.save(update_fields=["status", "error", "validated"])
        if authz.status == Status.PENDING:
            authz.status = Status.INVALID if error else Status.VALID
            authz.save(update_fields=["status"])
        _settle(authz.order)
        record(
            "acme.challenge.validated",
            domain=authz.order.account.domain,
            obj=challenge,
            details={
                "challenge": challenge.ident,
                "type": challenge.type,
                "identifier": authz.identifier_value,
                "status": challenge.status,
                "error": error,
            },
        )


def _settle(order: AcmeOrder) -> None:
    """The order's status from its authorizations: one failed → invalid, all valid → ready."""
    order = AcmeOrder.objects.select_for_update().get(pk=order.pk)
    if order.status != Status.PENDING:
        return
    states = set(order.authorizations.values_list("status", flat=True))
    if states - {Status.PENDING, Status.VALID}:
        order.status = Status.INVALID
        order.error = AcmeProblem("unauthorized", "an authorization failed").document()
    elif states == {Status.VALID}:
        order.status = Status.READY
    order.save(update_fields=["status", "error"])


# --- finalize and the certificate (RFC 8555 §7.4) ------------------------------------------


def finalize(order: AcmeOrder, acme: AcmeSettings, payload: dict[str, Any]) -> AcmeOrder:
    if order.status != Status.READY:
        if order.status in (Status.VALID, Status.PROCESSING):
            return order  # a retried finalize: the order as it is
        raise AcmeProblem("orderNotReady", f"the order is {order.status}, not ready", 403)
    try:
        der = jose.b64u_decode(payload.get("csr"))
        info = csrs.inspect(der)
    except (jose.JoseError, csrs.CsrError) as exc:
        raise AcmeProblem("badCSR", f"the CSR is unreadable: {exc}") from None
    _require_exact_names(order, info)
    account = order.account
    request = IssueRequest(
        domain=account.domain,
        profile=acme.profile,
        csr=info,
        protocol=Protocol.ACME.value,
        requester=account.requester,
        # A retried finalize returns the order's one certificate (the one issuance path).
        idempotency_key=f"acme-order:{order.ident}",
        extra={"acme_order": order.ident},
    )
    try:
        issued = issue(request)
    except PermissionDenied as exc:
        raise AcmeProblem("badCSR", reason_of(exc) or str(exc), 400) from None
    except ValidationError as exc:
        raise AcmeProblem("badCSR", reason_of(exc)) from None
    except Unavailable as exc:
        raise AcmeProblem(
            "serverInternal", exc.detail, 503, headers={"Retry-After": str(exc.retry_after)}
        ) from None
    with transaction.atomic():
        locked = AcmeOrder.objects.select_for_update().get(pk=order.pk)
        if locked.status == Status.READY:
            locked.status = Status.VALID
            locked.certificate = issued.certificate
            locked.save(update_fields=["status", "certificate"])
    return locked


def _require_exact_names(order: AcmeOrder, info: csrs.CsrInfo) -> None:
    """§7.4: the CSR names exactly the order's identifiers (subject CN, if any, among them)."""
    wanted = {(i["type"], i["value"]) for i in order.identifiers}
    asked = {("dns", n.lower()) for n in info.dns_names} | {("ip", ip) for ip in info.ip_addresses}
    cn = info.subject_value("CN")
    if cn:
        asked.add(("ip", cn) if ("ip", cn) in wanted else ("dns", cn.lower()))
    extra = sorted(v for _, v in asked - wanted)
    missing = sorted(v for _, v in wanted - asked)
    if extra:
        raise AcmeProblem("badCSR", f"the CSR names identifiers outside the order: {extra}")
    if missing:
        raise AcmeProblem("badCSR", f"the CSR lacks identifiers of the order: {missing}")
    if info.emails or info.uris:
        raise AcmeProblem("badCSR", "the CSR may name only the order's DNS names and IPs")


def certificate_pem(order: AcmeOrder, alternate: int = 0) -> str:
    """§7.4.2: the leaf then its issuing chain (root left out), PEM; `alternate` n > 0 is the
    n-th path through a cross-certificate instead."""
    cert = order.certificate
    if order.status != Status.VALID or cert is None:
        raise AcmeProblem("malformed", "the order has no certificate", 404)
    chains = [cas.issuing_chain(cert.ca), *alternate_chains(cert)]
    if not 0 <= alternate < len(chains):
        raise AcmeProblem("malformed", "no such alternate chain", 404)
    return "".join(certs.der_to_pem(der) for der in [bytes(cert.der), *chains[alternate]])


def chain_count(order: AcmeOrder) -> int:
    return 1 + len(alternate_chains(order.certificate)) if order.certificate else 0


def alternate_chains(cert: IssuedCertificate) -> list[list[bytes]]:
    """Other paths to other roots: through a live cross-certificate of any CA on the way up
    (pki.services.hierarchy cross-signs), then the cross-signer's chain without its root."""
    path: list[CertificateAuthority] = []
    node: CertificateAuthority | None = cert.ca
    while node is not None and len(path) < 10:
        path.append(node)
        node = node.parent
    now = timezone.now()
    out = []
    for depth, ca in enumerate(path):
        crosses = CrossCertificate.objects.filter(subject_ca=ca, not_after__gt=now)
        for cross in crosses.select_related("issuer_ca").order_by("pk"):
            above = cas.issuing_chain(cross.issuer_ca)
            below = [bytes(c.certificate) for c in path[:depth]]
            out.append([*below, bytes(cross.certificate), *above])
    return out


def issued_to(account: AcmeAccount, cert: IssuedCertificate) -> bool:
    return cert.requester == account.requester
