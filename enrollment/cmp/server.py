"""One CMP exchange (RFC 9483 §3, RFC 9811): read the PKIMessage, check the header, the
protection, the time and the nonce BEFORE anything is done, dispatch on the body, and answer
every failure with an error PKIMessage (PKIStatusInfo with failInfo), protected for an
authenticated sender. Never an exception out of here.

Every answer is a PKIMessage sent with HTTP 200, errors included: the failure travels in the
CMP error message (RFC 9811), and `openssl cmp` drops the body of any non-2xx answer, so a
4xx would hide the failInfo from the client. Non-CMP HTTP codes are the view's (404, 405,
413)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError

from enrollment.cmp import operations as ops
from enrollment.cmp import replay, services
from enrollment.cmp.auth import Refusal, Sender, authenticate
from enrollment.cmp.models import CmpTransaction
from pki.crypto.cmp import responses
from pki.crypto.cmp.message import Malformed, Message, parse
from pki.models import Domain

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/pkixcmp"
MIN_NONCE = 16  # RFC 9483 §3.1: senderNonce of at least 128 bits


@dataclass(frozen=True)
class Answer:
    status: int
    der: bytes


def handle(domain: Domain, body: bytes, content_type: str) -> Answer:
    try:
        message = parse(body)
    except Malformed as exc:
        return _error(domain, None, None, Refusal(str(exc), "badDataFormat", protected=False))
    if content_type.split(";")[0].strip().lower() != CONTENT_TYPE:
        refusal = Refusal(
            f"the content type must be {CONTENT_TYPE} (RFC 9811 §3)",
            "badRequest",
            protected=False,
        )
        return _error(domain, message, None, refusal)
    sender: Sender | None = None
    try:
        _check_header(domain, message)
        sender = authenticate(domain, message)
        _check_time(message)
        _check_nonce(domain, message, sender)
        outcome = _dispatch(domain, message, sender)
        return _answer(domain, message, sender, outcome)
    except Refusal as refusal:
        return _error(domain, message, sender, refusal)
    except DatabaseError:
        logger.exception("CMP: database failure")
        return _error(
            domain, message, sender, Refusal("the database failed; retry later", "systemUnavail")
        )
    except Exception:  # never a 500: a CMP client reads failInfo, not a stack trace
        logger.exception("CMP: unexpected failure")
        return _error(domain, message, sender, Refusal("internal error", "systemFailure"))


def _check_header(domain: Domain, message: Message) -> None:
    header = message.header
    if not services.enabled(domain):
        raise Refusal(f"CMP is disabled in domain {domain.slug}", "notAuthorized", protected=False)
    if header.pvno not in (2, 3):
        raise Refusal(
            f"pvno {header.pvno} is not supported (2 or 3)", "unsupportedVersion", protected=False
        )
    if not header.transaction_id:
        raise Refusal("the header has no transactionID", "badRequest", protected=False)
    if len(header.transaction_id) > 64:
        raise Refusal("the transactionID is longer than 64 bytes", "badRequest", protected=False)
    if header.sender_nonce is None or len(header.sender_nonce) < MIN_NONCE:
        raise Refusal(
            f"senderNonce must be at least {MIN_NONCE} bytes", "badSenderNonce", protected=False
        )
    if message.protection is None:
        raise Refusal(
            "the message is not protected (RFC 9483 §3.2)", "badMessageCheck", protected=False
        )


def _check_time(message: Message) -> None:
    sent = message.header.message_time
    if sent is None:  # RFC 9483 §3.1: RECOMMENDED, not required; the nonce still guards
        return
    skew = abs((datetime.now(UTC) - sent).total_seconds())
    if skew > settings.ANCHORAGE_CMP_MAX_SKEW_SECONDS:
        raise Refusal(f"messageTime is {int(skew)} s away from ours", "badTime")


def _check_nonce(domain: Domain, message: Message, sender: Sender) -> None:
    assert message.header.sender_nonce is not None
    if not replay.first_use(domain.pk, sender.label, message.header.sender_nonce):
        raise Refusal("this senderNonce was used before: a replay", "badSenderNonce")


def _dispatch(domain: Domain, message: Message, sender: Sender) -> ops.Outcome:
    kind = message.body_type
    if kind in ops.ENROLL:
        return ops.enroll(domain, message, sender)
    if kind == "certConf":
        return ops.confirm(domain, message, sender)
    if kind == "rr":
        return ops.revoke_request(domain, message, sender)
    if kind == "genm":
        return ops.general(domain, message, sender)
    raise Refusal(f"{kind} messages are not served (RFC 9483 profile)", "badRequest")


def _answer(domain: Domain, message: Message, sender: Sender, outcome: ops.Outcome) -> Answer:
    protection = sender.protection(domain)
    reply = responses.Reply(
        message.header,
        protection,
        sender_name=_sender_name(domain, message, protection, outcome.extra_certs[:1]),
        implicit_confirm=outcome.implicit_confirm,
        extra_certs=outcome.extra_certs,
    )
    if outcome.body in ("ip", "cp", "kup"):
        der = responses.cert_rep(reply, outcome.body, outcome.certified, outcome.ca_pubs)
    elif outcome.body == "rp":
        der = responses.rev_rep(reply, responses.Status())
    elif outcome.body == "genp":
        assert isinstance(outcome.value, list)
        der = responses.gen_rep(reply, outcome.value)
    else:
        der = responses.pki_conf(reply)
    tx = outcome.transaction
    if tx is not None:  # certConf must echo this as its recipNonce
        CmpTransaction.objects.filter(pk=tx.pk).update(response_nonce=reply.sender_nonce)
    return Answer(200, der)


def _sender_name(
    domain: Domain,
    message: Message | None,
    protection: responses.MacKey | responses.SigningKey | None,
    issuer: list[bytes] | None = None,
) -> bytes | None:
    """Who a MAC-protected or unprotected answer says it is from (a signed one names its
    protection certificate's subject): the request's recipient, else the answering CA — the
    issuer of the certificate just made when there is one, so no lookup is paid for it."""
    if isinstance(protection, responses.SigningKey):
        return None
    header = message.header if message is not None else None

    def answering_ca() -> bytes | None:
        if issuer:
            return issuer[0]
        try:
            return bytes(services.signing_ca(domain).certificate)
        except Exception:  # no CA to name (misconfigured domain): the NULL-DN
            return None

    return responses.answer_sender(header, answering_ca)


def _error(
    domain: Domain, message: Message | None, sender: Sender | None, refusal: Refusal
) -> Answer:
    operation = message.body_type if message is not None else "?"
    try:
        ops.refused(domain, sender, operation, refusal)
    except DatabaseError:
        logger.exception("CMP: could not audit a refusal")
    protection: responses.MacKey | responses.SigningKey | None = None
    if refusal.protected and sender is not None:
        try:
            protection = sender.protection(domain)
        except Exception:  # no protection key can be made: answer unprotected
            logger.exception("CMP: no protection for an error answer")
    status = responses.Status.rejection(refusal.reason, *refusal.fail)
    header = message.header if message is not None else None
    try:
        name = _sender_name(domain, message, protection)
        return Answer(200, responses.error(responses.Reply(header, protection, name), status))
    except Exception:
        logger.exception("CMP: could not encode an error answer")
    try:  # without protection, then without anything from the request
        return Answer(200, responses.error(responses.Reply(header, None), status))
    except Exception:
        return Answer(200, responses.LAST_RESORT_ERROR)
