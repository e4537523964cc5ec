"""The check every key backend passes before a CA may use it (seed 002, F26).

Sign a probe and verify it with the public key; a wrong message and a tampered signature
must both fail; a backend that says its keys cannot leave must refuse to export them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pki.crypto.backends import KeyBackend
from pki.crypto.keys import ExportRefused, KeyAlgorithm, verify


@dataclass
class ConformanceReport:
    backend: str
    algorithm: str
    reference: str = ""
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check(
    backend: KeyBackend, algorithm: KeyAlgorithm, label: str = "conformance"
) -> ConformanceReport:
    report = ConformanceReport(backend.alias, str(algorithm))
    generated = backend.generate(algorithm, label)
    report.reference = generated.reference
    signer = backend.signer(generated.reference)
    if signer.algorithm is not algorithm:
        report.failures.append(f"asked for {algorithm}, got a {signer.algorithm} key")
    probe = b"anchorage conformance probe " + os.urandom(16)
    signature = signer.sign(probe)
    if not verify(signer.public_key(), signature, probe):
        report.failures.append("a signature over the probe does not verify")
    if verify(signer.public_key(), signature, probe + b"!"):
        report.failures.append("a signature verifies over a different message")
    tampered = bytearray(signature)
    tampered[len(tampered) // 2] ^= 0x01
    if verify(signer.public_key(), bytes(tampered), probe):
        report.failures.append("a tampered signature verifies")
    if not backend.exportable:
        try:
            backend.export_private_key(generated.reference)
        except ExportRefused:
            pass
        else:
            report.failures.append("the backend exported a key it says cannot leave")
    return report
