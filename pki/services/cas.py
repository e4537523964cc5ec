"""Reading CAs: the active successor, chains, the URLs relying parties use."""

from __future__ import annotations

from django.conf import settings

from pki.crypto import certs
from pki.models import CertificateAuthority


class CaUnavailable(Exception):
    """No active CA can sign (retired, or a chain of successors that ends nowhere)."""


def urls(slug: str) -> dict[str, str]:
    base = settings.ANCHORAGE_PUBLIC_URL
    return {
        "crl": f"{base}/crl/{slug}.crl",
        "crl_delta": f"{base}/crl/{slug}.delta.crl",
        "ocsp": f"{base}/ocsp/{slug}/",
        "ca_issuers": f"{base}/ca/{slug}.crt",
    }


def point_at(template: certs.CertTemplate, issuer: CertificateAuthority) -> certs.CertTemplate:
    """Where relying parties check a certificate `issuer` signs: its CRL distribution point
    and the AIA's OCSP and caIssuers URLs (RFC 5280 §4.2.1.13, §4.2.2.1)."""
    found = urls(issuer.slug)
    template.crl_urls = [found["crl"]]
    template.ocsp_urls = [found["ocsp"]]
    template.ca_issuers_urls = [found["ca_issuers"]]
    return template


def active(ca: CertificateAuthority) -> CertificateAuthority:
    """The CA that signs for `ca` now: itself, or the successor that superseded it."""
    seen = set()
    while ca.status == CertificateAuthority.Status.SUPERSEDED and ca.superseded_by_id:
        if ca.pk in seen:
            break
        seen.add(ca.pk)
        ca = CertificateAuthority.objects.get(pk=ca.superseded_by_id)
    if ca.status != CertificateAuthority.Status.ACTIVE:
        raise CaUnavailable(f"CA {ca.slug} is {ca.status}")
    return ca


def chain(ca: CertificateAuthority) -> list[bytes]:
    """DER certificates from `ca` up to and including its root, issuing CA first."""
    out: list[bytes] = []
    node: CertificateAuthority | None = ca
    while node is not None and len(out) < 10:
        out.append(bytes(node.certificate))
        if node.parent_id is None:
            out += [bytes.fromhex(h) for h in node.external_chain]
            break
        node = node.parent
    return out


_issuing_chains: dict[tuple[int, str], list[bytes]] = {}


def issuing_chain(ca: CertificateAuthority) -> list[bytes]:
    """What we hand out beside a leaf: the chain without a self-signed root (RFC 8446
    §4.4.2 lets the root be omitted; relying parties have it). CA certificates never change
    under a CA's row, so the answer is kept per process, keyed by the certificate."""
    key = (ca.pk, ca.fingerprint)
    found = _issuing_chains.get(key)
    if found is None:
        found = [der for der in chain(ca) if not certs.info(der).self_signed]
        _issuing_chains[key] = found
    return list(found)


_roots: dict[tuple[int, str], bytes] = {}


def root_of(ca: CertificateAuthority) -> bytes:
    """The top of `ca`'s chain, kept per process like issuing_chain (CMP hands it out in
    every ir answer's caPubs)."""
    key = (ca.pk, ca.fingerprint)
    found = _roots.get(key)
    if found is None:
        found = _roots[key] = chain(ca)[-1]
    return found
