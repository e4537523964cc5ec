"""The CA hierarchy's operations: create root, create intermediate, rotate, cross-sign,
import. Each one extends trust, so each runs only inside a key ceremony that has reached
quorum (seed 002, F48): `execute()` checks the quorum itself, whoever calls it.

A domain's local PKI (root + issuing CA without a ceremony) exists for test set-ups and the
demo and is refused unless settings.ANCHORAGE_LOCAL_PKI is on (off in production).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import record
from config.errors import Conflict, Forbidden
from pki.crypto import certs
from pki.crypto.backends import get_backend, get_signer
from pki.crypto.keys import (
    KeyAlgorithm,
    KeyBackendError,
    load_public_pem,
    public_der,
)
from pki.models import Ceremony, CertificateAuthority, CrossCertificate, Domain
from pki.services import ca_import, cas, crls
from pki.services.ceremony_rules import require_quorum

CA_KEY_USAGE = ["keyCertSign", "cRLSign", "digitalSignature"]


def execute(
    ceremony_id: int, actor: User | AnonymousUser | None = None, via: str = "approval engine"
) -> dict[str, Any]:
    """Run an approved ceremony's operation once. Refuses without quorum."""
    with transaction.atomic():
        ceremony = Ceremony.objects.select_for_update().select_related("domain").get(pk=ceremony_id)
        require_quorum(ceremony)
        operation = _OPERATIONS[ceremony.operation]
        ca = operation(ceremony)
        ceremony.state = Ceremony.State.DONE
        ceremony.finished_at = timezone.now()
        ceremony.result = {"ca": ca.slug} if isinstance(ca, CertificateAuthority) else ca
        ceremony.sealed_secret = None  # an imported key has moved into its backend
        ceremony.save(update_fields=["state", "finished_at", "result", "sealed_secret"])
        # Who ran it: a person (the admin action), a command, or the engine's task.
        record(
            "ca.ceremony.executed",
            actor=actor,
            domain=ceremony.domain,
            obj=ceremony,
            details={
                "ceremony_id": ceremony.pk,
                "operation": ceremony.operation,
                "result": ceremony.result,
                "run_by": actor.get_username() if actor and actor.is_authenticated else via,
            },
        )
        return ceremony.result


# --- operations -------------------------------------------------------------------------------


def _create_root(ceremony: Ceremony) -> CertificateAuthority:
    p = ceremony.params
    return _new_ca(ceremony.domain, p, parent=None, ceremony=ceremony, event="ca.root.created")


def _create_intermediate(ceremony: Ceremony) -> CertificateAuthority:
    p = ceremony.params
    parent = _signing_ca(ceremony.domain, p["parent"])
    return _new_ca(
        ceremony.domain, p, parent=parent, ceremony=ceremony, event="ca.intermediate.created"
    )


def _rotate(ceremony: Ceremony) -> CertificateAuthority:
    p = ceremony.params
    old = CertificateAuthority.objects.select_for_update().get(domain=ceremony.domain, slug=p["ca"])
    if old.status != CertificateAuthority.Status.ACTIVE:
        raise Conflict(f"CA {old.slug} is {old.status}; only an active CA rotates", "not_active")
    parent = None
    if old.parent is not None:
        # After the parent itself rotated, the new CA is signed by the parent's successor.
        try:
            parent = _signing_ca(ceremony.domain, cas.active(old.parent).slug)
        except cas.CaUnavailable as exc:
            raise Conflict(str(exc), "not_active") from None
    params = {
        "slug": p.get("new_slug") or _next_slug(old.slug),
        "name": old.name,
        "subject": certs.info(bytes(old.certificate)).subject,
        "algorithm": p.get("algorithm") or old.key_algorithm,
        "key_backend": p.get("key_backend") or old.key_backend,
        "validity_days": p.get("validity_days"),
        "path_length": old.path_length,
        "permitted_dns": old.name_constraints.get("permitted_dns", []),
        "excluded_dns": old.name_constraints.get("excluded_dns", []),
    }
    new = _new_ca(ceremony.domain, params, parent=parent, ceremony=ceremony, event=None)
    old.status = CertificateAuthority.Status.SUPERSEDED
    old.superseded_by = new
    old.save(update_fields=["status", "superseded_by"])
    link = None
    if parent is None:
        # A new root is linked to the old one by a certificate for the new key signed by the
        # old key (RFC 4210 §4.4 NewWithOld), so clients that trust the old root reach it.
        link = _cross_certificate(new, old, ceremony)
    record(
        "ca.rotated",
        actor=ceremony.started_by,
        domain=ceremony.domain,
        obj=new,
        details={
            "ceremony_id": ceremony.pk,
            "old": old.slug,
            "new": new.slug,
            "link_certificate": link.serial if link else None,
        },
    )
    return new


