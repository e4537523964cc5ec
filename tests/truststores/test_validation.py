"""Bundle validation (issue 5 item 2): real certificates through every rule, every bad input
refused with a reason, and a few verdicts cross-checked with `openssl verify`."""

from __future__ import annotations

import base64
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from pki.crypto import bundles
from tests.truststores.bundle_certs import (
    NOW,
    chain,
    der,
    ed_key,
    make,
    openssl_ca,
    p256,
    pem,
    rsa_key,
)
from truststores.validation import BundleRefused, validate


def codes(result_findings: list[dict]) -> set[str]:
    return {f["code"] for f in result_findings}


def all_codes(v: object) -> set[str]:
    out = codes(v.findings)  # type: ignore[attr-defined]
    for c in v.certificates:  # type: ignore[attr-defined]
        out |= codes(c["findings"])
    return out


# --- good bundles -------------------------------------------------------------------------


def test_a_complete_chain_passes_with_every_fact_reported():
    certs = [c for c, _ in chain(3)]
    v = validate(pem(*reversed(certs)))  # issuing CA first, as the documentation asks
    assert v.verdict == "pass", v.as_json()
    assert v.certificate_count == 3
    entry = v.certificates[0]
    assert entry["subject"] == "CN=CA level 2"
    assert entry["issuer"] == "CN=CA level 1"
    assert entry["is_ca"] is True
    assert entry["key_algorithm"] == "ec" and entry["key_size"] == 256 and entry["curve"] == "P-256"
    assert entry["signature_algorithm"] == "ecdsa-with-SHA256"
    assert entry["signature_hash"] == "sha256"
    assert entry["self_signed"] is False and v.certificates[2]["self_signed"] is True
    assert entry["fingerprint_sha256"] == bundles.inspect(der(certs[2]))[0].fingerprint_sha256
    assert entry["verdict"] == "pass" and entry["findings"] == []
    j = v.as_json()
    assert {"verdict", "certificates", "findings", "summary"} <= set(j)
    assert j["summary"].startswith("pass: 3 certificates")


def test_rsa_2048_and_p384_roots_pass():
    k = ec.generate_private_key(ec.SECP384R1())
    v = validate(pem(make("rsa", rsa_key(2048)), make("p384", k, hash_alg=hashes.SHA384())))
    assert v.verdict == "pass", v.as_json()
    assert v.certificates[0]["key_size"] == 2048 and v.certificates[1]["curve"] == "P-384"


def test_pkcs7_der_and_pem_and_a_single_der_certificate_are_accepted():
    certs = [c for c, _ in chain(2)]
    p7der = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    p7pem = pkcs7.serialize_certificates(certs, serialization.Encoding.PEM)
    assert validate(p7der).certificate_count == 2
    assert validate(p7pem).verdict == "pass"
    assert validate(der(certs[0])).certificate_count == 1
    assert bundles.read_bundle(p7der) == [der(c) for c in certs]


def test_text_between_pem_blocks_is_ignored():
    a, b = (c for c, _ in chain(2))
    data = b"Operator roots\nsubject=CN=x\n" + pem(a) + b"\n# comment\n" + pem(b) + b"trailer"
    assert validate(data).certificate_count == 2


# --- certificate rules --------------------------------------------------------------------


def test_a_leaf_fails():
    ((root, rk),) = chain(1)
    leaf = make("device", p256(), (root, rk), ca=False)
    v = validate(pem(root, leaf))
    assert v.verdict == "fail"
    assert v.certificates[1]["verdict"] == "fail"
    assert "leaf / end-entity" in v.certificates[1]["findings"][0]["message"]
    assert v.certificates[0]["verdict"] == "pass"


