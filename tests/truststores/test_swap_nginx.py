"""The real swap (issue 5, "Must show"): nginx on 127.0.0.1 with `ssl_verify_client on`
whose client CA file is the domain's mtls deployment target. A client chaining to CA A
connects; once a bundle of CA B alone is approved and Ready, A is refused and B connects; a
bundle of both lets both in. Against PostgreSQL, with the nginx of the system.

nginx checks the client certificate during the handshake but answers a bad one with an HTTP
400 ("The SSL certificate error") rather than an alert, so "refused" here means no 200."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from accounts.roles import Role
from pki.models import Domain
from tests.conftest import MakeUser
from tests.net import free_port
from tests.nginx import running
from tests.truststores.certs import Issued, make
from truststores import deploy, services
from truststores.models import DeploymentTarget, TruststoreRequest

SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {prefix}/server.pem;
        ssl_certificate_key {prefix}/server.key;
        ssl_verify_client on;
        ssl_verify_depth 4;
        ssl_client_certificate {client_cas};
        location / {{ return 200 "hello $ssl_client_s_dn\\n"; }}
    }}
"""


@dataclass
class Nginx:
    prefix: Path
    base: list[str]  # the command line that started it
    port: int
    client_cas: Path

    def command(self, *args: str) -> list[str]:
        return [*self.base, *args]


@dataclass
class Client:
    cert: Path
    key: Path


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    server = make("127.0.0.1", ca=False)
    (prefix / "server.pem").write_bytes(server.pem)
    (prefix / "server.key").write_bytes(server.key_pem)
    client_cas = tmp_path / "truststores" / "mtls.pem"
    client_cas.parent.mkdir()
    client_cas.write_bytes(make("Placeholder CA").pem)  # nginx needs the file to start
    port = free_port()
    servers = SERVER.format(prefix=prefix, port=port, client_cas=client_cas)
    with running(prefix, servers) as command:
        yield Nginx(prefix, command, port, client_cas)


def client_of(ca: Issued, name: str, folder: Path) -> Client:
    leaf = make(f"{name} client", ca, ca=False)
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    cert.write_bytes(leaf.pem)
    key.write_bytes(leaf.key_pem)
    return Client(cert, key)


def connects(box: Nginx, client: Client) -> bool:
    """True when nginx accepted the client certificate and answered 200."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(client.cert, client.key)
    try:
        with (
            socket.create_connection(("127.0.0.1", box.port), timeout=5) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            answer = b""
            while chunk := tls.recv(4096):
                answer += chunk
    except (ssl.SSLError, OSError):
        return False
    return answer.startswith(b"HTTP/1.1 200")


def eventually(box: Nginx, expected: dict[str, tuple[Client, bool]]) -> None:
    """nginx reloads asynchronously (new workers, old ones drain): poll to a deadline."""
    deadline = time.monotonic() + 30
    seen: dict[str, bool] = {}
    while time.monotonic() < deadline:
        seen = {name: connects(box, client) for name, (client, _) in expected.items()}
        if all(seen[name] == want for name, (_, want) in expected.items()):
            return
        time.sleep(0.2)
    log = (box.prefix / "error.log").read_text()[-3000:]
    pytest.fail(f"wanted { ({k: v[1] for k, v in expected.items()}) }, saw {seen}\n{log}")


@pytest.mark.django_db
def test_a_real_swap_of_nginx_client_cas(
    domain: Domain, make_user: MakeUser, nginx: Nginx, tmp_path: Path
) -> None:
    sam: User = make_user("sam", Role.RA_OFFICER, domain)
    ann: User = make_user("ann", Role.APPROVER, domain)
    DeploymentTarget.objects.create(
        domain=domain,
        truststore_type="mtls",
        path=str(nginx.client_cas),
        reload_command=nginx.command("-s", "reload"),
    )
    ca_a, ca_b = make("Client CA A"), make("Client CA B")
    a, b = client_of(ca_a, "a", tmp_path), client_of(ca_b, "b", tmp_path)

    def swap(name: str, bundle: bytes) -> TruststoreRequest:
        request = services.submit(domain, sam, name=name, truststore_type="mtls", bundle=bundle)
        assert request.validation_result["verdict"] == "pass", request.validation_result
        request = services.approve(request, ann)
        assert request.state == TruststoreRequest.State.APPROVED
        assert deploy.deploy(request.pk) == deploy.Outcome.READY, request.error
        request.refresh_from_db()
        assert request.state == TruststoreRequest.State.READY
        assert nginx.client_cas.read_text() == request.bundle
        assert services.deployed(domain, "mtls") == request
        return request

    eventually(nginx, {"a": (a, False), "b": (b, False)})  # the placeholder CA only

    swap("A only", ca_a.pem)
    eventually(nginx, {"a": (a, True), "b": (b, False)})

    swap("B only", ca_b.pem)
    eventually(nginx, {"a": (a, False), "b": (b, True)})

    swap("A and B", ca_a.pem + ca_b.pem)
    eventually(nginx, {"a": (a, True), "b": (b, True)})