def _cross_sign(ceremony: Ceremony) -> dict[str, Any]:
    p = ceremony.params
    subject = CertificateAuthority.objects.get(domain=ceremony.domain, slug=p["ca"])
    issuer = _signing_ca(ceremony.domain, p["issuer"])
    cross = _cross_certificate(subject, issuer, ceremony, p.get("validity_days"))
    record(
        "ca.cross_signed",
        actor=ceremony.started_by,
        domain=ceremony.domain,
        obj=subject,
        details={"ceremony_id": ceremony.pk, "issuer": issuer.slug, "serial": cross.serial},
    )
    return {"ca": subject.slug, "issuer": issuer.slug, "cross_certificate": cross.pk}


def _import(ceremony: Ceremony) -> CertificateAuthority:
    p = ceremony.params
    if p.get("upstream"):
        return _import_upstream(ceremony)
    material = ca_import.unsealed(bytes(ceremony.sealed_secret or b""))
    parent = (
        CertificateAuthority.objects.get(domain=ceremony.domain, slug=p["parent"])
        if p.get("parent")
        else None
    )
    checked = ca_import.check(material, parent)
    backend = get_backend(p.get("key_backend") or "default")
    try:
        key = backend.import_private_key(checked.private_key_pkcs8, p["slug"])
    except KeyBackendError as exc:
        raise ValidationError(str(exc)) from None
    ca = _save_ca(
        ceremony.domain,
        slug=p["slug"],
        name=p.get("name") or p["slug"],
        kind=CertificateAuthority.Kind.IMPORTED,
        der=checked.certificate_der,
        parent=parent,
        key_backend=backend.alias,
        key_ref=key.reference,
        ceremony=ceremony,
        external_chain=[] if parent else [d.hex() for d in checked.chain_der],
    )
    _record_created("ca.imported", ca, ceremony)
    return ca


def _import_upstream(ceremony: Ceremony) -> CertificateAuthority:
    from pki.crypto.upstream.awspca import PrivateCA, UpstreamError

    p = ceremony.params
    config = p["upstream"]
    try:
        cert_der, chain_der = PrivateCA(**config).ca_certificate()
    except UpstreamError as exc:
        raise ValidationError(f"the upstream CA does not answer: {exc}") from None
    ca = _save_ca(
        ceremony.domain,
        slug=p["slug"],
        name=p.get("name") or p["slug"],
        kind=CertificateAuthority.Kind.UPSTREAM,
        der=cert_der,
        parent=None,
        key_backend="",
        key_ref="",
        ceremony=ceremony,
        external_chain=[d.hex() for d in chain_der],
        upstream=config,
    )
    _record_created("ca.imported", ca, ceremony)
    return ca


_OPERATIONS: dict[str, Callable[[Ceremony], Any]] = {
    Ceremony.Operation.CREATE_ROOT: _create_root,
    Ceremony.Operation.CREATE_INTERMEDIATE: _create_intermediate,
    Ceremony.Operation.ROTATE: _rotate,
    Ceremony.Operation.CROSS_SIGN: _cross_sign,
    Ceremony.Operation.IMPORT: _import,
}


# --- local PKI (no ceremony; test set-ups) ----------------------------------------------------


