"""Delta CRLs as openssl applies them (`openssl verify -crl_check -use_deltas`): a revocation
after the complete CRL is caught by the delta alone, and a released hold's removeFromCRL in
the delta overrides the hold its base still lists (RFC 5280 §5.2.4)."""

from __future__ import annotations

import pytest

from pki.services import crls, revocation
from tests.pki.test_crls import leaf, revoke, verify_with_crl  # noqa: F401 (leaf: a fixture)

pytestmark = pytest.mark.django_db


def test_a_revocation_after_the_base_is_caught_by_the_delta(pki, leaf, tmp_path):  # noqa: F811
    root, issuing = pki
    cert = leaf()
    complete = crls.generate(issuing, delta=False)
    revoke(cert, "keyCompromise")
    delta = crls.generate(issuing, delta=True)
    base_only = verify_with_crl(tmp_path, root, issuing, bytes(cert.der), bytes(complete.der))
    assert base_only.returncode == 0, base_only.stdout + base_only.stderr
    both = (bytes(complete.der), bytes(delta.der))
    refused = verify_with_crl(tmp_path, root, issuing, bytes(cert.der), *both, deltas=True)
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr


def test_a_released_hold_is_valid_again_with_the_delta(pki, leaf, tmp_path):  # noqa: F811
    root, issuing = pki
    cert = leaf()
    revoke(cert, "certificateHold")
    complete = crls.generate(issuing, delta=False)
    held = verify_with_crl(tmp_path, root, issuing, bytes(cert.der), bytes(complete.der))
    assert held.returncode != 0 and "certificate revoked" in held.stdout + held.stderr

    revocation.release_hold(cert)
    delta = crls.generate(issuing, delta=True)
    both = (bytes(complete.der), bytes(delta.der))
    released = verify_with_crl(tmp_path, root, issuing, bytes(cert.der), *both, deltas=True)
    assert released.returncode == 0, released.stdout + released.stderr
