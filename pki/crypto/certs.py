"""Building and reading X.509 certificates (RFC 5280).

`build()` takes a template the profile has already approved and an issuer (certificate +
signer) and returns DER. Every extension an end-entity or CA certificate of ours carries is
decided here, in one place.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from pki.crypto.keys import KeyBackendError, Signer, algorithm_of, verify
from pki.crypto.names import KEY_USAGES, build_name, eku_name, eku_oid, name_pairs
from pki.crypto.pkcs import pem
from pki.crypto.signing import sign_certificate


class CertificateError(ValueError):
    pass


@dataclass
class CertTemplate:
    subject: list[tuple[str, str]]
    public_key_der: bytes  # SubjectPublicKeyInfo
    serial: int
    not_before: datetime
    not_after: datetime
    is_ca: bool = False
    path_length: int | None = None
    key_usage: list[str] = field(default_factory=list)
    ext_key_usage: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    crl_urls: list[str] = field(default_factory=list)
    ocsp_urls: list[str] = field(default_factory=list)
    ca_issuers_urls: list[str] = field(default_factory=list)
    permitted_dns: list[str] = field(default_factory=list)
    excluded_dns: list[str] = field(default_factory=list)
    ocsp_no_check: bool = False


@dataclass(frozen=True)
class CertInfo:
    der: bytes
    serial: int
    subject: list[tuple[str, str]]
    subject_text: str
    issuer_text: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    is_ca: bool
    path_length: int | None
    key_algorithm: str
    public_key_der: bytes
    ski: str
    aki: str
    dns_names: list[str]
    ip_addresses: list[str]
    ekus: list[str]
    self_signed: bool

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)

    @property
    def pem(self) -> str:
        return der_to_pem(self.der)


def random_serial() -> int:
    """159 bits from the OS CSPRNG: positive, at most 20 octets (RFC 5280 §4.1.2.2), and
    well over the 64 bits of entropy CA/B BR §7.1 asks for."""
    return x509.random_serial_number()


def serial_hex(serial: int) -> str:
    return f"{serial:x}".upper().rjust(2, "0")


def der_to_pem(der: bytes) -> str:
    """PEM (RFC 7468) of a DER certificate we hold; no parse, it was checked on the way in."""
    return pem("CERTIFICATE", der)


def load(data: bytes | str) -> x509.Certificate:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        raise CertificateError(f"not an X.509 certificate: {exc}") from None


def build(
    template: CertTemplate,
    signer: Signer,
    issuer_der: bytes | None,
) -> bytes:
    """Sign `template` with `signer`. `issuer_der` None means self-signed (a root)."""
    try:
        public_key = serialization.load_der_public_key(template.public_key_der)
    except ValueError as exc:
        raise CertificateError(f"unusable subject public key: {exc}") from None
    subject = build_name(template.subject)
    if issuer_der is None:
        issuer_name = subject
        issuer_ski = x509.SubjectKeyIdentifier.from_public_key(signer.public_key())  # type: ignore[arg-type]
    else:
        issuer = x509.load_der_x509_certificate(issuer_der)
        issuer_name = issuer.subject
        issuer_ski = _ski_of(issuer)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(template.serial)
        .not_valid_before(template.not_before)
        .not_valid_after(template.not_after)
        .add_extension(
            x509.BasicConstraints(
                ca=template.is_ca, path_length=template.path_length if template.is_ca else None
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.AuthorityKeyIdentifier(issuer_ski.digest, None, None), critical=False)
    )
    if template.key_usage:
        builder = builder.add_extension(_key_usage(template.key_usage), critical=True)
    if template.ext_key_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([eku_oid(e) for e in template.ext_key_usage]), critical=False
        )
    names = _general_names(template)
    if names:
        # RFC 5280 §4.2.1.6: critical when the subject is empty.
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=not template.subject
        )
    if template.permitted_dns or template.excluded_dns:
        # RFC 5280 §4.2.1.10: conforming CAs MUST mark name constraints critical.
        builder = builder.add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(d) for d in template.permitted_dns] or None,
                excluded_subtrees=[x509.DNSName(d) for d in template.excluded_dns] or None,
            ),
            critical=True,
        )
    if template.crl_urls:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(u) for u in template.crl_urls],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
    access = [
        x509.AccessDescription(
            x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
        )
        for u in template.ocsp_urls
    ] + [
        x509.AccessDescription(
            x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u)
        )
        for u in template.ca_issuers_urls
    ]
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    if template.ocsp_no_check:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    return sign_certificate(builder, signer).public_bytes(serialization.Encoding.DER)


def info(data: bytes | str | x509.Certificate) -> CertInfo:
    cert = data if isinstance(data, x509.Certificate) else load(data)
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca, path_length = bc.ca, bc.path_length
    except x509.ExtensionNotFound:
        is_ca, path_length = False, None
    except ValueError as exc:
        raise CertificateError(f"unreadable extensions: {exc}") from None
    dns: list[str] = []
    ips: list[str] = []
    ekus: list[str] = []
    aki = ""
    for ext in cert.extensions:
        if isinstance(ext.value, x509.SubjectAlternativeName):
            dns = ext.value.get_values_for_type(x509.DNSName)
            ips = [str(i) for i in ext.value.get_values_for_type(x509.IPAddress)]
        elif isinstance(ext.value, x509.ExtendedKeyUsage):
            ekus = [eku_name(o) for o in ext.value]
        elif isinstance(ext.value, x509.AuthorityKeyIdentifier) and ext.value.key_identifier:
            aki = ext.value.key_identifier.hex()
    public_key = cert.public_key()
    try:
        algorithm = str(algorithm_of(public_key))
    except KeyBackendError:  # a key type no CA of ours uses (a leaf's, say)
        algorithm = type(public_key).__name__
    return CertInfo(
        der=der,
        serial=cert.serial_number,
        subject=name_pairs(cert.subject),
        subject_text=cert.subject.rfc4514_string(),
        issuer_text=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        is_ca=is_ca,
        path_length=path_length,
        key_algorithm=algorithm,
        public_key_der=public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        ski=_ski_of(cert).digest.hex(),
        aki=aki,
        dns_names=dns,
        ip_addresses=ips,
        ekus=ekus,
        self_signed=cert.subject == cert.issuer and signed_by(cert, cert),
    )


def signed_by(cert: x509.Certificate | bytes, issuer: x509.Certificate | bytes) -> bool:
    """Whether `issuer`'s key made `cert`'s signature (and the names chain)."""
    c = cert if isinstance(cert, x509.Certificate) else load(cert)
    i = issuer if isinstance(issuer, x509.Certificate) else load(issuer)
    if c.issuer != i.subject:
        return False
    try:
        c.verify_directly_issued_by(i)
    except (InvalidSignature, ValueError, TypeError):  # bad signature, or unusable key/algorithm
        return False
    return True


def public_key_matches(cert_der: bytes, public_key_der: bytes) -> bool:
    cert = load(cert_der)
    return (
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public_key_der
    )


def probe_signer(signer: Signer, message: bytes) -> bool:
    """Sign and verify `message` with the signer's own public key."""
    return verify(signer.public_key(), signer.sign(message), message)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _ski_of(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        public_key: CertificatePublicKeyTypes = cert.public_key()
        return x509.SubjectKeyIdentifier.from_public_key(public_key)


def _key_usage(names: list[str]) -> x509.KeyUsage:
    flags = {n: n in names for n in KEY_USAGES}
    unknown = set(names) - set(flags)
    if unknown:
        raise CertificateError(f"unknown key usages: {', '.join(sorted(unknown))}")
    return x509.KeyUsage(
        digital_signature=flags["digitalSignature"],
        content_commitment=flags["contentCommitment"],
        key_encipherment=flags["keyEncipherment"],
        data_encipherment=flags["dataEncipherment"],
        key_agreement=flags["keyAgreement"],
        key_cert_sign=flags["keyCertSign"],
        crl_sign=flags["cRLSign"],
        encipher_only=flags["encipherOnly"] and flags["keyAgreement"],
        decipher_only=flags["decipherOnly"] and flags["keyAgreement"],
    )


def _general_names(t: CertTemplate) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in t.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in t.ip_addresses]
    names += [x509.RFC822Name(e) for e in t.emails]
    names += [x509.UniformResourceIdentifier(u) for u in t.uris]
    return names


def throwaway_root(subject: list[tuple[str, str]], days: int = 3650) -> bytes:
    """A self-signed EC P-256 CA certificate (DER) whose key is dropped at once: a stand-in
    for a third party's root that we only ever trust, never sign with (demo data)."""
    from pki.crypto.backends.software import SoftwareSigner, generate_private_key
    from pki.crypto.keys import KeyAlgorithm, public_der

    signer = SoftwareSigner(generate_private_key(KeyAlgorithm.EC_P256))
    start = now()
    template = CertTemplate(
        subject=subject,
        public_key_der=public_der(signer.public_key()),
        serial=random_serial(),
        not_before=start,
        not_after=start + timedelta(days=days),
        is_ca=True,
        key_usage=["keyCertSign", "cRLSign"],
    )
    return build(template, signer, None)