@transaction.atomic
def create_local_pki(
    domain: Domain,
    algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256,
    *,
    key_backend: str = "default",
    actor: User | None = None,
) -> tuple[CertificateAuthority, CertificateAuthority]:
    if not settings.ANCHORAGE_LOCAL_PKI:
        raise Forbidden("a local PKI without a key ceremony is disabled (ANCHORAGE_LOCAL_PKI)")
    if CertificateAuthority.objects.filter(domain=domain).exists():
        raise Conflict(f"domain {domain.slug} already has CAs", "exists")
    base = {"algorithm": algorithm.value, "key_backend": key_backend}
    root = _new_ca(
        domain,
        {
            **base,
            "slug": f"{domain.slug}-root",
            "name": f"{domain.name} Root CA",
            "path_length": 1,
            "validity_days": 3650,
        },
        parent=None,
        ceremony=None,
        event="ca.root.created",
        actor=actor,
    )
    issuing = _new_ca(
        domain,
        {
            **base,
            "slug": f"{domain.slug}-issuing",
            "name": f"{domain.name} Issuing CA",
            "path_length": 0,
            "validity_days": 1825,
        },
        parent=root,
        ceremony=None,
        event="ca.intermediate.created",
        actor=actor,
    )
    return root, issuing


# --- building blocks --------------------------------------------------------------------------


def _new_ca(
    domain: Domain,
    p: dict[str, Any],
    *,
    parent: CertificateAuthority | None,
    ceremony: Ceremony | None,
    event: str | None,
    actor: User | None = None,
) -> CertificateAuthority:
    algorithm = KeyAlgorithm(p.get("algorithm") or KeyAlgorithm.EC_P256)
    backend = get_backend(p.get("key_backend") or "default")
    if CertificateAuthority.objects.filter(slug=p["slug"]).exists():
        raise Conflict(f"a CA named {p['slug']} exists", "exists")
    key = backend.generate(algorithm, p["slug"])
    signer = get_signer(backend.alias, key.reference)
    default_days = 3650 * 2 if parent is None else 3650
    not_before = certs.now() - timedelta(minutes=5)
    not_after = not_before + timedelta(days=int(p.get("validity_days") or default_days))
    issuer_signer = signer
    issuer_der = None
    template = certs.CertTemplate(
        subject=[tuple(x) for x in p.get("subject") or [("CN", p.get("name") or p["slug"])]],
        public_key_der=_spki(key.public_key_pem),
        serial=certs.random_serial(),
        not_before=not_before,
        not_after=not_after,
        is_ca=True,
        path_length=p.get("path_length"),
        key_usage=CA_KEY_USAGE,
        permitted_dns=list(p.get("permitted_dns") or []),
        excluded_dns=list(p.get("excluded_dns") or []),
    )
    if parent is not None:
        _check_can_sign_ca(parent, template)
        issuer_signer = get_signer(parent.key_backend, parent.key_ref)
        issuer_der = bytes(parent.certificate)
        template.not_after = min(template.not_after, parent.not_after)
        cas.point_at(template, parent)
    der = certs.build(template, issuer_signer, issuer_der)
    ca = _save_ca(
        domain,
        slug=p["slug"],
        name=p.get("name") or p["slug"],
        kind=CertificateAuthority.Kind.ROOT
        if parent is None
        else CertificateAuthority.Kind.INTERMEDIATE,
        der=der,
        parent=parent,
        key_backend=backend.alias,
        key_ref=key.reference,
        ceremony=ceremony,
        name_constraints={k: p[k] for k in ("permitted_dns", "excluded_dns") if p.get(k)},
    )
    if event:
        _record_created(event, ca, ceremony, actor=actor)
    return ca


def _cross_certificate(
    subject: CertificateAuthority,
    issuer: CertificateAuthority,
    ceremony: Ceremony,
    validity_days: int | None = None,
) -> CrossCertificate:
    info = certs.info(bytes(subject.certificate))
    not_before = certs.now() - timedelta(minutes=5)
    days = validity_days or (subject.not_after - not_before).days
    template = certs.CertTemplate(
        subject=info.subject,
        public_key_der=info.public_key_der,
        serial=certs.random_serial(),
        not_before=not_before,
        not_after=min(not_before + timedelta(days=days), issuer.not_after, subject.not_after),
        is_ca=True,
        path_length=subject.path_length,
        key_usage=CA_KEY_USAGE,
        permitted_dns=list(subject.name_constraints.get("permitted_dns", [])),
        excluded_dns=list(subject.name_constraints.get("excluded_dns", [])),
    )
    cas.point_at(template, issuer)
    _check_can_sign_ca(issuer, template)
    der = certs.build(
        template, get_signer(issuer.key_backend, issuer.key_ref), bytes(issuer.certificate)
    )
    return CrossCertificate.objects.create(
        subject_ca=subject,
        issuer_ca=issuer,
        certificate=der,
        serial=certs.serial_hex(template.serial),
        not_after=template.not_after,
        ceremony=ceremony,
    )


