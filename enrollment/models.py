"""Devices and the EST / CMP / ACME front-ends arrive with their issues."""
