"""Shared by the hierarchy, ceremony, command and admin tests: the people of a ceremony, a
helper that takes a ceremony through quorum and the approval engine's task, CAs made through
ceremonies and leaves issued by them, the admin's ceremony action, and `openssl verify`
(openssl_verify, assert_verifies) for every test that checks a chain."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from django.test import Client

from accounts.roles import Role
from approvals import services as approvals
from approvals.tasks import run_action
from audit.models import AuditEvent
from pki.crypto import certs
from pki.models import Ceremony, CertificateAuthority, Domain
from pki.services import ceremonies
from pki.services.issuance import IssueRequest, issue

TLS_SERVER = {
    "key_types": ["rsa", "ec"],
    "ekus": ["serverAuth"],
    "key_usage": ["digitalSignature"],
    "validity_days": 90,
    "max_validity_days": 397,
    "dns_suffixes": ["alpha.test", "localhost"],
}

_names = itertools.count(1)


@dataclass
class People:
    domain: Domain
    operator: User  # proposes ceremonies, issues certificates
    custodians: list[User]  # three named custodians

    def start(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        secret: dict[str, Any] | None = None,
        threshold: int = 2,
        purpose: str = "test ceremony",
        custodians: list[User] | None = None,
        started_by: User | None = None,
    ) -> Ceremony:
        """Start a ceremony: by default the operator proposes it, naming the three custodians."""
        return ceremonies.start(
            self.domain,
            operation,
            purpose=purpose,
            threshold=threshold,
            custodians=self.custodians if custodians is None else custodians,
            started_by=self.operator if started_by is None else started_by,
            params=params,
            secret=secret,
        )

    def approve(self, ceremony: Ceremony, count: int) -> Ceremony:
        """Approvals from the first `count` custodians (those who have not yet decided)."""
        decided = set(ceremony.approval.decisions.values_list("approver_id", flat=True))
        for custodian in self.custodians[:count]:
            if custodian.pk not in decided:
                approvals.approve(ceremony.approval_id, custodian, "agreed")
        ceremony.refresh_from_db()
        return ceremony

    def run(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        secret: dict[str, Any] | None = None,
    ) -> Ceremony:
        """Start, collect the quorum (2 of 3), and run the engine's task as a worker would."""
        ceremony = self.approve(self.start(operation, params, secret=secret), 2)
        assert run_action(ceremony.approval_id) == "done", ceremony.approval.action_result
        ceremony.refresh_from_db()
        assert ceremony.state == Ceremony.State.DONE, ceremony.result
        return ceremony


def make_people(make_user: Any, domain: Domain) -> People:
    n = next(_names)
    return People(
        domain=domain,
        operator=make_user(f"op{n}", Role.OPERATOR, domain),
        custodians=[make_user(f"cust{n}-{i}", Role.CUSTODIAN, domain) for i in (1, 2, 3)],
    )


def get_ca(slug: str) -> CertificateAuthority:
    return CertificateAuthority.objects.get(slug=slug)


def create_root(people: People, slug: str, **params: object) -> CertificateAuthority:
    """A root (path length 1 unless `params` say otherwise) made through a 2-of-3 ceremony."""
    people.run(
        Ceremony.Operation.CREATE_ROOT,
        {"slug": slug, "name": slug.title(), "path_length": 1, **params},
    )
    return get_ca(slug)


def create_intermediate(
    people: People, slug: str, parent: CertificateAuthority, **params: object
) -> CertificateAuthority:
    """An intermediate below `parent`, made through a 2-of-3 ceremony."""
    people.run(
        Ceremony.Operation.CREATE_INTERMEDIATE,
        {"slug": slug, "name": slug.title(), "parent": parent.slug, **params},
    )
    return get_ca(slug)


def issue_leaf(people: People, profile: str, cn: str, make_csr: Callable[..., bytes]) -> bytes:
    """A leaf for `cn` issued under `profile` by the operator, as DER."""
    issued = issue(
        IssueRequest(
            domain=people.domain,
            profile=profile,
            csr=make_csr(cn),
            protocol="api",
            user=people.operator,
        )
    )
    return bytes(issued.certificate.der)


def ceremony_event(action: str, ceremony: Ceremony) -> AuditEvent:
    """The audit event `action` that `ceremony` recorded."""
    return AuditEvent.objects.get(action=action, details__ceremony_id=ceremony.pk)


def admin_run_operation(client: Client, ceremony: Ceremony) -> Any:
    """The ceremony admin's "run_operation" action on `ceremony`, redirects followed."""
    return client.post(
        "/admin/pki/ceremony/",
        {"action": "run_operation", "_selected_action": [ceremony.pk]},
        follow=True,
    )


def write_pem(path: Path, *certificates: bytes | str) -> Path:
    """Write certificates to `path` as PEM: DER bytes are converted, str is PEM already."""
    path.write_text(
        "".join(c if isinstance(c, str) else certs.der_to_pem(bytes(c)) for c in certificates)
    )
    return path


def openssl_verify(
    tmp_path: Path,
    *,
    trusted: Sequence[bytes | str],
    untrusted: Sequence[bytes | str] = (),
    target: bytes | str,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`openssl verify <extra> -CAfile <trusted> [-untrusted <untrusted>] <target>`.

    Certificates are DER bytes or PEM text; each call writes its own files under `tmp_path`.
    `extra` holds further options, e.g. ("-x509_strict", "-purpose", "sslserver")."""
    n = next(_names)
    args = [
        "openssl",
        "verify",
        *extra,
        "-CAfile",
        str(write_pem(tmp_path / f"ca{n}.pem", *trusted)),
    ]
    if untrusted:
        args += ["-untrusted", str(write_pem(tmp_path / f"untrusted{n}.pem", *untrusted))]
    args.append(str(write_pem(tmp_path / f"target{n}.pem", target)))
    return subprocess.run(args, capture_output=True, text=True, check=False)


def assert_verifies(
    tmp_path: Path,
    *,
    trusted: Sequence[bytes | str],
    untrusted: Sequence[bytes | str] = (),
    target: bytes | str,
    extra: tuple[str, ...] = (),
) -> None:
    """`openssl_verify` with the same arguments, which must say the target is OK."""
    result = openssl_verify(
        tmp_path, trusted=trusted, untrusted=untrusted, target=target, extra=extra
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": OK" in result.stdout, result.stdout


def import_secret(key: Any, cn: str = "Imported Root") -> dict[str, str]:
    """The secret of an import ceremony: `key` (PEM) and a self-signed CA certificate for it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return {
        "private_key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


def as_openssl(serial: str) -> str:
    """A serial as openssl prints it: whole octets."""
    return serial.rjust(len(serial) + len(serial) % 2, "0")


def ceremony_ca(
    domain: Domain, operator: User, custodian: User, operation: str, params: dict[str, Any]
) -> CertificateAuthority:
    """Run a one-custodian ceremony `operation` to the end; the CA it made."""
    ceremony = ceremonies.start(
        domain,
        operation,
        purpose=f"{operation} test",
        threshold=1,
        custodians=[custodian],
        started_by=operator,
        params=params,
    )
    ceremonies.approve(ceremony, custodian)
    run_action(ceremony.approval_id)
    ceremony.refresh_from_db()
    assert ceremony.state == "done", ceremony.approval.action_result
    return CertificateAuthority.objects.get(slug=ceremony.result["ca"])
