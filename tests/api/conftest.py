"""Objects of two domains for the API tests, and a user who holds every role in one of them.

OBJECT_FACTORIES names, per model served by an API route with an object lookup, how to make one
such object in a given domain. The URLconf walk (test_urlconf_walk.py) fails for a route whose
model has no factory here: add one when you add a viewset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from django.db import models, transaction
from django.test import Client
from django.utils import timezone

from accounts.roles import Perm, Role, grant_role
from accounts.services import create_token
from approvals.models import ApprovalRequest
from audit.services import record
from enrollment import services as enrollment
from pki.crypto.keys import KeyAlgorithm
from pki.models import CertificateAuthority, Domain, Profile
from pki.services import ceremonies, hierarchy, issuance, profiles, requests
from tests.conftest import MakeUser
from tests.pki.conftest import make_csr, pki  # noqa: F401 (fixtures for tests/api)
from tests.pki.helpers import TLS_SERVER
from tests.truststores.certs import good_bundle
from truststores import services as truststores
from truststores.models import DeploymentTarget, TruststoreRequest

Factory = Callable[[Domain, User], models.Model]


def _domain(domain: Domain, submitter: User) -> models.Model:
    return domain


def _approval_request(domain: Domain, submitter: User) -> models.Model:
    return ApprovalRequest.objects.create(
        kind="test.walk",
        domain=domain,
        subject_type="test.subject",
        subject_id="1",
        summary=f"walk target in {domain.slug}",
        submitter=submitter,
        required_approvals=1,
        eligible_permission=Perm.CERTS_APPROVE.value,
    )


def _audit_event(domain: Domain, submitter: User) -> models.Model:
    with transaction.atomic():
        return record(
            "test.walk", actor=submitter, domain=domain, object_type="test", object_id="1"
        )


# PKI objects. Each factory stands alone (the walk calls them in any order): the domain's
# local PKI and a profile are made by whichever needs them first. Profile names and CA slugs
# carry the domain's slug, so a name looked up without ?domain= finds one domain's object.


def _walk_user(domain: Domain, role: Role) -> User:
    user, created = User.objects.get_or_create(username=f"walk-{role.value}-{domain.slug}")
    if created:
        grant_role(user, role, domain)
    return user


def _walk_cas(domain: Domain) -> tuple[CertificateAuthority, CertificateAuthority]:
    found = list(CertificateAuthority.objects.filter(domain=domain).order_by("created_at"))
    if found:
        return found[0], found[1]
    return hierarchy.create_local_pki(domain, KeyAlgorithm.EC_P256)


def _walk_profile_name(domain: Domain) -> str:
    return f"walk-{domain.slug}"


def _walk_profile(domain: Domain) -> Profile:
    profile = Profile.objects.filter(domain=domain, name=_walk_profile_name(domain)).first()
    if profile is not None:
        return profile
    spec = {**TLS_SERVER, "dns_suffixes": [f"{domain.slug}.test"]}
    return profiles.save_profile(
        domain, _walk_profile_name(domain), spec, _walk_cas(domain)[1]
    ).profile


def new_csr(cn: str, sans: list[str] | None = None) -> bytes:
    """A CSR (PEM) for `cn` with a fresh P-256 key; the SANs are [cn] unless given."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [cn] if sans is None else sans
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def _walk_csr(domain: Domain) -> bytes:
    return new_csr(f"walk.{domain.slug}.test")


def _ca(domain: Domain, submitter: User) -> models.Model:
    return _walk_cas(domain)[1]


def _issued_certificate(domain: Domain, submitter: User) -> models.Model:
    _walk_profile(domain)
    issued = issuance.issue(
        issuance.IssueRequest(
            domain=domain,
            profile=_walk_profile_name(domain),
            csr=_walk_csr(domain),
            protocol="api",
            requester="walk-factory",
        )
    )
    return issued.certificate


