"""Order identifiers (RFC 8555 §7.1.3, §9.7.7; IP identifiers RFC 8738): what a client may ask
for, normalised, and checked against the domain's ACME profile before an order exists."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from enrollment.acme.problems import AcmeProblem, malformed
from pki.services.profiles import ProfileSpec, dns_name_reason

MAX_IDENTIFIERS = 100
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Identifier:
    type: str  # "dns" | "ip"
    value: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}

    @property
    def wildcard(self) -> bool:
        return self.value.startswith("*.")


def parse(raw: object, spec: ProfileSpec) -> list[Identifier]:
    if not isinstance(raw, list) or not raw:
        raise malformed("identifiers must be a non-empty list")
    if len(raw) > MAX_IDENTIFIERS:
        raise AcmeProblem("rejectedIdentifier", f"at most {MAX_IDENTIFIERS} identifiers")
    found: list[Identifier] = []
    problems: list[str] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"type", "value"}:
            raise malformed("an identifier is {type, value}")
        kind, value = item.get("type"), item.get("value")
        if not isinstance(kind, str) or not isinstance(value, str):
            raise malformed("identifier type and value are strings")
        if kind == "dns":
            ident = Identifier("dns", _dns(value))
            reason = dns_name_reason(spec, ident.value)
        elif kind == "ip":
            ident = Identifier("ip", _ip(value))
            reason = _ip_reason(spec, ident.value)
        else:
            raise AcmeProblem("unsupportedIdentifier", f"identifier type {kind!r} is not supported")
        if reason:
            problems.append(reason)
        if ident not in found:
            found.append(ident)
    if problems:
        raise AcmeProblem("rejectedIdentifier", "; ".join(problems))
    return found


def _dns(value: str) -> str:
    name = value.lower()
    host = name[2:] if name.startswith("*.") else name
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise AcmeProblem("rejectedIdentifier", f"{value[:255]!r} is not a valid DNS name")
    return name


def _ip(value: str) -> str:
    try:
        # RFC 8738 §3: the textual form; we keep the canonical one.
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise AcmeProblem("rejectedIdentifier", f"{value[:64]!r} is not an IP address") from None


def _ip_reason(spec: ProfileSpec, value: str) -> str | None:
    address = ipaddress.ip_address(value)
    if any(address in ipaddress.ip_network(n) for n in spec.ip_networks):
        return None
    return f"IP address {value} is not allowed by the profile"


def from_json(items: list[Any]) -> list[Identifier]:
    return [Identifier(str(i["type"]), str(i["value"])) for i in items]
