"""Celery tasks of the pki app, one module per concern (autodiscovered as `pki.tasks`)."""

from pki.tasks import crls, ocsp

__all__ = ["crls", "ocsp"]
