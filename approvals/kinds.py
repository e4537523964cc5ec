"""The kinds of request the engine knows. Each app registers its own in AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from accounts.roles import Perm

if TYPE_CHECKING:
    from approvals.models import ApprovalRequest

Action = Callable[["ApprovalRequest"], dict[str, Any] | None]
Hook = Callable[["ApprovalRequest"], None]
FailureHook = Callable[["ApprovalRequest", str], None]


@dataclass(frozen=True)
class Kind:
    name: str
    # Who may decide, and who may submit (None: anyone who can reach the submitting service).
    decide_permission: Perm
    submit_permission: Perm | None
    # Audit actions are "<audit_prefix>.submitted", ".approved", ".rejected", ...
    audit_prefix: str
    # Runs in a Celery task once quorum is reached, inside a transaction that holds the
    # request's row lock: it must be idempotent, and it runs exactly once per approval.
    action: Action | None = None
    # Run in the deciding transaction when the request reaches a final state, so the
    # subject's own record (e.g. a truststore request's state) changes atomically with it.
    on_final: Hook | None = None
    # Run when the action failed (its own changes rolled back), so the subject can say so.
    on_failed: FailureHook | None = None
    default_approvals: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


_registry: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    _registry[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    try:
        return _registry[name]
    except KeyError:
        raise LookupError(f"unknown approval kind {name!r}") from None


def registered() -> list[Kind]:
    return sorted(_registry.values(), key=lambda k: k.name)
