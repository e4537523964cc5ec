"""A TXT lookup for dns-01 (RFC 8555 §8.4) over UDP (RFC 1035 §4), with the standard library:
one question, recursion desired, answers read with name compression. The resolver is
ANCHORAGE_ACME_DNS_RESOLVER ("host:port"), else the first nameserver of /etc/resolv.conf."""

from __future__ import annotations

import secrets
import socket
import struct
from pathlib import Path

from django.conf import settings

TXT = 16
TIMEOUT = 5.0


class DnsError(Exception):
    pass


def resolver() -> tuple[str, int]:
    configured = settings.ANCHORAGE_ACME_DNS_RESOLVER
    if configured:
        host, _, port = configured.rpartition(":")
        return host.strip("[]"), int(port)
    try:
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                return parts[1], 53
    except OSError:
        pass
    return "127.0.0.1", 53


def txt_records(name: str) -> list[str]:
    host, port = resolver()
    query_id = secrets.randbelow(65536)
    question = b"".join(
        bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split(".")
    )
    packet = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + b"\0"
    packet += struct.pack(">HH", TXT, 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.sendto(packet, (host, port))
            while True:
                answer, _ = sock.recvfrom(4096)
                if len(answer) >= 12 and struct.unpack(">H", answer[:2])[0] == query_id:
                    break
        except OSError as exc:
            raise DnsError(f"DNS query for {name} to {host}:{port}: {exc}") from None
    return _parse(answer)


def _parse(answer: bytes) -> list[str]:
    try:
        _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", answer[:12])
        rcode = flags & 0xF
        if rcode == 3:  # NXDOMAIN
            return []
        if rcode:
            raise DnsError(f"DNS answered rcode {rcode}")
        offset = 12
        for _ in range(qd):
            offset = _skip_name(answer, offset) + 4
        records = []
        for _ in range(an):
            offset = _skip_name(answer, offset)
            kind, _, _, length = struct.unpack(">HHIH", answer[offset : offset + 10])
            offset += 10
            data = answer[offset : offset + length]
            offset += length
            if kind == TXT:
                parts, i = [], 0
                while i < len(data):
                    size = data[i]
                    parts.append(data[i + 1 : i + 1 + size])
                    i += 1 + size
                records.append(b"".join(parts).decode("ascii", "replace"))
        return records
    except (struct.error, IndexError):
        raise DnsError("unreadable DNS answer") from None


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        size = data[offset]
        if size == 0:
            return offset + 1
        if size & 0xC0 == 0xC0:  # a compression pointer ends the name
            return offset + 2
        offset += 1 + size
