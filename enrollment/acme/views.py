"""The ACME front end (RFC 8555 §7): authenticate the JWS, authorize, act, encode. Every
answer carries a fresh Replay-Nonce and the directory's Link (§6.5, §7.1); errors are
problem documents (§6.7)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from enrollment.acme import ari, encode, nonces, revoke, rollover, services
from enrollment.acme.auth import Signed, authenticate
from enrollment.acme.models import AcmeSettings, Status
from enrollment.acme.problems import AcmeProblem, malformed, unauthorized
from enrollment.acme.urlmap import Urls
from pki.models import Domain

log = logging.getLogger(__name__)


class Ctx:
    def __init__(self, request: HttpRequest, slug: str) -> None:
        self.request = request
        self.slug = slug
        self.urls = Urls.of(request, slug)
        self.domain: Domain
        self.acme: AcmeSettings
        self.domain, self.acme = services.settings_of(slug)

    def signed(self, *, jwk_allowed: bool = False, kid_allowed: bool = True) -> Signed:
        return authenticate(
            self.request, self.domain, self.urls, jwk_allowed=jwk_allowed, kid_allowed=kid_allowed
        )


View = Callable[..., HttpResponse]


def acme_endpoint(*methods: str) -> Callable[[Callable[..., HttpResponse]], View]:
    def decorate(func: Callable[..., HttpResponse]) -> View:
        @csrf_exempt
        @wraps(func)
        def view(request: HttpRequest, domain: str, **kwargs: Any) -> HttpResponse:
            urls = Urls.of(request, domain)
            try:
                if request.method not in methods:
                    raise AcmeProblem(
                        "malformed",
                        f"use {' or '.join(methods)}",
                        405,
                        headers={"Allow": ", ".join(methods)},
                    )
                response = func(Ctx(request, domain), **kwargs)
            except AcmeProblem as problem:
                response = problem_response(problem)
            except Exception:  # there should be none: logged, then a problem document
                log.exception("ACME %s %s failed", request.method, request.path)
                response = problem_response(
                    AcmeProblem("serverInternal", "internal error; it has been logged", 500)
                )
            response["Replay-Nonce"] = nonces.issue()
            response["Cache-Control"] = "no-store"
            links = [response["Link"]] if response.has_header("Link") else []
            response["Link"] = ", ".join([*links, f'<{urls.directory}>;rel="index"'])
            return response

        return view

    return decorate


def problem_response(problem: AcmeProblem) -> HttpResponse:
    response = HttpResponse(
        json.dumps(problem.document()),
        status=problem.status,
        content_type="application/problem+json",
    )
    for name, value in problem.headers.items():
        response[name] = value
    return response


def json_response(doc: dict[str, Any], status: int = 200, location: str = "") -> HttpResponse:
    response = HttpResponse(json.dumps(doc), status=status, content_type="application/json")
    if location:
        response["Location"] = location
    return response


@acme_endpoint("GET")
def directory(ctx: Ctx) -> HttpResponse:
    return json_response(encode.directory(ctx.urls, eab_required=ctx.acme.eab_required))


@acme_endpoint("HEAD", "GET")
def new_nonce(ctx: Ctx) -> HttpResponse:
    # §7.2: 200 to HEAD, 204 to GET.
    return HttpResponse(status=200 if ctx.request.method == "HEAD" else 204)


@acme_endpoint("POST")
def new_account(ctx: Ctx) -> HttpResponse:
    signed = ctx.signed(jwk_allowed=True, kid_allowed=False)
    result = services.new_account(
        ctx.domain, ctx.acme, signed.jwk, signed.payload(), ctx.urls.new_account
    )
    return json_response(
        encode.account(ctx.urls, result.account),
        201 if result.created else 200,
        ctx.urls.account(result.account),
    )


@acme_endpoint("POST")
def account(ctx: Ctx, ident: str) -> HttpResponse:
    signed = ctx.signed()
    acct = signed.require_account()
    if acct.ident != ident:
        raise unauthorized("kid and the account URL differ")
    if not signed.post_as_get:
        acct = services.update_account(acct, signed.payload())
    return json_response(encode.account(ctx.urls, acct), location=ctx.urls.account(acct))


@acme_endpoint("POST")
def account_orders(ctx: Ctx, ident: str) -> HttpResponse:
    acct = ctx.signed().require_account()
    if acct.ident != ident:
        raise unauthorized("kid and the account URL differ")
    orders = acct.orders.exclude(status=Status.INVALID).order_by("-pk")[:1000]
    return json_response({"orders": [ctx.urls.order(o) for o in orders]})


@acme_endpoint("POST")
def new_order(ctx: Ctx) -> HttpResponse:
    signed = ctx.signed()
    order = services.new_order(signed.require_account(), ctx.acme, signed.payload())
    return json_response(encode.order(ctx.urls, order), 201, ctx.urls.order(order))


@acme_endpoint("POST")
def order(ctx: Ctx, ident: str) -> HttpResponse:
    signed = ctx.signed()
    found = services.owned_order(signed.require_account(), ident)
    return _order_response(ctx, found)


@acme_endpoint("POST")
def finalize(ctx: Ctx, ident: str) -> HttpResponse:
    signed = ctx.signed()
    found = services.owned_order(signed.require_account(), ident)
    done = services.finalize(found, ctx.acme, signed.payload())
    return _order_response(ctx, done)


def _order_response(ctx: Ctx, found: Any) -> HttpResponse:
    response = json_response(encode.order(ctx.urls, found), location=ctx.urls.order(found))
    if found.status == Status.PROCESSING:
        response["Retry-After"] = "2"
    return response


@acme_endpoint("POST")
def authz(ctx: Ctx, ident: str) -> HttpResponse:
    signed = ctx.signed()
    found = services.owned_authz(signed.require_account(), ident)
    if not signed.post_as_get:
        found = services.deactivate_authz(found, signed.payload())
    response = json_response(encode.authz(ctx.urls, found))
    if found.status == Status.PENDING:
        response["Retry-After"] = "2"
    return response


@acme_endpoint("POST")
def challenge(ctx: Ctx, ident: str) -> HttpResponse:
    signed = ctx.signed()
    acct = signed.require_account()
    found = services.owned_challenge(acct, ident)
    if not signed.post_as_get:
        signed.payload()  # §7.5.1: an empty JSON object
        found = services.respond(found, acct)
    response = json_response(encode.challenge(ctx.urls, found))
    response["Link"] = f'<{ctx.urls.authz(found.authorization)}>;rel="up"'
    if found.status == Status.PROCESSING:
        response["Retry-After"] = "2"
    return response


@acme_endpoint("POST")
def certificate(ctx: Ctx, ident: str, alternate: int = 0) -> HttpResponse:
    signed = ctx.signed()
    found = services.owned_order(signed.require_account(), ident)
    if not signed.post_as_get:
        raise malformed("fetch a certificate with POST-as-GET")
    response = HttpResponse(
        services.certificate_pem(found, alternate),
        content_type="application/pem-certificate-chain",
    )
    # §7.4.2: every other chain to the same leaf, as rel="alternate".
    links = [
        f'<{ctx.urls.certificate(found)}{f"/alt/{n}" if n else ""}>;rel="alternate"'
        for n in range(services.chain_count(found))
        if n != alternate
    ]
    if links:
        response["Link"] = ", ".join(links)
    return response


@acme_endpoint("POST")
def revoke_cert(ctx: Ctx) -> HttpResponse:
    signed = ctx.signed(jwk_allowed=True)
    revoke.revoke_cert(ctx.domain, signed, signed.payload())
    return HttpResponse(status=200)


@acme_endpoint("POST")
def key_change(ctx: Ctx) -> HttpResponse:
    signed = ctx.signed()
    kid = str(signed.jws.protected.get("kid"))
    acct = rollover.change_key(signed, ctx.urls.key_change, kid)
    return json_response(encode.account(ctx.urls, acct), location=ctx.urls.account(acct))


@acme_endpoint("GET")
def renewal_info(ctx: Ctx, cert_id: str) -> HttpResponse:
    cert = ari.find(ctx.domain, cert_id)
    response = json_response(ari.window(cert, ctx.acme.ari_explanation_url).as_json())
    response["Retry-After"] = str(ari.RETRY_AFTER)
    return response
