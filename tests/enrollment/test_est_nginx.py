"""EST end to end (issue 6, "Must show"): nginx of the system terminates TLS on 127.0.0.1 with
`ssl_verify_client optional_no_ca` and passes `$ssl_client_escaped_cert` to a live Django
server; the device side is curl and openssl only. It fetches cacerts (the TLS server's
certificate is ours too, so cacerts then is the trust anchor of every later call), enrolls
with Basic auth, re-enrolls with its certificate as the TLS client certificate, is refused
a re-enrollment under another subject, gets a server-generated key whose certificate
matches it, and `openssl verify` accepts every certificate against the cacerts chain."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from enrollment import services
from pki.crypto.certs import der_to_pem
from pki.models import Domain
from pki.services.issuance import IssueRequest, issue
from tests.enrollment.conftest import multipart
from tests.net import free_port
from tests.nginx import running

SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {prefix}/server.pem;
        ssl_certificate_key {prefix}/server.key;
        # Ask for a client certificate, let the application judge it (RFC 7030 §3.3.2).
        ssl_verify_client optional_no_ca;
        location /.well-known/est/ {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host localhost;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
        }}
    }}
"""


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


@dataclass
class Front:
    base: str  # https://localhost:<port>/.well-known/est/alpha
    port: int
    work: Path

    def curl(self, path: str, *args: str | Path, out: str = "out") -> int:
        """curl the EST path; the body goes to work/<out>; the HTTP status is returned."""
        code = run(
            "curl",
            "-s",
            "--resolve",
            f"localhost:{self.port}:127.0.0.1",
            "-o",
            out,
            "-w",
            "%{http_code}",
            *args,
            f"{self.base}/{path}",
            cwd=self.work,
        )
        return int(code)

    def enroll(self, path: str, csr_b64: str, *args: str, out: str = "out") -> int:
        return self.curl(
            path,
            "--cacert",
            "cacerts.pem",
            "-H",
            "Content-Type: application/pkcs10",
            "-H",
            "Content-Transfer-Encoding: base64",
            "--data-binary",
            f"@{csr_b64}",
            *args,
            out=out,
        )


@pytest.fixture
def front(live_server, domain: Domain, est_pki, tmp_path: Path) -> Iterator[Front]:
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    work = tmp_path / "device"
    work.mkdir()
    # nginx's TLS certificate comes from the domain's own CA, under its tls-server profile.
    run(
        "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
        "-keyout", prefix / "server.key", "-out", prefix / "server.csr",
        cwd=prefix,
    )  # fmt: skip
    issued = issue(
        IssueRequest(
            domain=domain,
            profile="tls-server",
            csr=(prefix / "server.csr").read_bytes(),
            protocol="api",
            requester="test:nginx",
        )
    )
    chain = [bytes(issued.certificate.der), *issued.chain]
    (prefix / "server.pem").write_text("".join(der_to_pem(d) for d in chain))
    port = free_port()
    upstream = urlparse(live_server.url).port
    with running(prefix, SERVER.format(prefix=prefix, port=port, upstream=upstream)):
        yield Front(f"https://localhost:{port}/.well-known/est/alpha", port, work)


def new_csr(front: Front, name: str, cn: str) -> str:
    """A key and a base64 DER CSR made by openssl; returns the CSR file's name."""
    run(
        "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
        "-keyout", f"{name}.key", "-outform", "DER", "-out", f"{name}.der",
        cwd=front.work,
    )  # fmt: skip
    (front.work / f"{name}.b64").write_text(run("base64", "-w0", f"{name}.der", cwd=front.work))
    return f"{name}.b64"


def pkcs7_to_pem(front: Front, b64_file: str, pem_file: str) -> None:
    (front.work / f"{pem_file}.p7").write_bytes(
        base64.b64decode((front.work / b64_file).read_bytes())
    )
    run(
        "openssl", "pkcs7", "-inform", "DER", "-in", f"{pem_file}.p7", "-print_certs",
        "-out", pem_file,
        cwd=front.work,
    )  # fmt: skip


