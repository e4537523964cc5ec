"""Conformance probes with the real `openssl cmp` (3.0): what the Lightweight CMP profile
(RFC 9483) and RFC 4210 / RFC 9480 say about the header and the bodies, checked the way a
strict client checks them (-expect_sender, -popo, -reqout / -rspout ...)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from enrollment.cmp.models import CmpTransaction
from tests.enrollment.cmp.conftest import Cmp


def subject_of(path: object) -> str:
    done = subprocess.run(
        ["openssl", "x509", "-in", str(path), "-noout", "-subject", "-nameopt", "compat"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().removeprefix("subject=")


def test_a_mac_protected_answer_comes_from_the_ca_openssl_expects(cmp: Cmp) -> None:
    """RFC 9483 §3.1: to a NULL-DN recipient the answer's sender names the CA, which a
    client pins with -expect_sender."""
    key = cmp.key("s1")
    common: list[str | Path] = ["-cmd", "ir", *cmp.mac(), "-newkey", key]
    common += ["-subject", "/CN=s1.alpha.test"]
    common += ["-sans", "s1.alpha.test", "-implicit_confirm", "-trusted", cmp.root_pem]
    ok = cmp.run(*common, "-expect_sender", subject_of(cmp.issuing_pem))
    assert ok.returncode == 0, ok.output
    wrong = cmp.run(*common, "-expect_sender", "/CN=Someone Else")
    assert wrong.returncode != 0 and "does not match expected sender" in wrong.output


def test_pop_choices_openssl_can_send(cmp: Cmp) -> None:
    """RFC 4211 §4 / RFC 9483 §4.1.1: an end entity proves possession by signature; none
    (-popo -1), raVerified (0, an RA's word, never an end entity's) and key encipherment (2)
    are refused with badPOP and issue nothing."""
    key = cmp.key("pop")
    reasons = {
        "-1": "no proof of possession",
        "0": "raVerified is not accepted from an end entity",
        "2": "POP by keyEncipherment is not supported",
    }
    for popo, reason in reasons.items():
        done = cmp.run(
            "-cmd", "ir", *cmp.mac(), "-newkey", key, "-subject", "/CN=pop.alpha.test",
            "-popo", popo,
        )  # fmt: skip
        assert done.returncode != 0 and "badPOP" in done.output, done.output
        assert reason in done.output, done.output
    signed = cmp.run(
        "-cmd", "ir", *cmp.mac(), "-newkey", key, "-subject", "/CN=pop.alpha.test",
        "-sans", "pop.alpha.test", "-popo", "1",
    )  # fmt: skip
    assert signed.returncode == 0, signed.output


def test_kur_with_another_certificate_in_old_cert_is_bad_cert_id(cmp: Cmp, enrolled) -> None:
    """RFC 9483 §4.1.3: the certificate to update (-oldcert) is the one that signs."""
    c1, k1 = enrolled("u1", "-implicit_confirm")
    c2, _ = enrolled("u2", "-implicit_confirm")
    done = cmp.run(
        "-cmd", "kur", "-cert", c1, "-key", k1, "-oldcert", c2, "-newkey", cmp.key("u3"),
        "-trusted", cmp.root_pem,
    )  # fmt: skip
    assert done.returncode != 0 and "badCertId" in done.output, done.output


def asn1parse(path: object) -> str:
    done = subprocess.run(
        ["openssl", "asn1parse", "-inform", "DER", "-in", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_implicit_confirm_only_when_asked_and_unprotected_requests_refused(cmp: Cmp) -> None:
    """RFC 9483 §3.1 / §4.1.1: implicitConfirm in the ip's generalInfo only when the ir asked
    (-implicit_confirm), none after -disable_confirm (the certificate then waits for a certConf
    that never comes); an unprotected ir is badMessageCheck (RFC 9483 §3.2)."""
    key = cmp.key("ic")
    base: list[str | Path] = ["-cmd", "ir", *cmp.mac(), "-newkey", key]
    base += ["-subject", "/CN=ic.alpha.test"]
    base += ["-sans", "ic.alpha.test", "-trusted", cmp.root_pem]
    asked, plain = cmp.dir / "asked.der", cmp.dir / "plain.der"
    assert cmp.run(*base, "-implicit_confirm", "-rspout", asked).returncode == 0
    assert cmp.run(*base, "-disable_confirm", "-rspout", plain).returncode == 0
    assert "implicitConfirm" in asn1parse(asked)
    assert "implicitConfirm" not in asn1parse(plain)
    states = sorted(CmpTransaction.objects.values_list("state", flat=True))
    assert states == [CmpTransaction.State.CONFIRMED, CmpTransaction.State.WAITING]
    bare = cmp.run(
        "-cmd", "ir", "-unprotected_requests", "-newkey", key, "-subject", "/CN=ic.alpha.test",
    )  # fmt: skip
    assert bare.returncode != 0 and "badMessageCheck" in bare.output, bare.output
    assert CmpTransaction.objects.count() == 2