def test_expired_not_yet_valid_and_expiring_soon():
    k = p256()
    expired = make("old", k, not_before=NOW - timedelta(days=90), not_after=NOW - timedelta(days=1))
    future = make("future", p256(), not_before=NOW + timedelta(days=2))
    soon = make("soon", p256(), not_after=NOW + timedelta(days=10))
    v = validate(pem(expired, future, soon))
    assert [c["findings"][0]["code"] for c in v.certificates] == [
        "expired",
        "not_yet_valid",
        "expiring_soon",
    ]
    assert [c["verdict"] for c in v.certificates] == ["fail", "fail", "warn"]
    assert validate(pem(soon)).verdict == "warn"


def test_now_is_a_parameter():
    root = make("r", p256(), not_after=NOW + timedelta(days=100))
    assert validate(pem(root), now=NOW + timedelta(days=200)).verdict == "fail"


def test_weak_keys_and_curves_fail():
    v = validate(
        pem(
            make("rsa1024", rsa_key(1024)),
            make("p521", ec.generate_private_key(ec.SECP521R1()), hash_alg=hashes.SHA512()),
            make("ed", ed_key()),
        )
    )
    assert [c["findings"][0]["code"] for c in v.certificates] == [
        "weak_key",
        "curve",
        "key_algorithm",
    ]
    assert v.certificates[1]["curve"] == "P-521"
    assert len(v.certificates[2]["findings"]) == 1  # an Ed25519 root: its key, nothing else
    assert v.verdict == "fail"


def test_sha1_on_an_intermediate_fails(tmp_path: Path):
    root = openssl_ca(tmp_path, "root", "sha256")
    inter = openssl_ca(tmp_path, "inter", "sha1", issuer="root")
    v = validate(inter + root)
    assert v.verdict == "fail"
    assert [f["code"] for f in v.certificates[0]["findings"]] == ["signature_hash"]
    assert v.certificates[0]["signature_algorithm"] == "sha1WithRSAEncryption"
    assert v.certificates[1]["verdict"] == "pass"


def test_sha1_on_a_self_signed_root_only_warns_and_says_why(tmp_path: Path):
    root = openssl_ca(tmp_path, "legacy root", "sha1")
    inter = openssl_ca(tmp_path, "inter", "sha256", issuer="legacy root")
    v = validate(inter + root)
    assert v.verdict == "warn", v.as_json()
    assert v.certificates[1]["self_signed"] is True
    [f] = v.certificates[1]["findings"]
    assert f["level"] == "warn" and f["code"] == "root_signature_hash"
    assert "signature on a trust anchor is not checked by relying parties" in f["message"]


# --- chains -------------------------------------------------------------------------------


def test_a_chain_of_four_passes_and_of_five_fails():
    four = [c for c, _ in chain(4, "four")]
    five = [c for c, _ in chain(5, "five")]
    assert validate(pem(*four)).verdict == "pass"
    v = validate(pem(*five, *four))
    assert v.verdict == "fail"
    [f] = [f for f in v.findings if f["code"] == "chain_too_long"]
    assert f["certificates"] == [4, 3, 2, 1, 0]
    assert "chain of 5 certificates" in f["message"]


def test_a_missing_issuer_fails_as_an_incomplete_chain():
    (root, _rk), (inter, ik) = chain(2)
    issuing = make("issuing", p256(), (inter, ik))
    v = validate(pem(issuing, root))  # the intermediate is left out
    assert v.verdict == "fail"
    assert v.certificates[0]["findings"][0]["code"] == "incomplete_chain"
    assert "incomplete chain" in v.findings[0]["message"]
    assert v.findings[0]["certificates"] == [0]


def test_a_wrong_signature_fails():
    ((root, _rk),) = chain(1)
    impostor_key = p256()
    # Names the root as issuer but is signed by another key: AKI and DN both match nothing real.
    inter = make("inter", p256(), (make("CA root", impostor_key), impostor_key))
    v = validate(pem(inter, root))
    assert v.verdict == "fail"
    assert v.certificates[0]["findings"][0]["code"] == "bad_signature"
    assert v.findings[0]["certificates"] == [0, 1]


