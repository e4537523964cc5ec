"""The absolute URLs of a domain's ACME resources (RFC 8555 §7.1), built from the request."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from enrollment.acme.models import AcmeAccount, AcmeAuthorization, AcmeChallenge, AcmeOrder


@dataclass(frozen=True)
class Urls:
    base: str  # https://host/acme/<domain>

    @classmethod
    def of(cls, request: HttpRequest, slug: str) -> Urls:
        return cls(request.build_absolute_uri(f"/acme/{slug}"))

    @property
    def directory(self) -> str:
        return f"{self.base}/directory"

    @property
    def new_nonce(self) -> str:
        return f"{self.base}/new-nonce"

    @property
    def new_account(self) -> str:
        return f"{self.base}/new-account"

    @property
    def new_order(self) -> str:
        return f"{self.base}/new-order"

    @property
    def revoke_cert(self) -> str:
        return f"{self.base}/revoke-cert"

    @property
    def key_change(self) -> str:
        return f"{self.base}/key-change"

    @property
    def renewal_info(self) -> str:
        return f"{self.base}/renewal-info"

    @property
    def account_prefix(self) -> str:
        return f"{self.base}/acct/"

    def account(self, account: AcmeAccount) -> str:
        return f"{self.account_prefix}{account.ident}"

    def orders(self, account: AcmeAccount) -> str:
        return f"{self.account(account)}/orders"

    def order(self, order: AcmeOrder) -> str:
        return f"{self.base}/order/{order.ident}"

    def finalize(self, order: AcmeOrder) -> str:
        return f"{self.order(order)}/finalize"

    def certificate(self, order: AcmeOrder) -> str:
        return f"{self.base}/cert/{order.ident}"

    def authz(self, authz: AcmeAuthorization) -> str:
        return f"{self.base}/authz/{authz.ident}"

    def challenge(self, challenge: AcmeChallenge) -> str:
        return f"{self.base}/chall/{challenge.ident}"
