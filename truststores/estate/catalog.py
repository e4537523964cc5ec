"""Trust lists and the CA certificates they name: creating a list (with an empty first
version), reading CA certificates into TrustedCA rows, and reading versions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from accounts.roles import Perm, has_perm
from audit.services import record
from config.errors import Conflict, Forbidden
from pki.crypto.bundles import BundleRefused, inspect
from pki.models import Domain
from truststores.estate.models import (
    TrustedCA,
    TrustList,
    TrustListEntry,
    TrustListVersion,
    TrustScope,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
# What the API's serializers accept before fingerprint_of reads it: plain hex, or the
# colon-separated upper-case form openssl and keytool print.
FINGERPRINT_PATTERN = r"^[0-9a-fA-F:]{64,95}$"


def fingerprint_of(value: Any) -> str | None:
    """A SHA-256 fingerprint as stored (64 lower-case hex digits) from hex in either case,
    with or without colons; None when it is not one."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    text = value.replace(":", "").strip().lower()
    return text if _HEX64.fullmatch(text) else None


def require(user: User, perm: Perm, domain: Domain) -> None:
    if not has_perm(user, perm, domain):
        raise Forbidden(f"you do not hold {perm.value} in domain {domain.slug}")


@transaction.atomic
def create_list(
    domain: Domain,
    user: User,
    *,
    scope: str,
    name: str,
    slug: str,
    description: str = "",
) -> TrustList:
    """A new list with an empty version 1: CAs come in through approved changes."""
    require(user, Perm.ESTATE_MANAGE, domain)
    if scope not in TrustScope.values:
        raise ValidationError(f"scope must be one of {', '.join(TrustScope.values)}")
    validate_slug(slug)
    if not name.strip():
        raise ValidationError("a trust list needs a name")
    try:
        with transaction.atomic():
            trust_list = TrustList.objects.create(
                domain=domain, scope=scope, name=name.strip(), slug=slug, description=description
            )
    except IntegrityError:
        raise Conflict(f"domain {domain.slug} already has a list {slug!r}", "exists") from None
    version = TrustListVersion.objects.create(
        trust_list=trust_list, number=1, created_by=user, note="created empty"
    )
    trust_list.current_version = version
    trust_list.save(update_fields=["current_version"])
    record(
        "estate.trust_list.created",
        actor=user,
        domain=domain,
        obj=trust_list,
        details={"slug": slug, "scope": scope},
    )
    return trust_list


def import_cas(domain: Domain, data: bytes) -> list[TrustedCA]:
    """The CA certificates of a PEM bundle, PKCS#7 or DER certificate as TrustedCA rows of
    the domain (existing rows reused, by fingerprint). Refuses non-CA certificates: a
    trust list holds trust anchors and intermediates, never leaf certificates."""
    try:
        found = inspect(data)
    except BundleRefused as exc:
        raise ValidationError(f"certificates refused: {exc.reason}") from None
    not_ca = [f.subject for f in found if not f.is_ca]
    if not_ca:
        raise ValidationError(f"not CA certificates: {'; '.join(not_ca[:5])}")
    rows = [
        TrustedCA(
            domain=domain,
            fingerprint=f.fingerprint_sha256,
            der=f.der,
            subject=f.subject[:500],
            issuer=f.issuer[:500],
            not_before=f.not_before,
            not_after=f.not_after,
            self_signed=f.self_signed,
        )
        for f in found
    ]
    TrustedCA.objects.bulk_create(rows, ignore_conflicts=True)
    prints = [f.fingerprint_sha256 for f in found]
    by_print = {
        c.fingerprint: c for c in TrustedCA.objects.filter(domain=domain, fingerprint__in=prints)
    }
    ordered: dict[str, TrustedCA] = {}
    for fp in prints:
        ordered.setdefault(fp, by_print[fp])
    return list(ordered.values())


def cas_by_fingerprint(domain: Domain, fingerprints: Iterable[str]) -> list[TrustedCA]:
    """The domain's known CAs by fingerprint (any form fingerprint_of reads); every one
    must be known."""
    given = list(fingerprints)
    wanted = {fingerprint_of(fp) for fp in given}
    if None in wanted:
        raise ValidationError("not a SHA-256 fingerprint (64 hex digits, colons allowed)")
    wanted.discard(None)
    found = list(TrustedCA.objects.filter(domain=domain, fingerprint__in=wanted))
    missing = {fp for fp in wanted if fp is not None} - {c.fingerprint for c in found}
    if missing:
        raise ValidationError(
            f"unknown CA fingerprints in {domain.slug}: {', '.join(sorted(missing))}"
        )
    return found


def version_cas(version: TrustListVersion) -> QuerySet[TrustedCA]:
    return TrustedCA.objects.filter(
        pk__in=TrustListEntry.objects.filter(version=version).values("ca_id")
    ).order_by("subject", "fingerprint")


def version_fingerprints(version: TrustListVersion | None) -> set[str]:
    if version is None:
        return set()
    return set(
        TrustListEntry.objects.filter(version=version).values_list("ca__fingerprint", flat=True)
    )


def new_version(
    trust_list: TrustList,
    cas: Iterable[TrustedCA],
    user: User | None,
    *,
    note: str,
    change_id: int | None = None,
    restored_from: TrustListVersion | None = None,
) -> TrustListVersion:
    """The next version of a list holding exactly `cas`, made current. The caller holds
    the list's row lock (select_for_update) inside its transaction."""
    current = trust_list.current_version
    number = (
        TrustListVersion.objects.filter(trust_list=trust_list)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
        or 0
    ) + 1
    version = TrustListVersion.objects.create(
        trust_list=trust_list,
        number=number,
        parent=current,
        change_id=change_id,
        restored_from=restored_from,
        note=note[:300],
        created_by=user,
    )
    TrustListEntry.objects.bulk_create(
        [TrustListEntry(version=version, ca=ca) for ca in {c.pk: c for c in cas}.values()]
    )
    trust_list.current_version = version
    trust_list.save(update_fields=["current_version"])
    return version
