"""Walk every route under /api/v1/ and answer it junk, no auth, a bad token and another
domain's objects: the answers are 400 / 401 / 403 / 404 / 405 / 415 JSON, never a 500 and
never an HTML page (DESIGN.md, "Failure behaviour"). Routes that serve files (PEM, DER)
answer their own media type on success and JSON on errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from tests.api.conftest import OBJECT_FACTORIES, WalkObjects

API_PREFIX = "api/v1/"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")
# The schema's own media types (YAML by default, JSON on ?format=json); its errors are JSON.
SCHEMA_TYPES = ("application/vnd.oai.openapi", "application/json")
# Routes whose success is a file, not JSON, and its media type.
FILE_ROUTES = {
    "api:certificate-pem": "application/x-pem-file",
    "api:certificate-der": "application/pkix-cert",
    "api:ca-chain": "application/x-pem-file",
    "api:truststore-request-bundle": "application/x-pem-file",
    "api:estate-trust-list-export": "application/x-pem-file",
    "api:estate-consumer-export-csv": "text/csv",
}
# URL parameters other than the object lookup, and a value the factories' objects have.
KNOWN_PARAMS = {"version": "1", "truststore_type": "mtls"}


@dataclass(frozen=True)
class Route:
    pattern: str  # the full pattern, for messages
    name: str  # namespaced URL name, for reverse()
    params: tuple[str, ...]
    callback: Any

    @property
    def view_class(self) -> Any:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def lookup_kwarg(self) -> str | None:
        cls = self.view_class
        lookup = getattr(cls, "lookup_url_kwarg", None) or getattr(cls, "lookup_field", None)
        return lookup if lookup in self.params else None

    @property
    def model(self) -> type[models.Model] | None:
        cls = self.view_class
        queryset = getattr(cls, "queryset", None)
        if queryset is not None:
            return queryset.model
        serializer = getattr(cls, "serializer_class", None)
        meta = getattr(serializer, "Meta", None)
        return getattr(meta, "model", None)

    @property
    def allowed(self) -> frozenset[str]:
        actions = getattr(self.callback, "actions", None)
        if actions:  # a router-generated viewset view: {"get": "retrieve", ...}
            return frozenset(m.upper() for m in actions if m.upper() in METHODS)
        cls = self.view_class
        return frozenset(m for m in METHODS if hasattr(cls, m.lower()))

    @property
    def is_schema(self) -> bool:
        return self.name.endswith(":schema")

    @property
    def foreign_status(self) -> int:
        """What another domain's object answers: 403 with the reason, or 404 from views
        that do not even reveal it exists (pki.api.common.DomainScopedViewSet)."""
        return 404 if getattr(self.view_class, "hides_other_domains", False) else 403


def _params(pattern: Any) -> tuple[str, ...]:
    if hasattr(pattern, "converters") and pattern.converters:
        return tuple(pattern.converters)
    regex = getattr(pattern, "regex", None)
    return tuple(regex.groupindex) if regex is not None else ()


def _walk(
    patterns: list[Any], prefix: str = "", namespace: str = "", params: tuple[str, ...] = ()
) -> Iterator[Route]:
    for entry in patterns:
        here = prefix + str(entry.pattern)
        found = params + _params(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, here, ns, found)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield Route(here, name, found, entry.callback)


def api_routes() -> list[Route]:
    return [
        route
        for route in _walk(get_resolver().url_patterns)
        if route.pattern.lstrip("^").startswith(API_PREFIX)
    ]


ROUTES = api_routes()
OBJECT_ROUTES = [r for r in ROUTES if r.lookup_kwarg]
READ_ROUTES = [r for r in ROUTES if "GET" in r.allowed]


def route_id(route: Route) -> str:
    return route.name.removeprefix("api:")


def path_for(route: Route, objects: dict[str, models.Model] | None) -> str:
    kwargs: dict[str, str] = {}
    for param in route.params:
        if param == "format":
            kwargs[param] = "json"
        elif param == route.lookup_kwarg:
            model = route.model
            assert model is not None, f"{route.pattern}: cannot tell the model of its objects"
            label = model._meta.label_lower
            assert objects is not None and label in objects, (
                f"{route.pattern}: no factory for {label}; add one to "
                "tests/api/conftest.py OBJECT_FACTORIES"
            )
            kwargs[param] = str(getattr(objects[label], route.lookup_kwarg))
        elif param in KNOWN_PARAMS:
            kwargs[param] = KNOWN_PARAMS[param]
        else:
            raise AssertionError(f"{route.pattern}: the walk does not know parameter {param!r}")
    assert route.name, f"{route.pattern} has no URL name; the walk reverses by name"
    path = reverse(route.name, kwargs=kwargs)
    assert resolve(path).func is route.callback, f"{path} does not resolve to {route.pattern}"
    return path


def slash_variants(route: Route, path: str) -> list[str]:
    """The path as reversed, and with its trailing slash toggled: DESIGN.md writes API paths
    without one (/api/v1/certificates), and neither form may answer an HTML redirect."""
    if route.name == "api:api-root":
        return [path]
    return [path, path.removesuffix("/") if path.endswith("/") else path + "/"]


def send(client: Client, method: str, path: str, body: bytes | None = None, **kw: Any) -> Any:
    if body is None:
        return client.generic(method, path, **kw)
    kw.setdefault("content_type", "application/json")
    return client.generic(method, path, data=body, **kw)


def json_body(response: Any, what: str, *, schema: bool = False, route: Route | None = None) -> Any:
    content_type = response.get("Content-Type", "")
    allowed = SCHEMA_TYPES if schema and response.status_code < 300 else ("application/json",)
    file_type = FILE_ROUTES.get(route.name) if route is not None else None
    if file_type and response.status_code < 300:
        assert content_type.startswith(file_type), f"{what}: {content_type!r}, not {file_type}"
        return None
    assert content_type.startswith(allowed), (
        f"{what}: {response.status_code} answered as {content_type!r}, not JSON: "
        f"{response.content[:200]!r}"
    )
    if content_type.startswith("application/vnd.oai.openapi") and "json" not in content_type:
        return None
    return json.loads(response.content)


def expect_error(response: Any, statuses: set[int] | int, what: str) -> dict[str, Any]:
    wanted = {statuses} if isinstance(statuses, int) else statuses
    assert response.status_code != 500, f"{what}: 500 {response.content[:300]!r}"
    assert response.status_code in wanted, (
        f"{what}: {response.status_code} (wanted {sorted(wanted)}): {response.content[:300]!r}"
    )
    body = json_body(response, what)
    assert isinstance(body, dict) and body.get("detail"), f"{what}: no detail in {body!r}"
    assert body.get("code"), f"{what}: no code in {body!r}"
    return body


def junk_bodies() -> list[tuple[str, bytes]]:
    random = os.urandom(512)
    return [
        ("random bytes", random),
        ("json array", b'[1, 2, {"comment": "x"}]'),
        ("json string", b'"just a string"'),
        ("json number", b"42"),
        ("json null", b"null"),
        ("truncated json", b'{"comment": "unterminated'),
        ("invalid utf-8", b'{"comment": "\xff\xfe"}'),
        ("nul in a string", b'{"comment": "a\\u0000b"}'),
        ("nul in a key", b'{"a\\u0000": "b"}'),
        ("nested deep", b"[" * 5000 + b"]" * 5000),
        ("1 MB json string", json.dumps("x" * 1_000_000).encode()),
        ("1 MB raw string", b"y" * 1_000_000),
        ("wrong field types", b'{"comment": {"a": [1, 2]}, "domain": 7, "state": null}'),
    ]


# --- the walk sees what it should ---------------------------------------------------------


def test_the_walk_finds_the_api() -> None:
    names = {r.name for r in ROUTES}
    for expected in (
        "api:schema",
        "api:me",
        "api:api-root",
        "api:domain-list",
        "api:domain-detail",
        "api:approval-list",
        "api:approval-detail",
        "api:approval-approve",
        "api:approval-reject",
        "api:approval-cancel",
        "api:audit-event-list",
        "api:audit-event-detail",
        "api:certificate-list",
        "api:certificate-detail",
        "api:certificate-pem",
        "api:certificate-der",
        "api:ca-list",
        "api:ca-detail",
        "api:ca-chain",
        "api:ceremony-list",
        "api:ceremony-detail",
        "api:ceremony-approve",
        "api:ceremony-reject",
        "api:profile-list",
        "api:profile-detail",
        "api:profile-versions",
        "api:profile-version",
        "api:certificate-request-list",
        "api:certificate-request-detail",
        "api:certificate-request-approve",
        "api:certificate-request-reject",
        "api:certificate-request-cancel",
        "api:truststore-request-list",
        "api:truststore-request-detail",
        "api:truststore-request-approve",
        "api:truststore-request-reject",
        "api:truststore-request-cancel",
        "api:truststore-request-bundle",
        "api:truststore-request-compare",
        "api:truststore-request-deploy",
        "api:truststore-deployed",
    ):
        assert expected in names, f"{expected} missing from the walk: {sorted(names)}"
    assert {r.name for r in OBJECT_ROUTES} >= {"api:domain-detail", "api:audit-event-detail"}
    for route in OBJECT_ROUTES:
        model = route.model
        assert model is not None, route.pattern
        assert model._meta.label_lower in OBJECT_FACTORIES, (
            f"{route.pattern} serves {model._meta.label_lower}: add a factory to "
            "tests/api/conftest.py OBJECT_FACTORIES"
        )


# --- authentication -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_no_or_bad_credentials_answer_401_json(route: Route, walk_objects: WalkObjects) -> None:
    path = path_for(route, walk_objects.other)
    anonymous = Client(raise_request_exception=False)
    bad_headers = {
        "Token junk": "Token junk",
        "Token with spaces": "Token a b",
        "Token empty": "Token ",
        "Bearer": "Bearer junk",
        "Basic": "Basic Zm9vOmJhcg==",
    }
    for method in METHODS:
        for variant in slash_variants(route, path):
            response = send(anonymous, method, variant)
            expect_error(response, 401, f"{method} {variant} without auth")
            assert response.get("WWW-Authenticate") == "Token", f"{method} {variant}: no challenge"
        for label, header in bad_headers.items():
            client = Client(raise_request_exception=False, headers={"Authorization": header})
            expect_error(send(client, method, path), 401, f"{method} {path} with {label}")
        if method in BODY_METHODS:
            response = send(anonymous, method, path, b'{"comment": "x"}')
            expect_error(response, 401, f"{method} {path} without auth, with a body")


# --- another domain's objects -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=route_id)
def test_another_domains_objects_answer_403_json(
    route: Route, walk_objects: WalkObjects, alpha_client: Client
) -> None:
    path = path_for(route, walk_objects.other)
    status = route.foreign_status
    for method in METHODS:
        what = f"{method} {path} (domain beta's object, roles only in alpha)"
        if method not in route.allowed:
            expect_error(send(alpha_client, method, path), 405, what)
            continue
        body = expect_error(send(alpha_client, method, path), status, what)
        if status == 403:
            assert "beta" in str(body["detail"]) or body.get("code") == "permission_denied", body
        else:
            assert "domain beta" not in str(body["detail"]), body
        if method in BODY_METHODS:
            expect_error(send(alpha_client, method, path, b'{"comment": "x"}'), status, what)

    # The same route on the user's own domain's object is open to them.
    own = path_for(route, walk_objects.own)
    if "GET" in route.allowed:
        response = send(alpha_client, "GET", own)
        assert response.status_code == 200, f"GET {own}: {response.status_code}"
        json_body(response, f"GET {own}", route=route)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_authenticated_reads_answer_json(
    route: Route, walk_objects: WalkObjects, alpha_client: Client
) -> None:
    path = path_for(route, walk_objects.own)
    for method in METHODS:
        if method in route.allowed:
            continue
        expect_error(send(alpha_client, method, path), 405, f"{method} {path}")
    if "GET" in route.allowed:
        response = send(alpha_client, "GET", path)
        assert response.status_code == 200, f"GET {path}: {response.status_code}"
        json_body(response, f"GET {path}", schema=route.is_schema, route=route)


# --- junk ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_junk_bodies_never_crash(
    route: Route, walk_objects: WalkObjects, alpha_client: Client
) -> None:
    own = path_for(route, walk_objects.own)
    other = path_for(route, walk_objects.other) if route.lookup_kwarg else None
    for method in BODY_METHODS:
        for label, body in junk_bodies():
            what = f"{method} {own} with {label}"
            response = send(alpha_client, method, own, body)
            if method not in route.allowed:
                expect_error(response, 405, what)
            else:
                expect_error(response, {400, 403, 415}, what)
            if other is not None:
                response = send(alpha_client, method, other, body)
                expect_error(
                    response, {route.foreign_status, 405}, f"{method} {other} with {label}"
                )
        # Not JSON at all: an unsupported media type, or a disallowed method.
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/x"):
            response = send(alpha_client, method, own, b"a=b", content_type=content_type)
            expect_error(response, {400, 403, 405, 415}, f"{method} {own} as {content_type}")


JUNK_LOOKUPS = ["0", "-1", "abc", "9" * 30, "%00", "%C0%AF", "x" * 300, "%20", "1e3", "true"]


@pytest.mark.django_db
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=route_id)
def test_junk_lookups_answer_404_json(
    route: Route, walk_objects: WalkObjects, alpha_client: Client
) -> None:
    path = path_for(route, walk_objects.own)
    model, lookup = route.model, route.lookup_kwarg
    assert model is not None and lookup is not None
    real = quote(str(getattr(walk_objects.own[model._meta.label_lower], lookup)))
    head, sep, tail = path.partition(f"/{real}")
    assert sep, f"cannot find /{real} in {path}"
    for junk in JUNK_LOOKUPS:
        junk_path = f"{head}/{junk}{tail}"
        for method in sorted(route.allowed):
            response = send(alpha_client, method, junk_path, b"{}" if method != "GET" else None)
            expect_error(response, {400, 404}, f"{method} {junk_path}")


JUNK_QUERY_VALUES = ["%00", "x" * 2000, "-1", "abc", "%FF", "1' OR '1'='1", "[]", "%C0%AF"]
QUERY_PARAMS = [
    "limit",
    "offset",
    "state",
    "kind",
    "action",
    "domain",
    "actor",
    "object_type",
    "object_id",
    "search",
    "ordering",
    "page",
]


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in READ_ROUTES if not r.is_schema], ids=route_id)
def test_junk_query_parameters_never_crash(
    route: Route, walk_objects: WalkObjects, alpha_client: Client
) -> None:
    path = path_for(route, walk_objects.own)
    for value in JUNK_QUERY_VALUES:
        query = "&".join(f"{name}={value}" for name in QUERY_PARAMS)
        response = send(alpha_client, "GET", f"{path}?{query}")
        assert response.status_code in {200, 400}, (
            f"GET {path}?…={value[:20]}: {response.status_code} {response.content[:300]!r}"
        )
        json_body(response, f"GET {path}?…={value[:20]}", route=route)


# --- paths outside the URLconf, and the schema --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/v1/nope/",
        "/api/v1/domains/beta/extra",
        "/api/v2/",
        "/api/",
        "/api/v1/audit-events/abc",
    ],
)
def test_unknown_api_paths_answer_json_404(path: str, alpha_client: Client) -> None:
    for client in (alpha_client, Client(raise_request_exception=False)):
        for method in METHODS:
            response = send(client, method, path)
            # An unknown path is a 404 to everyone; a known one is a 401 to strangers.
            assert response.status_code in {401, 404}, f"{method} {path}: {response.status_code}"
            expect_error(response, response.status_code, f"{method} {path}")
    expect_error(send(alpha_client, "GET", path), 404, f"GET {path}")


@pytest.mark.django_db
def test_schema_requires_authentication(alpha_client: Client) -> None:
    anonymous = Client(raise_request_exception=False)
    for query in ("", "?format=json", "?format=yaml"):
        expect_error(anonymous.get(f"/api/v1/schema/{query}"), 401, f"schema{query} without auth")

    response = alpha_client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert {"/api/v1/me/", "/api/v1/domains/{slug}/"} <= set(schema["paths"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    assert alpha_client.get("/api/v1/schema/").status_code == 200
