"""Trust across the estate (issue 10): authoritative trust lists per trust scope, the
consumers that should follow them, what they report, the drift between the two, and the
phased removal of a CA."""

from truststores.estate.models.inventory import (
    ClientBase,
    Consumer,
    ConsumerCategory,
    ConsumerKind,
    Distribution,
    DriftFinding,
    ObservedState,
)
from truststores.estate.models.lists import (
    TrustedCA,
    TrustList,
    TrustListChange,
    TrustListEntry,
    TrustListVersion,
    TrustScope,
)
from truststores.estate.models.removal import RemovalPlan, RemovalStep

__all__ = [
    "ClientBase",
    "Consumer",
    "ConsumerCategory",
    "ConsumerKind",
    "Distribution",
    "DriftFinding",
    "ObservedState",
    "RemovalPlan",
    "RemovalStep",
    "TrustList",
    "TrustListChange",
    "TrustListEntry",
    "TrustListVersion",
    "TrustScope",
    "TrustedCA",
]