def test_the_right_issuer_is_found_among_several_with_the_same_name():
    ((old_root, _old_key),) = chain(1)
    new_key = p256()
    new_root = make("CA root", new_key)
    inter = make("inter", p256(), (new_root, new_key))
    v = validate(pem(inter, old_root, new_root))
    assert v.verdict == "pass", v.as_json()


def test_issuers_that_loop_without_a_root_fail():
    ka, kb = p256(), p256()
    anchor = make("unused", p256())
    a = make("A", ka, (anchor, kb), issuer_cn="B")  # A issued by B's key
    b = make("B", kb, (anchor, ka), issuer_cn="A")  # B issued by A's key
    v = validate(pem(a, b))
    assert v.verdict == "fail"
    [f] = v.findings
    assert f["code"] == "incomplete_chain" and f["certificates"] == [0, 1]
    assert "loop" in f["message"]
    assert [c["verdict"] for c in v.certificates] == ["fail", "fail"]


def test_a_self_issued_certificate_whose_signature_fails_is_no_root():
    k = p256()
    other = make("R", p256())
    forged = make("R", k, (other, p256()))  # subject == issuer, signed by a stranger
    v = validate(pem(forged))
    assert v.certificates[0]["self_signed"] is False
    assert v.certificates[0]["findings"][0]["code"] == "bad_signature"


def test_a_leaf_is_never_taken_as_an_issuer():
    ((root, rk),) = chain(1)
    leaf_key = p256()
    leaf = make("issuer name", leaf_key, (root, rk), ca=False)
    child = make("child CA", p256(), (leaf, leaf_key))
    v = validate(pem(child, leaf, root))
    assert v.certificates[0]["findings"][0]["code"] == "incomplete_chain"


def test_an_intermediate_signed_by_an_ed25519_root_fails_for_its_signature():
    rk = ed_key()
    root = make("ed root", rk)
    inter = make("inter", p256(), (root, rk))
    v = validate(pem(inter, root))
    assert [f["code"] for f in v.certificates[0]["findings"]] == ["signature_hash"]
    assert "ed25519" in v.certificates[0]["signature_algorithm"].lower()


def test_issuer_names_match_case_insensitively():
    ((root, rk),) = chain(1)
    inter = make("inter", p256(), (root, rk), issuer_cn="ca  ROOT")  # RFC 5280 §7.1
    assert validate(pem(inter, root)).verdict == "pass"


def test_duplicates_warn():
    ((root, _),) = chain(1)
    v = validate(pem(root, root, root))
    assert v.verdict == "warn"
    [f] = v.findings
    assert f["code"] == "duplicate" and f["certificates"] == [0, 1, 2]


def test_a_validation_is_json_serialisable():
    import json

    v = validate(pem(*(c for c, _ in chain(2))))
    assert json.loads(json.dumps(v.as_json()))["verdict"] == "pass"


# --- refused input ------------------------------------------------------------------------

KEY = p256()


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"hello, this is not a bundle", "not a PEM bundle"),
        (bytes(range(256)) * 10, "not a PEM bundle"),
        (b"\x30\x82\x01\x00" + b"\x00" * 300, "not a PEM bundle"),
        (b"x" * (10 * 1024 * 1024), "larger than 5 MB"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "not a certificate"),
        (b"-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n", "X509 CRL"),
    ],
)
def test_unusable_input_is_refused_with_a_reason(data: bytes, reason: str):
    with pytest.raises(BundleRefused) as exc:
        validate(data)
    assert reason in exc.value.reason


def test_truncated_base64_and_a_missing_end_line_are_refused():
    text = pem(make("r", p256())).decode()
    body = text.splitlines()
    cut = "\n".join([*body[:3], body[3][:-3], *body[-1:]]) + "\n"  # base64 loses 3 characters
    with pytest.raises(BundleRefused, match=r"base64|not a certificate"):
        validate(cut.encode())
    with pytest.raises(BundleRefused, match="BEGIN line without its END"):
        validate("\n".join(body[:-1]).encode())


