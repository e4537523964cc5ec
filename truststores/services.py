"""Truststore requests through the approval engine (issue 5, items 1 and 3).

submit() validates the bundle (truststores.validation) and refuses unusable input before
anything is stored; a bundle that parses but fails validation is stored with its findings,
so the approver sees why, but it can never be approved: the engine's on_final hook refuses
the approval of a `fail` verdict (rolling the decision back) on every path — this API, the
generic /approvals API, the console. Two people: the engine never lets the submitter decide.

Approval leaves the request Approved and queues the swap (truststores.tasks.deploy_request,
on commit), which moves it to Ready once every deployment target of its type confirmed
(truststores.deploy). Nothing here pretends a bundle is live.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.roles import Perm, has_perm
from approvals import kinds
from approvals import services as approvals
from approvals.models import ApprovalRequest
from config.errors import Conflict, Forbidden
from pki.crypto.bundles import BundleRefused, read_bundle
from pki.crypto.pkcs import pem
from pki.models import Domain
from truststores import validation
from truststores.models import TruststoreRequest, TruststoreType

KIND = "truststores.request"
SUBJECT_TYPE = "truststores.truststorerequest"


def deployed(domain: Domain, truststore_type: str) -> TruststoreRequest | None:
    """The live bundle of a type: the latest request of that type in state Ready."""
    return (
        TruststoreRequest.objects.filter(
            domain=domain,
            truststore_type=truststore_type,
            state=TruststoreRequest.State.READY,
        )
        .order_by("-ready_at", "-id")
        .first()
    )


def for_domain(domain: Domain) -> QuerySet[TruststoreRequest]:
    return TruststoreRequest.objects.filter(domain=domain)


@transaction.atomic
def submit(
    domain: Domain,
    user: User,
    *,
    name: str,
    description: str = "",
    truststore_type: str,
    bundle: bytes,
) -> TruststoreRequest:
    if not has_perm(user, Perm.TRUSTSTORES_SUBMIT, domain):
        raise Forbidden(f"you do not hold {Perm.TRUSTSTORES_SUBMIT.value} in domain {domain.slug}")
    if truststore_type not in TruststoreType.values:
        raise ValidationError(f"truststoreType must be one of {', '.join(TruststoreType.values)}")
    if not name.strip():
        raise ValidationError("a truststore request needs a name")
    try:
        result = validation.validate(bundle)
        text = as_pem(bundle)
    except BundleRefused as exc:
        # Nothing of a refused bundle is stored (a private key above all).
        raise ValidationError(f"bundle refused: {exc}") from None
    current = deployed(domain, truststore_type)
    comparison = validation.compare(result, _certificates(current))
    request = TruststoreRequest.objects.create(
        domain=domain,
        name=name.strip()[:200],
        description=description,
        truststore_type=truststore_type,
        bundle=text,
        certificate_count=result.certificate_count,
        validation_result=result.as_json(),
        comparison={**comparison, "deployed_request": current.pk if current else None},
        submitted_by=user,
    )
    request.approval = approvals.submit(
        kind=KIND,
        domain=domain,
        subject_type=SUBJECT_TYPE,
        subject_id=str(request.pk),
        submitter=user,
        summary=f"{truststore_type} truststore: {request.name} ({result.verdict})",
        payload={
            "truststore_type": truststore_type,
            "certificate_count": result.certificate_count,
            "verdict": result.verdict,
        },
    )
    request.save(update_fields=["approval"])
    return request


def cancel(request: TruststoreRequest, user: User, reason: str = "") -> TruststoreRequest:
    """Only the submitter, only while pending (the engine checks both: 403 / 409)."""
    approvals.cancel(_approval_id(request), user, reason)
    request.refresh_from_db()
    return request


def approve(request: TruststoreRequest, user: User, comment: str = "") -> TruststoreRequest:
    approvals.approve(_approval_id(request), user, comment)
    request.refresh_from_db()
    return request


def reject(request: TruststoreRequest, user: User, comment: str) -> TruststoreRequest:
    approvals.reject(_approval_id(request), user, comment)
    request.refresh_from_db()
    return request


def as_pem(data: bytes) -> str:
    """The certificates of a PEM, PKCS#7 (PEM or DER) or DER bundle, as PEM text."""
    return "".join(pem("CERTIFICATE", der) for der in read_bundle(data))


def _approval_id(request: TruststoreRequest) -> int:
    if request.approval_id is None:
        raise Conflict(f"truststore request #{request.pk} has no approval request", "no_approval")
    return request.approval_id


def _on_final(approval: ApprovalRequest) -> None:
    # Runs inside the engine's deciding transaction, under its row lock: raising here rolls
    # the decision back, which is how a failing bundle's approval is refused on every path.
    request = TruststoreRequest.objects.select_for_update().get(approval=approval)
    state = approval.state
    if state == ApprovalRequest.State.APPROVED and request.verdict == "fail":
        raise Conflict(
            "the bundle failed validation and cannot be approved; reject it and submit "
            "a corrected bundle",
            "validation_failed",
        )
    targets: dict[str, str] = {
        ApprovalRequest.State.APPROVED: TruststoreRequest.State.APPROVED,
        ApprovalRequest.State.REJECTED: TruststoreRequest.State.REJECTED,
        ApprovalRequest.State.CANCELLED: TruststoreRequest.State.CANCELLED,
    }
    target = targets.get(state)
    if target is None:
        return
    request.state = target
    request.decided_at = approval.decided_at or timezone.now()
    fields = ["state", "decided_at"]
    if target == TruststoreRequest.State.REJECTED:
        request.bundle = ""  # the staged bundle is discarded (the spec's Rejected)
        fields.append("bundle")
    # The engine records truststores.request.<state> in the same transaction.
    request.save(update_fields=fields)
    if target == TruststoreRequest.State.APPROVED:
        from truststores.tasks import deploy_request

        pk = request.pk
        # robust: a broker that is down must not undo the approval; retry() queues it again.
        transaction.on_commit(lambda: deploy_request.delay(pk), robust=True)


def register_kind() -> None:
    kinds.register(
        kinds.Kind(
            name=KIND,
            decide_permission=Perm.TRUSTSTORES_APPROVE,
            submit_permission=Perm.TRUSTSTORES_SUBMIT,
            audit_prefix=KIND,
            on_final=_on_final,
        )
    )


def compare_now(request: TruststoreRequest) -> dict[str, Any]:
    """The request's certificates against the bundle deployed now (it may have changed since
    the submission); the stored comparison once the request is itself the deployed one."""
    current = deployed(request.domain, request.truststore_type)
    if current is not None and current.pk == request.pk:
        return {**request.comparison, "at": "submit"}
    new = request.validation_result.get("certificates", [])
    return {
        **validation.compare(new, _certificates(current)),
        "deployed_request": current.pk if current else None,
        "at": "now",
    }


def _certificates(request: TruststoreRequest | None) -> list[dict[str, Any]] | None:
    """The validated certificate entries of a deployed request (None: nothing deployed)."""
    if request is None:
        return None
    return list(request.validation_result.get("certificates", []))
