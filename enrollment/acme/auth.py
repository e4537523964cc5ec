"""Authenticating an ACME POST (RFC 8555 §6.2-6.5): the flattened JWS, its algorithm, the key
(embedded `jwk` or the account named by `kid`), the signature, the `url` and the nonce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from enrollment.acme import nonces
from enrollment.acme.models import AcmeAccount, Status
from enrollment.acme.problems import AcmeProblem, malformed, unauthorized
from enrollment.acme.urlmap import Urls
from pki.crypto import jose
from pki.models import Domain

MAX_BODY = 64 * 1024  # a JWS holding a CSR is a few kilobytes


@dataclass(frozen=True)
class Signed:
    jws: jose.Jws
    jwk: dict[str, Any]
    account: AcmeAccount | None

    @property
    def post_as_get(self) -> bool:
        return self.jws.payload == b""

    def payload(self) -> dict[str, Any]:
        if self.post_as_get:
            raise malformed("this request needs a JSON payload, not POST-as-GET")
        try:
            return self.jws.payload_json()
        except jose.JoseError as exc:
            raise malformed(str(exc)) from None

    def require_account(self) -> AcmeAccount:
        if self.account is None:
            raise malformed("this request must name its account with `kid`, not `jwk`")
        return self.account


def authenticate(
    request: HttpRequest,
    domain: Domain,
    urls: Urls,
    *,
    jwk_allowed: bool = False,
    kid_allowed: bool = True,
) -> Signed:
    content_type = request.content_type or ""
    if content_type != "application/jose+json":  # RFC 8555 §6.2
        raise AcmeProblem("malformed", "Content-Type must be application/jose+json", 415)
    if len(request.body) > MAX_BODY:
        raise malformed("the request is too large")
    try:
        jws = jose.parse_flattened(request.body)
    except jose.JoseError as exc:
        raise malformed(f"not a flattened JWS: {exc}") from None
    header = jws.protected
    if not isinstance(header.get("alg"), str) or jws.alg not in jose.SIGNATURE_ALGORITHMS:
        raise AcmeProblem(
            "badSignatureAlgorithm",
            f"unsupported JWS algorithm {header.get('alg')!r}",
            extra={"algorithms": list(jose.SIGNATURE_ALGORITHMS)},
        )
    if ("jwk" in header) == ("kid" in header):
        raise malformed("the protected header needs exactly one of jwk and kid")
    account = None
    if "jwk" in header:
        if not jwk_allowed:
            raise malformed("this request must name its account with `kid`, not `jwk`")
        jwk = header["jwk"]
        if not isinstance(jwk, dict):
            raise malformed("jwk is not a JSON object")
    else:
        if not kid_allowed:
            raise malformed("this request must carry its key as `jwk`, not `kid`")
        account = _account(header.get("kid"), domain, urls)
        jwk = account.jwk
    try:
        valid = jose.verify(jws, jwk)
    except jose.BadAlgorithm as exc:
        raise AcmeProblem(
            "badSignatureAlgorithm", str(exc), extra={"algorithms": list(jose.SIGNATURE_ALGORITHMS)}
        ) from None
    except jose.JoseError as exc:
        raise AcmeProblem("badPublicKey", str(exc)) from None
    if not valid:
        raise malformed("the JWS signature does not verify")
    # RFC 8555 §6.4: the signed url must be the one this request went to.
    if header.get("url") != request.build_absolute_uri():
        raise unauthorized(
            f"the JWS url {str(header.get('url'))[:200]!r} is not this request's URL"
        )
    if not nonces.consume(header.get("nonce")):
        raise AcmeProblem("badNonce", "the nonce is unknown, used or expired")
    if account is not None and account.status != Status.VALID:
        raise unauthorized(f"the account is {account.status}")
    return Signed(jws, jwk, account)


def _account(kid: object, domain: Domain, urls: Urls) -> AcmeAccount:
    if not isinstance(kid, str) or not kid.startswith(urls.account_prefix):
        raise AcmeProblem("accountDoesNotExist", "kid is not an account URL of this server")
    ident = kid[len(urls.account_prefix) :]
    account = AcmeAccount.objects.filter(domain=domain, ident=ident).first()
    if account is None:
        raise AcmeProblem("accountDoesNotExist", "no such account")
    return account
