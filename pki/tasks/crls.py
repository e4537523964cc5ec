"""CRL tasks: publish a CA's CRLs (after revocations, debounced; a new CA's first), and beat's
round of what is due. Both are safe to run twice: a second run publishes the next number with
the same or newer content."""

from __future__ import annotations

from celery import shared_task

from pki.crypto.keys import KeyBackendError


@shared_task(
    name="pki.tasks.crls.generate_crl",
    ignore_result=True,
    autoretry_for=(KeyBackendError,),  # an HSM or KMS that did not answer
    retry_backoff=5,
    max_retries=5,
)
def generate_crl(ca_id: int, delta: bool = False) -> list[int]:
    from pki.services import crls

    return [c.number for c in crls.publish(ca_id, delta=delta)]


@shared_task(name="pki.tasks.crls.publish_due", ignore_result=True)
def publish_due() -> dict[str, str]:
    from pki.services import crls

    return crls.publish_due()
