"""Upstream issuers: CAs outside Anchorage that sign certificates for us (AWS Private CA)."""
