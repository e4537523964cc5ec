"""A tiny authoritative DNS server for dns-01 tests: answers TXT questions from a dict (and a
file of `fqdn value` lines that lego's exec provider script appends to), NXDOMAIN otherwise."""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path


class TxtServer:
    def __init__(self, records_file: Path | None = None, port: int = 0) -> None:
        self.records: dict[str, list[str]] = {}
        self.records_file = records_file
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.running = True
        self.thread.start()

    def lookup(self, name: str) -> list[str]:
        found = list(self.records.get(name.lower().rstrip("."), []))
        if self.records_file and self.records_file.exists():
            for line in self.records_file.read_text().splitlines():
                fqdn, _, value = line.partition(" ")
                if fqdn.lower().rstrip(".") == name.lower().rstrip("."):
                    found.append(value.strip())
        return found

    def _serve(self) -> None:
        while self.running:
            try:
                packet, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(packet), peer)
            except (OSError, IndexError, struct.error):
                continue

    def _answer(self, packet: bytes) -> bytes:
        query_id = packet[:2]
        offset, labels = 12, []
        while packet[offset]:
            size = packet[offset]
            labels.append(packet[offset + 1 : offset + 1 + size].decode())
            offset += 1 + size
        question = packet[12 : offset + 5]
        qtype = struct.unpack(">H", packet[offset + 1 : offset + 3])[0]
        values = self.lookup(".".join(labels)) if qtype == 16 else []
        rcode = 0 if values else 3
        header = query_id + struct.pack(">HHHHH", 0x8400 | rcode, 1, len(values), 0, 0)
        answers = b""
        for value in values:
            data = value.encode()
            rdata = bytes([len(data)]) + data
            answers += b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(rdata)) + rdata
        return header + question + answers

    def close(self) -> None:
        self.running = False
        self.sock.close()