def _check_can_sign_ca(parent: CertificateAuthority, template: certs.CertTemplate) -> None:
    """RFC 5280 §4.2.1.9: a CA with pathLenConstraint 0 signs no CA below it, and a child
    cannot allow a longer path than its parent leaves. A self-issued certificate (same
    subject and issuer name: a root rotation's link) does not count as a step in the path
    (§6.1.4 (l)), so it may keep the parent's own limit."""
    if parent.kind == CertificateAuthority.Kind.UPSTREAM or not parent.key_ref:
        raise ValidationError(f"CA {parent.slug} has no key here to sign with")
    if parent.path_length is not None:
        parent_subject = certs.info(bytes(parent.certificate)).subject
        self_issued = [tuple(x) for x in template.subject] == [tuple(x) for x in parent_subject]
        if parent.path_length == 0 and not self_issued:
            raise ValidationError(f"CA {parent.slug} has path length 0 and cannot sign a CA")
        limit = parent.path_length if self_issued else parent.path_length - 1
        if template.path_length is None or template.path_length > limit:
            template.path_length = limit


def _save_ca(
    domain: Domain,
    *,
    slug: str,
    name: str,
    kind: str,
    der: bytes,
    parent: CertificateAuthority | None,
    key_backend: str,
    key_ref: str,
    ceremony: Ceremony | None,
    external_chain: list[str] | None = None,
    upstream: dict[str, Any] | None = None,
    name_constraints: dict[str, Any] | None = None,
) -> CertificateAuthority:
    info = certs.info(der)
    ca = CertificateAuthority(
        domain=domain,
        slug=slug,
        name=name,
        kind=kind,
        parent=parent,
        key_backend=key_backend,
        key_ref=key_ref,
        key_algorithm=info.key_algorithm,
        certificate=der,
        external_chain=external_chain or [],
        upstream=upstream or {},
        serial=info.serial_hex,
        subject=info.subject_text[:500],
        not_before=info.not_before,
        not_after=info.not_after,
        fingerprint=info.fingerprint_sha256,
        path_length=info.path_length,
        name_constraints=name_constraints or {},
        ceremony=ceremony,
    )
    ca.full_clean(exclude=["certificate", "parent", "ceremony", "superseded_by"])
    ca.save()
    crls.on_created(ca)
    return ca


def _record_created(
    event: str, ca: CertificateAuthority, ceremony: Ceremony | None, actor: User | None = None
) -> None:
    record(
        event,
        actor=actor or (ceremony.started_by if ceremony else None),
        domain=ca.domain,
        obj=ca,
        details={
            "ceremony_id": ceremony.pk if ceremony else None,
            "slug": ca.slug,
            "subject": ca.subject,
            "serial": ca.serial,
            "parent": ca.parent.slug if ca.parent else None,
            "key_backend": ca.key_backend,
            "key_algorithm": ca.key_algorithm,
            "fingerprint": ca.fingerprint,
        },
    )


def _signing_ca(domain: Domain, slug: str) -> CertificateAuthority:
    ca = CertificateAuthority.objects.filter(domain=domain, slug=slug).first()
    if ca is None:
        raise ValidationError(f"no CA {slug} in domain {domain.slug}")
    if ca.status != CertificateAuthority.Status.ACTIVE:
        raise Conflict(f"CA {slug} is {ca.status}", "not_active")
    return ca


def _next_slug(slug: str) -> str:
    stem, _, n = slug.rpartition("-r")
    base, index = (stem, int(n) + 1) if stem and n.isdigit() else (slug, 2)
    candidate = f"{base}-r{index}"
    while CertificateAuthority.objects.filter(slug=candidate).exists():
        index += 1
        candidate = f"{base}-r{index}"
    return candidate


def _spki(public_pem: str) -> bytes:
    return public_der(load_public_pem(public_pem))
