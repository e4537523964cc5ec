"""Starting m-of-n key ceremonies and registering them with the approval engine.

start() checks the operation's parameters up front (so a bad request is a 400 now, not a
failed task later), seals any secret (an imported key) with the KEK, and submits an
approval request naming the custodians. When m of them approve, the engine runs
`hierarchy.execute` in a Celery task, which checks the quorum again itself.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from accounts.roles import Perm, has_perm
from approvals import kinds
from approvals import services as approvals
from approvals.models import ApprovalRequest
from audit.services import record
from config.errors import Conflict, Forbidden
from pki.crypto.backends import configured, get_backend
from pki.crypto.keys import KeyAlgorithm, KeyBackendError
from pki.crypto.sealing import seal
from pki.models import Ceremony, CertificateAuthority, Domain
from pki.services import ca_import
from pki.services.ceremony_rules import SECRET_PURPOSE

KIND = "pki.ceremony"
Op = Ceremony.Operation


@transaction.atomic
def start(
    domain: Domain,
    operation: str,
    *,
    purpose: str,
    threshold: int,
    custodians: list[User],
    started_by: User,
    params: dict[str, Any] | None = None,
    secret: dict[str, Any] | None = None,
) -> Ceremony:
    if not has_perm(started_by, Perm.CEREMONIES_PROPOSE, domain):
        raise Forbidden(f"you do not hold {Perm.CEREMONIES_PROPOSE.value} in domain {domain.slug}")
    if operation not in Op.values:
        raise ValidationError(f"operation is one of {', '.join(Op.values)}")
    if not purpose.strip():
        raise ValidationError("a ceremony needs a purpose")
    if not 1 <= threshold <= len(custodians):
        raise ValidationError("the threshold m must be between 1 and the number of custodians n")
    for user in custodians:
        if not has_perm(user, Perm.CEREMONIES_APPROVE, domain):
            raise ValidationError(f"{user.get_username()} is not a custodian in {domain.slug}")
    params = _check_params(domain, operation, dict(params or {}), secret)
    approval = approvals.submit(
        kind=KIND,
        domain=domain,
        subject_type="pki.ceremony",
        subject_id="pending",
        submitter=started_by,
        summary=f"{operation}: {purpose}",
        payload={"operation": operation, "params": params},
        required_approvals=threshold,
        eligible_users=custodians,
    )
    ceremony = Ceremony.objects.create(
        domain=domain,
        operation=operation,
        purpose=purpose[:300],
        params=params,
        sealed_secret=seal(json.dumps(secret).encode(), SECRET_PURPOSE) if secret else None,
        threshold=threshold,
        approval=approval,
        started_by=started_by,
    )
    approval.subject_id = str(ceremony.pk)
    approval.save(update_fields=["subject_id"])
    record(
        "ca.ceremony.started",
        actor=started_by,
        domain=domain,
        obj=ceremony,
        details={
            "ceremony_id": ceremony.pk,
            "operation": operation,
            "purpose": purpose,
            "threshold": threshold,
            "custodians": [u.get_username() for u in custodians],
            "params": params,
        },
    )
    return ceremony


def approve(ceremony: Ceremony, custodian: User, comment: str = "") -> Ceremony:
    approvals.approve(ceremony.approval_id, custodian, comment)
    ceremony.refresh_from_db()
    return ceremony


def _check_params(
    domain: Domain, operation: str, p: dict[str, Any], secret: dict[str, Any] | None
) -> dict[str, Any]:
    if operation in (Op.CREATE_ROOT, Op.CREATE_INTERMEDIATE, Op.IMPORT):
        slug = str(p.get("slug") or "")
        validate_slug(slug)
        if CertificateAuthority.objects.filter(slug=slug).exists():
            raise ValidationError(f"a CA named {slug} exists")
    if operation in (Op.CREATE_ROOT, Op.CREATE_INTERMEDIATE, Op.ROTATE):
        _check_key(p)
    if operation == Op.CREATE_INTERMEDIATE:
        _signs_cas(_existing(domain, p.get("parent"), "parent", needs_key=True, active=True))
    if operation == Op.ROTATE:
        _existing(domain, p.get("ca"), "ca", needs_key=True, active=True)
    if operation == Op.CROSS_SIGN:
        _existing(domain, p.get("ca"), "ca", needs_key=False)
        _signs_cas(_existing(domain, p.get("issuer"), "issuer", needs_key=True, active=True))
        if p.get("ca") == p.get("issuer"):
            raise ValidationError("a CA does not cross-sign itself")
    if operation == Op.IMPORT:
        if p.get("parent"):
            _existing(domain, p["parent"], "parent", needs_key=False)
        if p.get("upstream"):
            _check_upstream(p["upstream"])
        else:
            alias = p.get("key_backend") or "default"
            if alias not in configured():
                raise ValidationError(f"no key backend named {alias}")
            _check_import_secret(domain, p, secret)
    for key in ("validity_days", "path_length"):
        if p.get(key) is not None and (not isinstance(p[key], int) or p[key] < 0):
            raise ValidationError(f"{key} must be a non-negative integer")
    return p


_UPSTREAM_FIELDS = {"arn", "region", "endpoint_url", "signing_algorithm", "template_arn"}


def _check_upstream(config: object) -> None:
    """An AWS Private CA: its ARN and region. Credentials never go in the database: boto3
    finds them in the environment or the instance role."""
    if not isinstance(config, dict) or not config.get("arn") or not config.get("region"):
        raise ValidationError("upstream needs arn and region")
    unknown = set(config) - _UPSTREAM_FIELDS
    if unknown:
        raise ValidationError(
            f"upstream takes {', '.join(sorted(_UPSTREAM_FIELDS))}; credentials come from the "
            f"environment, not the request (got {', '.join(sorted(unknown))})"
        )


def _check_key(p: dict[str, Any]) -> None:
    alias = p.get("key_backend") or "default"
    if alias not in configured():
        raise ValidationError(f"no key backend named {alias}")
    try:
        algorithm = KeyAlgorithm(p.get("algorithm") or KeyAlgorithm.EC_P256)
        if algorithm not in get_backend(alias).algorithms():
            raise ValidationError(f"key backend {alias} cannot make {algorithm} keys")
    except (ValueError, KeyBackendError) as exc:
        raise ValidationError(f"algorithm: {exc}") from None


def _existing(
    domain: Domain, slug: object, field: str, *, needs_key: bool, active: bool = False
) -> CertificateAuthority:
    ca = CertificateAuthority.objects.filter(domain=domain, slug=str(slug or "")).first()
    if ca is None:
        raise ValidationError(f"{field}: no CA {slug!r} in domain {domain.slug}")
    if needs_key and not ca.key_ref:
        raise ValidationError(f"{field}: CA {ca.slug} has no key here to sign with")
    # execute() checks again; this answers a request that cannot run now, not later.
    if active and ca.status != CertificateAuthority.Status.ACTIVE:
        raise ValidationError(f"{field}: CA {ca.slug} is {ca.status}")
    return ca


def _signs_cas(ca: CertificateAuthority) -> None:
    if ca.path_length == 0:
        raise ValidationError(f"CA {ca.slug} has path length 0 and cannot sign a CA")


def _check_import_secret(domain: Domain, p: dict[str, Any], secret: dict[str, Any] | None) -> None:
    if not secret:
        raise ValidationError("an import needs the PKCS#12 file or the key and certificate")
    parent = (
        CertificateAuthority.objects.filter(domain=domain, slug=p["parent"]).first()
        if p.get("parent")
        else None
    )
    ca_import.check(ca_import.material(secret), parent)


# --- approval engine hooks ----------------------------------------------------------------------


def _action(request: ApprovalRequest) -> dict[str, Any]:
    from pki.services.hierarchy import execute

    try:
        return execute(int(request.subject_id))
    except Conflict as exc:
        if exc.code != "already_done":
            raise
        # Another path (run_ceremony, the admin action) ran it first: nothing left to do.
        return dict(Ceremony.objects.get(pk=int(request.subject_id)).result)


def _on_final(request: ApprovalRequest) -> None:
    states: dict[str, str] = {
        ApprovalRequest.State.APPROVED: Ceremony.State.APPROVED,
        ApprovalRequest.State.REJECTED: Ceremony.State.REJECTED,
        ApprovalRequest.State.CANCELLED: Ceremony.State.CANCELLED,
    }
    Ceremony.objects.filter(approval=request).update(state=states[request.state])


def _on_failed(request: ApprovalRequest, error: str) -> None:
    Ceremony.objects.filter(approval=request).update(
        state=Ceremony.State.FAILED, result={"error": error}
    )


def register_kind() -> None:
    kinds.register(
        kinds.Kind(
            name=KIND,
            decide_permission=Perm.CEREMONIES_APPROVE,
            submit_permission=Perm.CEREMONIES_PROPOSE,
            audit_prefix="ca.ceremony",
            action=_action,
            on_final=_on_final,
            on_failed=_on_failed,
            default_approvals=2,
        )
    )
