"""Filters that turn stored values into what a person reads: the label of an enum value
kept as a plain string (aggregates, JSON snapshots), and an ISO timestamp kept in JSON."""

from __future__ import annotations

from django import template
from django.utils.dateparse import parse_datetime

from truststores.estate.models import ConsumerCategory, DriftFinding

register = template.Library()

_CATEGORIES = dict(ConsumerCategory.choices)
_FINDINGS = dict(DriftFinding.Kind.choices)


@register.filter
def category_label(value: str) -> str:
    return str(_CATEGORIES.get(value, value))


@register.filter
def finding_label(value: str) -> str:
    return str(_FINDINGS.get(value, value))


@register.filter
def as_datetime(value: object) -> object:
    """An ISO 8601 string (as JSON keeps a timestamp) as a datetime, for |date."""
    if isinstance(value, str):
        return parse_datetime(value) or value
    return value
