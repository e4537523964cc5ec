"""Profiles: versioning and the rules of evaluate(), one reason per broken rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from pki.crypto.csr import inspect
from pki.models import Profile
from pki.services import profiles
from pki.services.profiles import ProfileSpec, evaluate
from tests.pki.helpers import TLS_SERVER


def test_an_edit_makes_a_new_version_and_keeps_the_old(pki, domain):
    _, issuing = pki
    profile = Profile.objects.get(domain=domain, name="tls-server")
    v2 = profiles.save_profile(
        domain, "tls-server", {**TLS_SERVER, "validity_days": 30}, issuing, comment="shorter"
    )
    assert v2.version == 2
    profile.refresh_from_db()
    assert profile.current_version == 2
    assert profile.versions.get(version=1).spec["validity_days"] == 90
    assert profiles.diff(profile.versions.get(version=1).spec, v2.spec) == {
        "validity_days": {"before": 90, "after": 30}
    }
    assert AuditEvent.objects.filter(action="pki.profile.versioned").count() == 1


def test_an_unchanged_spec_makes_no_version_but_a_description_is_kept(pki, domain):
    _, issuing = pki
    same = profiles.save_profile(domain, "tls-server", TLS_SERVER, issuing, description="web")
    assert same.version == 1
    assert Profile.objects.get(domain=domain, name="tls-server").description == "web"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_rsa_bits": 1024}, "min_rsa_bits"),
        ({"key_usage": ["keyCertSign"]}, "end-entity key usages"),
        ({"validity_days": 500}, "validity_days"),
        ({"ekus": ["notAnEku"]}, "ekus"),
        ({"protocols": ["scep"]}, "protocols"),
        ({"ip_networks": ["10.0.0.0/33"]}, "not an IP network"),
        ({"surprise": 1}, "unknown profile fields"),
    ],
)
def test_bad_specs_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        ProfileSpec.parse({**TLS_SERVER, **change})


def _spec(**kw):
    return ProfileSpec.parse({**TLS_SERVER, **kw})


def test_wildcards_need_permission(make_csr):
    csr = inspect(make_csr("*.alpha.test"))
    assert not evaluate(_spec(), csr, protocol="api").allowed
    assert evaluate(_spec(allow_wildcards=True), csr, protocol="api").allowed


def test_suffix_match_is_on_label_boundaries(make_csr):
    verdict = evaluate(_spec(), inspect(make_csr("evilalpha.test")), protocol="api")
    assert not verdict.allowed and "outside the allowed suffixes" in verdict.reasons[0]


def test_protocol_and_required_san(make_csr):
    verdict = evaluate(_spec(protocols=["acme"]), inspect(make_csr(sans=[])), protocol="api")
    assert "does not allow issuance over api" in verdict.reasons[0]
    assert "a subject alternative name is required" in verdict.reasons


def test_common_name_must_be_among_the_sans(make_csr):
    csr = inspect(make_csr("a.alpha.test", sans=["b.alpha.test"]))
    verdict = evaluate(_spec(), csr, protocol="api")
    assert any("common name" in r for r in verdict.reasons)
    assert evaluate(_spec(cn_in_san=False), csr, protocol="api").allowed


def test_every_reason_is_reported(make_csr):
    csr = inspect(make_csr("www.example.com", key="rsa1024"))
    verdict = evaluate(_spec(), csr, protocol="cmp", validity_days=1000)
    assert len(verdict.reasons) >= 3