def test_begin_lines_without_end_are_refused_in_linear_time():
    import time

    data = (b"-----BEGIN CERTIFICATE-----\n" + b"A" * 1000 + b"\n") * 4500
    t = time.perf_counter()
    with pytest.raises(BundleRefused, match="BEGIN line without its END"):
        validate(data)
    assert time.perf_counter() - t < 1.0


def test_a_certificate_that_does_not_parse_is_refused():
    d = der(make("r", p256()))
    text = (
        "-----BEGIN CERTIFICATE-----\n"
        + base64.b64encode(d[:-20]).decode()
        + "\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(BundleRefused, match="PEM block 1"):
        validate(text.encode())


def _keys() -> dict[str, bytes]:
    r = rsa_key()
    f = serialization.Encoding.PEM
    return {
        "PRIVATE KEY": KEY.private_bytes(
            f, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "RSA PRIVATE KEY": r.private_bytes(
            f, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
        "EC PRIVATE KEY": KEY.private_bytes(
            f, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
        "ENCRYPTED PRIVATE KEY": KEY.private_bytes(
            f, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
        ),
    }


@pytest.mark.parametrize(
    "label", ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]
)
def test_a_pem_bundle_with_a_private_key_is_refused_outright(label: str):
    key_pem = _keys()[label]
    assert f"BEGIN {label}-----".encode() in key_pem
    data = pem(make("r", KEY)) + key_pem
    with pytest.raises(BundleRefused, match="private key; it is refused outright"):
        validate(data)
    with pytest.raises(BundleRefused, match="private key"):  # even cut short
        validate(pem(make("r", KEY)) + key_pem[:60])


def test_der_keys_and_pkcs12_are_refused_outright():
    enc = serialization.Encoding.DER
    cert = make("r", KEY)
    blobs = [
        KEY.private_bytes(enc, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        KEY.private_bytes(
            enc, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
        ),
        pkcs12.serialize_key_and_certificates(b"x", KEY, cert, None, serialization.NoEncryption()),
        pkcs12.serialize_key_and_certificates(
            b"x", KEY, cert, None, serialization.BestAvailableEncryption(b"pw")
        ),
    ]
    for blob in blobs:
        with pytest.raises(BundleRefused, match="refused outright"):
            validate(blob)


def test_more_certificates_than_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bundles, "MAX_CERTIFICATES", 3)
    ((root, _),) = chain(1)
    with pytest.raises(BundleRefused, match="more than 3 certificates"):
        validate(pem(root, root, root, root))


# --- cross-check with openssl verify -----------------------------------------------------


def _openssl_ok(tmp_path: Path, target: bytes, cafile: bytes) -> bool:
    (tmp_path / "ca.pem").write_bytes(cafile)
    (tmp_path / "t.pem").write_bytes(target)
    r = subprocess.run(
        [
            "openssl",
            "verify",
            "-x509_strict",
            "-CAfile",
            str(tmp_path / "ca.pem"),
            str(tmp_path / "t.pem"),
        ],
        capture_output=True,
    )
    return r.returncode == 0


def test_verdicts_agree_with_openssl_verify(tmp_path: Path):
    (root, _rk), (inter, ik) = chain(2)
    issuing = make("issuing", p256(), (inter, ik))
    good = pem(issuing, inter, root)
    assert validate(good).verdict == "pass"
    assert _openssl_ok(tmp_path, pem(issuing), good)

    missing = pem(issuing, root)
    assert validate(missing).verdict == "fail"
    assert not _openssl_ok(tmp_path, pem(issuing), missing)

    other = p256()
    forged = make("issuing", p256(), (make("CA level 1", other), other))
    assert validate(pem(forged, inter, root)).verdict == "fail"
    assert not _openssl_ok(tmp_path, pem(forged), pem(inter, root))

    expired = make("gone", p256(), (inter, ik), not_after=NOW - timedelta(days=1))
    assert validate(pem(expired, inter, root)).verdict == "fail"
    assert not _openssl_ok(tmp_path, pem(expired), good)
