"""/api/v1/estate/removal-plans (the transition-window pattern: create, detail with steps
and dependencies, run-due, rollback) and /api/v1/estate/maturity?domain=<slug>. camelCase
JSON like the other estate APIs; another domain's plan answers 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Perm
from pki.api.common import (
    DomainScopedViewSet,
    StrictSerializer,
    domain_for,
    person,
    queried_domain,
    validated,
)
from truststores.estate import catalog, maturity, removal
from truststores.estate.models import RemovalPlan, RemovalStep, TrustList


def step_json(step: RemovalStep) -> dict[str, Any]:
    return {
        "kind": step.kind,
        "label": step.get_kind_display(),
        "dueAt": step.due_at.isoformat(),
        "state": step.state,
        "doneAt": step.done_at.isoformat() if step.done_at else None,
        "result": step.result,
    }


def plan_json(plan: RemovalPlan, *, full: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": plan.pk,
        "domain": plan.domain.slug,
        "title": plan.title,
        "ca": {"fingerprint": plan.ca.fingerprint, "subject": plan.ca.subject},
        "reason": plan.reason,
        "state": plan.state,
        "announceAt": plan.announce_at.isoformat() if plan.announce_at else None,
        "removeAt": plan.remove_at.isoformat() if plan.remove_at else None,
        "monitoringUntil": plan.monitoring_until.isoformat() if plan.monitoring_until else None,
        "createdBy": plan.created_by.get_username(),
        "createdAt": plan.created_at.isoformat(),
    }
    if full:
        data.update(
            description=plan.description,
            windows=plan.windows,
            trustLists=sorted(t.slug for t in plan.trust_lists.all()),
            replacements=[
                {"fingerprint": r.fingerprint, "subject": r.subject}
                for r in plan.replacement_cas.all()
            ],
            dependencies=plan.dependencies,
            steps=[step_json(s) for s in removal.ordered_steps(plan)],
            changes=list(plan.changes.values("id", "state", "trust_list__slug")),
        )
    return data


_FP = catalog.FINGERPRINT_PATTERN


class PlanCreateSerializer(StrictSerializer):
    domain = serializers.SlugField(max_length=63)
    ca = serializers.RegexField(_FP, help_text="SHA-256 fingerprint of the CA to remove")
    title = serializers.CharField(max_length=200, allow_blank=True, default="")
    reason = serializers.ChoiceField(choices=RemovalPlan.Reason.values, default="planned")
    description = serializers.CharField(max_length=4000, allow_blank=True, default="")
    windows = serializers.DictField(child=serializers.JSONField(), required=False)
    announceAt = serializers.DateTimeField(required=False)
    monitorDays = serializers.IntegerField(min_value=1, max_value=365, default=30)
    trustLists = serializers.ListField(
        child=serializers.SlugField(max_length=80), required=False, max_length=100
    )
    replacements = serializers.ListField(
        child=serializers.RegexField(_FP), required=False, max_length=100
    )


class RunDueSerializer(StrictSerializer):
    """An empty object: running due steps takes no arguments (time is the server's)."""


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)


class RemovalPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DomainScopedViewSet):
    """?state=<state> filters the list."""

    queryset = RemovalPlan.objects.all()  # names the model; get_queryset scopes it
    lookup_value_regex = "[0-9]{1,18}"
    domain_perms = {
        "run_due": Perm.ESTATE_MANAGE,
        "rollback": Perm.ESTATE_APPROVE,
        "*": Perm.DOMAIN_VIEW,
    }

    def get_queryset(self) -> QuerySet[RemovalPlan]:
        qs = self.scoped(RemovalPlan.objects.select_related("domain", "ca", "created_by"))
        state = self.request.query_params.get("state")
        if state and self.action == "list":
            qs = qs.filter(state=state)
        return qs

    @extend_schema(responses=dict, operation_id="estate_removal_plans_list")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [plan_json(p, full=False) for p in (page if page is not None else [])]
        return self.get_paginated_response(rows) if page is not None else Response(rows)

    @extend_schema(responses=dict)
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(plan_json(self.get_object()))

    @extend_schema(request=PlanCreateSerializer, responses={201: dict})
    def create(self, request: Request) -> Response:
        data = validated(PlanCreateSerializer, request)
        user = person(request)
        domain = domain_for(data["domain"], user, Perm.ESTATE_MANAGE)
        try:
            ca = catalog.cas_by_fingerprint(domain, [data["ca"]])[0]
            replacements = catalog.cas_by_fingerprint(domain, data.get("replacements", []))
        except ValidationError as exc:
            raise exceptions.ValidationError({"ca": exc.messages}) from None
        lists = None
        if data.get("trustLists"):
            lists = list(TrustList.objects.filter(domain=domain, slug__in=data["trustLists"]))
            if len(lists) != len(set(data["trustLists"])):
                raise exceptions.ValidationError({"trustLists": "unknown trust list"})
        plan = removal.create_plan(
            domain,
            user,
            ca,
            now=timezone.now(),
            title=data["title"],
            reason=data["reason"],
            description=data["description"],
            windows=data.get("windows"),
            announce_at=data.get("announceAt"),
            monitor_days=data["monitorDays"],
            trust_lists=lists,
            replacement_cas=replacements,
        )
        return Response(plan_json(plan), status=status.HTTP_201_CREATED)

    @extend_schema(request=RunDueSerializer, responses=dict)
    @action(detail=True, methods=["post"], url_path="run-due")
    def run_due(self, request: Request, pk: str | None = None) -> Response:
        """Run the plan's due steps now (what the beat task does every few minutes)."""
        obj = self.get_object()
        validated(RunDueSerializer, request)
        changed = removal.run_due(obj.pk, timezone.now())
        obj.refresh_from_db()
        return Response({**plan_json(obj), "changed": [s.kind for s in changed]})

    @extend_schema(request=ReasonSerializer, responses=dict)
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str | None = None) -> Response:
        obj = self.get_object()
        data = validated(ReasonSerializer, request)
        removal.rollback(obj, person(request), data["reason"], timezone.now())
        obj.refresh_from_db()
        return Response(plan_json(obj))


def maturity_json(score: maturity.Maturity) -> dict[str, Any]:
    def criterion(c: maturity.Criterion) -> dict[str, Any]:
        return {
            "level": c.level,
            "key": c.key,
            "label": c.label,
            "value": c.value,
            "threshold": c.threshold,
            "comparison": ">=" if c.at_least else "<=",
            "passed": c.passed,
            "advice": c.advice,
        }

    return {
        "level": score.level,
        "name": score.name,
        "facts": score.facts,
        "criteria": [criterion(c) for c in score.criteria],
        "next": [criterion(c) for c in score.next_steps],
    }


class MaturityView(APIView):
    """GET /api/v1/estate/maturity?domain=<slug> (optional when the caller sees one)."""

    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        domain = queried_domain(request, Perm.DOMAIN_VIEW)
        score = maturity.score(domain, timezone.now())
        return Response({"domain": domain.slug, **maturity_json(score)})
