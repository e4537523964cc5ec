"""Serving OCSP: the Django view (simple deployments) and the lean responder process."""
