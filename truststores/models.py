"""Truststore requests, bundles and deployments arrive with the truststores issue."""