def _ceremony(domain: Domain, submitter: User) -> models.Model:
    return ceremonies.start(
        domain,
        "create_root",
        purpose="walk target",
        threshold=1,
        custodians=[_walk_user(domain, Role.CUSTODIAN)],
        started_by=_walk_user(domain, Role.OPERATOR),
        params={"slug": f"walk-root-{domain.slug}", "algorithm": KeyAlgorithm.EC_P256.value},
    )


def _profile(domain: Domain, submitter: User) -> models.Model:
    return _walk_profile(domain)


def _certificate_request(domain: Domain, submitter: User) -> models.Model:
    _walk_profile(domain)
    return requests.submit(domain, _walk_profile_name(domain), _walk_csr(domain), submitter)


def _truststore_request(domain: Domain, submitter: User) -> models.Model:
    # Marked Ready here (test data, no swap) so /api/v1/truststores/mtls has a bundle to show.
    request = truststores.submit(
        domain,
        submitter,
        name=f"walk roots {domain.slug}",
        truststore_type="mtls",
        bundle=good_bundle(f"Walk {domain.slug}"),
    )
    TruststoreRequest.objects.filter(pk=request.pk).update(
        state=TruststoreRequest.State.READY, ready_at=timezone.now()
    )
    return request


def _deployment_target(domain: Domain, submitter: User) -> models.Model:
    return DeploymentTarget.objects.create(
        domain=domain, truststore_type="mtls", path=f"/tmp/walk-{domain.slug}.pem"
    )


def _device(domain: Domain, submitter: User) -> models.Model:
    return enrollment.create_device(domain, None, name=f"walk-device-{domain.slug}")


def _enrollment_credential(domain: Domain, submitter: User) -> models.Model:
    return enrollment.create_credential(domain, None, username=f"walk-{domain.slug}")[0]


def _onboarding_link(domain: Domain, submitter: User) -> models.Model:
    from enrollment import onboarding_links
    from enrollment.models import Device

    device = enrollment.create_device(
        domain,
        None,
        name=f"walk-onboarding-{domain.slug}",
        onboarding_method=Device.Onboarding.BROWSER,
    )
    return onboarding_links.create_link(device, _walk_user(domain, Role.RA_OFFICER)).link


def _cmp_secret(domain: Domain, submitter: User) -> models.Model:
    from enrollment.cmp import services as cmp

    return cmp.create_secret(domain, None, reference=f"walk-{domain.slug}")[0]


def _acme_eab_key(domain: Domain, submitter: User) -> models.Model:
    from enrollment.acme import eab

    return eab.create_key(domain, comment="walk").key


def _acme_renewal_flag(domain: Domain, submitter: User) -> models.Model:
    from enrollment.acme import ari

    ca = _walk_cas(domain)[1]
    assert isinstance(ca, CertificateAuthority)
    return ari.flag(domain, ca=ca, explanation_url="https://walk.test/why")


def _estate_list(domain: Domain, submitter: User) -> models.Model:
    from truststores.estate import catalog
    from truststores.estate.models import TrustList

    found = TrustList.objects.filter(domain=domain, slug="walk").first()
    if found is not None:
        return found
    return catalog.create_list(
        domain, _walk_user(domain, Role.RA_OFFICER), scope="internal", name="Walk", slug="walk"
    )


def _estate_consumer(domain: Domain, submitter: User) -> models.Model:
    from truststores.estate import inventory
    from truststores.estate.models import Consumer

    found = Consumer.objects.filter(domain=domain, name="walk-consumer").first()
    if found is not None:
        return found
    _estate_list(domain, submitter)
    fields = {
        "name": "walk-consumer",
        "kind": "jvm",
        "category": "application",
        "distribution": "manual",
        "trust_list": "walk",
    }
    return inventory.create_consumer(domain, _walk_user(domain, Role.RA_OFFICER), fields)


def _estate_change(domain: Domain, submitter: User) -> models.Model:
    from truststores.estate import catalog, changes
    from truststores.estate.models import TrustList

    trust_list = _estate_list(domain, submitter)
    assert isinstance(trust_list, TrustList)
    cas = catalog.import_cas(domain, good_bundle(f"Estate walk {domain.slug}"))
    return changes.propose_add(trust_list, cas[:1], _walk_user(domain, Role.RA_OFFICER))


