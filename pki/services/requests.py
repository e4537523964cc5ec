"""The RA split (seed 002, F53): an RA officer requests, someone holding certs.issue
approves, and only then does issue() run, as that approver."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.roles import Perm, has_perm
from approvals import kinds
from approvals import services as approvals
from approvals.models import ApprovalRequest, Decision
from audit.services import record
from config.errors import Forbidden
from pki.crypto.csr import CsrError, inspect
from pki.models import CertificateRequest, Domain, Profile, Protocol
from pki.services import profiles
from pki.services.issuance import ProfileDenied

KIND = "pki.certificate_request"


@transaction.atomic
def submit(
    domain: Domain, profile_name: str, csr: bytes | str, requested_by: User, comment: str = ""
) -> CertificateRequest:
    if not has_perm(requested_by, Perm.CERTS_REQUEST, domain):
        raise Forbidden(f"you do not hold {Perm.CERTS_REQUEST.value} in domain {domain.slug}")
    profile = Profile.objects.filter(domain=domain, name=profile_name).first()
    if profile is None:
        raise ValidationError({"profile": f"no profile {profile_name!r} in domain {domain.slug}"})
    try:
        info = inspect(csr)
    except CsrError as exc:
        raise ValidationError(f"csr: {exc}") from None
    # Tell the officer now what the profile will say; issue() checks again at approval.
    verdict = profiles.evaluate(
        profiles.ProfileSpec.parse(profiles.current(profile).spec), info, protocol=Protocol.API
    )
    if not verdict.allowed:
        raise ProfileDenied(verdict.reasons)
    request = CertificateRequest.objects.create(
        domain=domain,
        profile=profile,
        csr=info.der,
        subject=info.subject_text[:500],
        comment=comment,
        requested_by=requested_by,
    )
    request.approval = approvals.submit(
        kind=KIND,
        domain=domain,
        subject_type="pki.certificaterequest",
        subject_id=str(request.pk),
        submitter=requested_by,
        summary=f"{profile_name} certificate for {info.subject_text or ', '.join(info.dns_names)}",
        payload={"profile": profile_name, "sans": info.dns_names + info.ip_addresses},
    )
    request.save(update_fields=["approval"])
    record(
        "certs.request.created",
        actor=requested_by,
        domain=domain,
        obj=request,
        details={"profile": profile_name, "subject": request.subject, "comment": comment},
    )
    return request


def _action(approval: ApprovalRequest) -> dict[str, Any]:
    from pki.services.issuance import IssueRequest, issue

    request = CertificateRequest.objects.select_for_update().get(pk=int(approval.subject_id))
    decision = approval.decisions.filter(verdict=Decision.Verdict.APPROVE).last()
    assert decision is not None
    issued = issue(
        IssueRequest(
            domain=request.domain,
            profile=request.profile.name,
            csr=bytes(request.csr),
            protocol=Protocol.API,
            user=decision.approver,
            idempotency_key=f"certificate-request-{request.pk}",
            extra={"certificate_request": str(request.pk)},
        )
    )
    request.state = CertificateRequest.State.ISSUED
    request.certificate = issued.certificate
    request.save(update_fields=["state", "certificate"])
    return {"serial": issued.certificate.serial}


def _on_final(approval: ApprovalRequest) -> None:
    states: dict[str, str] = {
        ApprovalRequest.State.REJECTED: CertificateRequest.State.REJECTED,
        ApprovalRequest.State.CANCELLED: CertificateRequest.State.CANCELLED,
    }
    if approval.state in states:
        CertificateRequest.objects.filter(approval=approval).update(state=states[approval.state])


def _on_failed(approval: ApprovalRequest, error: str) -> None:
    CertificateRequest.objects.filter(approval=approval).update(
        state=CertificateRequest.State.FAILED, failure=error
    )


def register_kind() -> None:
    kinds.register(
        kinds.Kind(
            name=KIND,
            decide_permission=Perm.CERTS_ISSUE,
            submit_permission=Perm.CERTS_REQUEST,
            audit_prefix="certs.request",
            action=_action,
            on_final=_on_final,
            on_failed=_on_failed,
        )
    )
