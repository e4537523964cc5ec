"""deploy/nginx.conf as shipped, loaded by Debian's nginx: it parses, and each mTLS server
takes exactly the clients of the truststore file it names (the files the swap writes).

The config is rewritten only where a test machine differs: /etc/anchorage/ becomes a temporary
directory, ports 80/443 become free ports on 127.0.0.1, IPv6 listens are dropped. No
Anchorage runs behind it, so an accepted client gets nginx's 502 (no upstream), a refused
one nginx's 400 ("No required SSL certificate was sent" / "The SSL certificate error")."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.net import free_port
from tests.nginx import running
from tests.truststores.certs import Issued, make

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


class Front:
    def __init__(self, prefix: Path, tls_port: int, cas: dict[str, Issued]) -> None:
        self.prefix, self.tls_port, self.cas = prefix, tls_port, cas

    def status(self, host: str, path: str, client: Issued | None) -> int:
        """The HTTP status nginx answers `host` (by SNI) for `path` with `client`'s cert."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if client is not None:
            cert, key = self.prefix / "client.pem", self.prefix / "client.key"
            cert.write_bytes(client.pem)
            key.write_bytes(client.key_pem)
            context.load_cert_chain(cert, key)
        with (
            socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            head = tls.recv(64)
        match = re.match(rb"HTTP/1\.1 (\d{3})", head)
        assert match, head
        return int(match.group(1))


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    etc = tmp_path / "etc"
    tls_port, http_port = free_port(), free_port()
    site = SHIPPED.read_text().replace("/etc/anchorage/", f"{etc}/")
    site = re.sub(r"^\s*listen \[::\].*$", "", site, flags=re.M)
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    cas = {kind: make(f"{kind} clients CA") for kind in ("mtls", "devices", "provisioning")}
    for path in re.findall(r"ssl_certificate\s+(\S+);", site):
        server = make(Path(path).name.removesuffix(".fullchain.pem"), ca=False)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(server.pem)
        Path(path.replace(".fullchain.pem", ".key")).write_bytes(server.key_pem)
    for path in re.findall(r"ssl_client_certificate\s+(\S+);", site):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(cas[Path(path).stem].pem)
    (prefix / "site.conf").write_text(site)
    with running(prefix, f"include {prefix / 'site.conf'};"):
        yield Front(prefix, tls_port, cas)


def test_each_mtls_server_takes_the_clients_of_its_own_truststore(front: Front) -> None:
    mtls_client = make("integrator", front.cas["mtls"], ca=False)
    device = make("device", front.cas["devices"], ca=False)
    idevid = make("idevid", front.cas["provisioning"], ca=False)
    stranger = make("stranger", make("Unknown CA"), ca=False)

    api = "api.pki.example.org"
    assert front.status(api, "/api/v1/", mtls_client) == 502  # through to the (absent) app
    for refused in (device, idevid, stranger, None):
        assert front.status(api, "/api/v1/", refused) == 400

    provision = "provision.pki.example.org"
    assert front.status(provision, "/.well-known/cmp/p/demo", idevid) == 502
    for refused in (mtls_client, stranger, None):
        assert front.status(provision, "/.well-known/cmp/p/demo", refused) == 400

    # Devices: the certificate is optional at the TLS layer (Basic auth may do), but one
    # that does not chain to the `est` file is refused by nginx.
    devices = "devices.pki.example.org"
    assert front.status(devices, "/.well-known/est/demo/cacerts", device) == 502
    assert front.status(devices, "/.well-known/est/demo/cacerts", None) == 502
    assert front.status(devices, "/.well-known/est/demo/cacerts", stranger) == 400