def _estate_finding(domain: Domain, submitter: User) -> models.Model:
    from truststores.estate.models import Consumer, DriftFinding

    consumer = _estate_consumer(domain, submitter)
    assert isinstance(consumer, Consumer)
    now = timezone.now()
    return DriftFinding.objects.create(
        domain=domain, consumer=consumer, kind="stale_report", first_seen=now, last_seen=now
    )


OBJECT_FACTORIES: dict[str, Factory] = {
    "pki.domain": _domain,
    "approvals.approvalrequest": _approval_request,
    "audit.auditevent": _audit_event,
    "pki.certificateauthority": _ca,
    "pki.issuedcertificate": _issued_certificate,
    "pki.ceremony": _ceremony,
    "pki.profile": _profile,
    "pki.certificaterequest": _certificate_request,
    "truststores.truststorerequest": _truststore_request,
    "truststores.deploymenttarget": _deployment_target,
    "enrollment.device": _device,
    "enrollment.enrollmentcredential": _enrollment_credential,
    "enrollment.onboardinglink": _onboarding_link,
    "cmp.cmpsecret": _cmp_secret,
    "acme.externalaccountkey": _acme_eab_key,
    "acme.renewalflag": _acme_renewal_flag,
    "estate.trustlist": _estate_list,
    "estate.consumer": _estate_consumer,
    "estate.trustlistchange": _estate_change,
    "estate.driftfinding": _estate_finding,
}


def _estate_removal_plan(domain: Domain, submitter: User) -> models.Model:
    # Its own list and CA, so it does not depend on the other estate factories.
    from truststores.estate import catalog, removal
    from truststores.estate.models import TrustList

    ra = _walk_user(domain, Role.RA_OFFICER)
    trust_list = TrustList.objects.filter(domain=domain, slug="walk-removal").first()
    if trust_list is None:
        trust_list = catalog.create_list(
            domain, ra, scope="internal", name="Walk removal", slug="walk-removal"
        )
    ca = catalog.import_cas(domain, good_bundle(f"Removal walk {domain.slug}"))[0]
    with transaction.atomic():  # a list holding the CA, without an approval round
        locked = TrustList.objects.select_for_update().get(pk=trust_list.pk)
        catalog.new_version(locked, [ca], ra, note="walk")
    return removal.create_plan(domain, ra, ca, now=timezone.now(), trust_lists=[trust_list])


OBJECT_FACTORIES["estate.removalplan"] = _estate_removal_plan


@dataclass
class WalkObjects:
    """For each model label: an object in the user's own domain and one in the other."""

    own: dict[str, models.Model]
    other: dict[str, models.Model]


@pytest.fixture
def walk_objects(domain: Domain, other_domain: Domain, make_user: MakeUser) -> WalkObjects:
    submitter = make_user("walk-submitter")
    grant_role(submitter, Role.RA_OFFICER, domain)
    grant_role(submitter, Role.RA_OFFICER, other_domain)
    return WalkObjects(
        own={label: make(domain, submitter) for label, make in OBJECT_FACTORIES.items()},
        other={label: make(other_domain, submitter) for label, make in OBJECT_FACTORIES.items()},
    )


@pytest.fixture
def alpha_user(domain: Domain, make_user: MakeUser) -> User:
    """Every role in domain alpha (the `domain` fixture), nothing anywhere else."""
    user = make_user("alpha-all-roles")
    for role in Role:
        grant_role(user, role, domain)
    return user


def token_client(user: User) -> Client:
    """A plain Django client sending the user's token; a 500 comes back, not raised."""
    _, key = create_token(user, "test")
    return Client(raise_request_exception=False, headers={"Authorization": f"Token {key}"})


@pytest.fixture
def alpha_client(alpha_user: User) -> Client:
    return token_client(alpha_user)


@pytest.fixture
def anon_client() -> Client:
    return Client(raise_request_exception=False)