def verify(front: Front, pem_file: str) -> str:
    out = run("openssl", "verify", "-CAfile", "cacerts.pem", pem_file, cwd=front.work)
    assert out.strip() == f"{pem_file}: OK"
    return run("openssl", "x509", "-in", pem_file, "-noout", "-subject", cwd=front.work)


@pytest.mark.django_db(transaction=True)
def test_est_through_nginx_with_curl_and_openssl(front: Front, domain: Domain) -> None:
    _, secret = services.create_credential(domain, None, username="dev-e2e")
    user = f"dev-e2e:{secret}"

    # 1. cacerts, before any trust (RFC 7030 §4.1.1 bootstrap): then it is the trust anchor.
    assert front.curl("cacerts", "-k", out="cacerts.b64") == 200
    pkcs7_to_pem(front, "cacerts.b64", "cacerts.pem")
    assert (front.work / "cacerts.pem").read_text().count("BEGIN CERTIFICATE") == 2
    assert front.curl("cacerts", "--cacert", "cacerts.pem", out="again.b64") == 200

    # 2. simpleenroll with Basic auth; without it, 401.
    csr = new_csr(front, "dev", "dev.alpha.test")
    assert front.enroll("simpleenroll", csr) == 401
    assert front.enroll("simpleenroll", csr, "-u", user, out="cert.b64") == 200
    pkcs7_to_pem(front, "cert.b64", "cert.pem")
    assert "CN=dev.alpha.test" in verify(front, "cert.pem").replace(" ", "")

    # 3. simplereenroll authenticated by that certificate (TLS client auth through nginx).
    renewal = new_csr(front, "dev2", "dev.alpha.test")
    assert front.enroll("simplereenroll", renewal, "-u", user) == 401  # Basic is not enough
    code = front.enroll(
        "simplereenroll", renewal, "--cert", "cert.pem", "--key", "dev.key", out="cert2.b64"
    )
    assert code == 200, (front.work / "cert2.b64").read_text()
    pkcs7_to_pem(front, "cert2.b64", "cert2.pem")
    verify(front, "cert2.pem")
    serials = {
        run("openssl", "x509", "-in", f, "-noout", "-serial", cwd=front.work)
        for f in ("cert.pem", "cert2.pem")
    }
    assert len(serials) == 2

    # ...and a renewal under another subject is refused with the reason.
    other = new_csr(front, "evil", "other.alpha.test")
    code = front.enroll(
        "simplereenroll", other, "--cert", "cert2.pem", "--key", "dev2.key", out="refusal"
    )
    assert code == 403
    assert "subject" in (front.work / "refusal").read_text()

    # 4. serverkeygen: the returned PKCS#8 key belongs to the returned certificate.
    keygen = new_csr(front, "kg", "kg.alpha.test")
    code = front.enroll("serverkeygen", keygen, "-u", user, "-D", "headers", out="keygen")
    assert code == 200
    content_type = next(
        line.split(":", 1)[1].strip()
        for line in (front.work / "headers").read_text().splitlines()
        if line.lower().startswith("content-type:")
    )
    parts = multipart(content_type, (front.work / "keygen").read_bytes())
    (front.work / "kg-server.p8").write_bytes(parts["application/pkcs8"][1])
    (front.work / "kg-cert.p7").write_bytes(parts["application/pkcs7-mime"][1])
    run(
        "openssl", "pkcs7", "-inform", "DER", "-in", "kg-cert.p7", "-print_certs",
        "-out", "kg-cert.pem",
        cwd=front.work,
    )  # fmt: skip
    verify(front, "kg-cert.pem")
    key_pub = run(
        "openssl", "pkey", "-inform", "DER", "-in", "kg-server.p8", "-pubout", cwd=front.work
    )
    cert_pub = run("openssl", "x509", "-in", "kg-cert.pem", "-noout", "-pubkey", cwd=front.work)
    assert key_pub == cert_pub and "BEGIN PUBLIC KEY" in key_pub
    client_pub = run("openssl", "pkey", "-in", "kg.key", "-pubout", cwd=front.work)
    assert client_pub != cert_pub  # the server's key, not the one the CSR was signed with
