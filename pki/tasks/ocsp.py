"""ocsp tasks."""
