"""Browser onboarding (seed 004): a one-time, expiring link an RA officer makes for a device.
Whoever opens it (no login) chooses a password and downloads the device's domain credential
once as a PKCS#12; the key is made on the server and never stored.

The token is 32 random bytes shown once; only its SHA-256 digest is kept, so a database
reader cannot use a link. Redeeming claims the link with one conditional UPDATE (... WHERE
used_at IS NULL AND revoked_at IS NULL AND expires_at > now) in the transaction that issues:
two fetches at once yield one credential, and a failed issuance leaves the link unused."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import record
from config.errors import Conflict, reason_of
from enrollment import services
from enrollment.models import Device, OnboardingLink
from enrollment.onboarding_pkcs12 import Pkcs12Credential, issue_pkcs12, require_onboardable
from pki.services.server_keys import check_password

TOKEN_BYTES = 32
LINK_TOKEN_RE = r"[A-Za-z0-9_-]{32,64}"  # noqa: S105 (token_urlsafe(32) is 43 characters)


class LinkRefused(Exception):
    """The link cannot be redeemed: 404 (unknown) or 410 (used, revoked, expired)."""

    def __init__(self, reason: str, status: int = 410) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class NewLink:
    link: OnboardingLink
    token: str  # shown once, never stored

    @property
    def path(self) -> str:
        return f"/onboard/{self.token}"


def lifetime() -> timedelta:
    return timedelta(minutes=settings.ANCHORAGE_ONBOARDING_LINK_MINUTES)


@transaction.atomic
def create_link(device: Device, user: User) -> NewLink:
    services.require_manager(user, device.domain)
    require_onboardable(device)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = OnboardingLink.objects.create(
        device=device,
        digest=services.secret_digest(token),
        expires_at=timezone.now() + lifetime(),
        created_by=user,
    )
    record(
        "enrollment.onboarding_link.created",
        actor=user,
        domain=device.domain,
        obj=link,
        details={"device": device.name, "expires_at": link.expires_at.isoformat()},
    )
    return NewLink(link, token)


@transaction.atomic
def revoke_link(link: OnboardingLink, user: User, *, comment: str = "") -> OnboardingLink:
    services.require_manager(user, link.device.domain)
    locked = OnboardingLink.objects.select_for_update().get(pk=link.pk)
    if locked.used_at is not None:
        raise Conflict("the link was used already", "already_used")
    if locked.revoked_at is not None:
        raise Conflict("the link is revoked already", "already_revoked")
    locked.revoked_at, locked.revoked_by = timezone.now(), user
    locked.save(update_fields=["revoked_at", "revoked_by"])
    record(
        "enrollment.onboarding_link.revoked",
        actor=user,
        domain=link.device.domain,
        obj=locked,
        details={"device": link.device.name, "comment": comment},
    )
    return locked


def find(token: str) -> OnboardingLink:
    """The open link `token` names; LinkRefused (audited) when it is unknown or closed."""
    digest = services.secret_digest(token)
    link = OnboardingLink.objects.select_related("device__domain").filter(digest=digest).first()
    # The lookup is by digest; the comparison is in constant time all the same.
    if link is None or not hmac.compare_digest(link.digest, digest):
        _refused(None, "this onboarding link is unknown", 404)
    state = link.state(timezone.now())
    reasons = {
        "used": "this onboarding link was used already: it works once",
        "revoked": "this onboarding link was revoked",
        "expired": "this onboarding link has expired",
    }
    if state in reasons:
        _refused(link, reasons[state], 410)
    return link


def redeem(token: str, password: str, again: str | None = None) -> Pkcs12Credential:
    """The device's domain credential as a PKCS#12, once. A bad password is refused before
    the link is touched (ValidationError); a closed link is LinkRefused."""
    link = find(token)
    check_password(password, again)
    try:
        with transaction.atomic():
            claimed = OnboardingLink.objects.filter(
                pk=link.pk,
                used_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).update(used_at=timezone.now())
            if claimed != 1:
                raise LinkRefused("this onboarding link was used already: it works once")
            made = issue_pkcs12(
                link.device,
                password,
                method=Device.Onboarding.BROWSER,
                requester=f"onboarding-link:{link.pk}",
            )
            OnboardingLink.objects.filter(pk=link.pk).update(certificate=made.certificate)
            record(
                "enrollment.onboarding_link.used",
                domain=link.device.domain,
                obj=link,
                details={"device": link.device.name, "serial": made.certificate.serial},
            )
            return made
    except LinkRefused as exc:
        _refused(link, exc.reason, exc.status)
    except Exception as exc:
        _audit_refusal(link, reason_of(exc))
        raise


def _refused(link: OnboardingLink | None, reason: str, status: int) -> NoReturn:
    _audit_refusal(link, reason)
    raise LinkRefused(reason, status)


def _audit_refusal(link: OnboardingLink | None, reason: str) -> None:
    """In a transaction of its own: the refusal outlives the rolled-back attempt."""
    with transaction.atomic():
        record(
            "enrollment.onboarding_link.refused",
            domain=link.device.domain if link is not None else None,
            obj=link,
            object_type="" if link is not None else "enrollment.onboardinglink",
            details={"reason": reason},
        )
