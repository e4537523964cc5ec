"""Comparison with the deployed bundle (issue 5 item 4): added, removed and kept CAs by
fingerprint, and a loud warning when CAs are removed."""

from __future__ import annotations

from tests.truststores.bundle_certs import make, p256, pem
from truststores.validation import compare, validate

A, B, C = (make(f"CA {n}", p256()) for n in "ABC")


def test_nothing_deployed_yet_everything_is_added():
    result = compare(validate(pem(A)), None)
    assert result["deployed"] is False
    assert [c["subject"] for c in result["added"]] == ["CN=CA A"]
    assert result["removed"] == [] and result["kept"] == []
    assert result["removes_cas"] is False and result["warning"] is None


def test_added_removed_and_kept_by_fingerprint_with_subject_and_expiry():
    deployed = validate(pem(A, B)).certificates
    new = validate(pem(B, C))
    result = compare(new, deployed)
    assert [c["subject"] for c in result["added"]] == ["CN=CA C"]
    assert [c["subject"] for c in result["kept"]] == ["CN=CA B"]
    assert [c["subject"] for c in result["removed"]] == ["CN=CA A"]
    removed = result["removed"][0]
    assert removed["fingerprint_sha256"] == deployed[0]["fingerprint_sha256"]
    assert removed["not_after"] == deployed[0]["not_after"]
    assert result["removes_cas"] is True
    assert "clients whose certificates chain to these CAs will stop connecting" in result["warning"]
    assert "CN=CA A" in result["warning"]


def test_a_plain_list_of_entries_and_the_same_bundle_again():
    entries = validate(pem(A, B)).certificates
    result = compare(entries, entries)
    assert len(result["kept"]) == 2 and not result["added"] and not result["removed"]
    assert result["warning"] is None


def test_same_subject_new_key_counts_as_removed_and_added():
    a2 = make("CA A", p256())  # a re-keyed CA: different fingerprint, same name
    result = compare(validate(pem(a2)), validate(pem(A)).certificates)
    assert len(result["added"]) == 1 and len(result["removed"]) == 1
    assert result["removes_cas"] is True


def test_duplicates_in_the_new_bundle_are_listed_once():
    result = compare(validate(pem(A, A)), [])
    assert len(result["added"]) == 1
    assert result["deployed"] is True and result["removes_cas"] is False
