"""Hostile and mistaken input across the estate API: CSV in the wrong encoding or shape,
oversized bodies, fingerprints in every form and quantity, unknown export formats and
passwords, another domain's objects. Every refusal is a 4xx with a reason, never a 500,
and nothing is half done."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.roles import Role
from pki.models import Domain
from tests.api.conftest import token_client
from tests.console.helpers import logged_in
from tests.estate.helpers import Estate, bulk_consumers, current, removal_plan
from truststores.estate import catalog, drift, removal
from truststores.estate.models import Consumer, DriftFinding, ObservedState, TrustListChange

pytestmark = pytest.mark.django_db

CONSUMERS = "/api/v1/estate/consumers"
HEADER = "name,kind,category,distribution,trust_list\n"


def post(client: Client, path: str, data: object) -> Any:
    return client.post(path, json.dumps(data), content_type="application/json")


def csv_post(client: Client, data: bytes, domain: str = "alpha") -> Any:
    return client.post(f"{CONSUMERS}/import?domain={domain}", data, content_type="text/csv")


def refused(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.content[:500])
    text = response.content.decode()
    assert json.loads(text)["detail"], text  # a reason, as JSON
    for word in words:
        assert word in text, (word, text[:500])
    return text


def colon_hex(fp: str) -> str:
    return ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()


def test_csv_encodings_and_shapes(estate: Estate) -> None:
    ra = token_client(estate.people.ra)
    bom = b"\xef\xbb\xbf" + (HEADER + "bom-1,host,os,os_package,public\n").encode()
    done = csv_post(ra, bom)
    assert done.status_code == 200, done.content
    assert done.json()["created"] == ["bom-1"]
    in_json = post(
        ra,
        f"{CONSUMERS}/import",
        {"domain": "alpha", "csv": "\ufeff" + HEADER + "bom-2,host,os,os_package,\n"},
    )
    assert in_json.status_code == 200 and in_json.json()["created"] == ["bom-2"]
    # Semicolons or tabs (a spreadsheet's "CSV" in some locales): said so.
    for sep in (";", "\t"):
        text = HEADER.replace(",", sep) + sep.join(["x", "host", "os", "os_package", ""]) + "\n"
        refused(csv_post(ra, text.encode()), 400, "separated by commas")
    # No header row: the first data row is not taken for one.
    refused(csv_post(ra, b"web-9,host,os,os_package,public\n"), 400, "header row")
    refused(csv_post(ra, b""), 400, "required")  # no body: nothing parsed, nothing named
    refused(csv_post(ra, b"\n\n"), 400, "empty")
    refused(csv_post(ra, b"name,kind\nx,host\n"), 400, "missing column 'category'")
    # Not UTF-8: refused with where, not read as something else.
    latin = (HEADER + "caf\xe9-1,host,os,os_package,public\n").encode("latin-1")
    refused(csv_post(ra, latin), 400, "not UTF-8")
    refused(csv_post(ra, b"name,kind\x00\n"), 400)
    # 10 MB, as a CSV body and as a JSON body.
    big = HEADER.encode() + b"x" * (10 * 1024 * 1024)
    refused(csv_post(ra, big), 400, "larger than")
    huge = post(ra, f"{CONSUMERS}/import", {"domain": "alpha", "csv": big.decode()})
    refused(huge, 400, "larger than")
    # A CSV body needs ?domain= and the right to write there.
    refused(csv_post(ra, bom, domain=""), 400, "domain")
    refused(csv_post(token_client(estate.people.auditor), bom), 403)
    assert set(Consumer.objects.values_list("name", flat=True)) == {"bom-1", "bom-2"}

    # The console's upload says the same.
    client = logged_in(estate.people.ra)
    for data, said in ((latin, b"not UTF-8"), (bom.replace(b"bom-1", b"bom-3"), b"1 created")):
        page = client.post(
            "/estate/consumers/",
            {"domain": "alpha", "csv": SimpleUploadedFile("c.csv", data)},
            follow=True,
        )
        assert page.status_code == 200 and said in page.content, page.content[-2000:]
    assert not Consumer.objects.filter(name__startswith="caf").exists()


def test_reported_fingerprints_in_every_form(estate: Estate) -> None:
    ra = token_client(estate.people.ra)
    [consumer] = bulk_consumers(estate, 1, estate.public, "agent")
    report = f"{CONSUMERS}/{consumer.pk}/report"
    a, b = estate.fp("Public A"), estate.fp("Public B")
    # Upper case, colons (openssl / keytool output), spaces, duplicates: one normal form.
    sent = [a.upper(), colon_hex(a), f"  {b}  ", colon_hex(b).lower(), b]
    answer = post(ra, report, {"fingerprints": sent, "reporter": "agent"})
    assert answer.status_code == 202, answer.content
    assert answer.json()["count"] == 2
    assert ObservedState.objects.get(consumer=consumer).fingerprints == sorted([a, b])
    for junk, word in (
        ({"fingerprints": [a[:63]]}, "item 0"),
        ({"fingerprints": [a, "g" * 64]}, "item 1"),
        ({"fingerprints": [a + "00"]}, "item 0"),
        ({"fingerprints": [64]}, "item 0"),
        ({"fingerprints": [[a]]}, "item 0"),
        ({"fingerprints": {"a": a}}, "a list"),
        ({"fingerprints": None}, "fingerprints"),
        ({"fingerprints": [], "certificates": "PEM"}, "certificates"),
        ({"fingerprints": ["x" * 100_000]}, "item 0"),
        ({"fingerprints": [], "reporter": "r" * 101}, "reporter"),
    ):
        refused(post(ra, report, junk), 400, word)
    # 100,000 fingerprints: refused at once, with the limit named.
    many = [f"{n:064x}" for n in range(100_000)]
    refused(post(ra, report, {"fingerprints": many}), 400, "at most 5000")
    assert ObservedState.objects.get(consumer=consumer).fingerprints == sorted([a, b])
    # Who-trusts and removal plans read the same forms.
    who = ra.get(f"/api/v1/estate/who-trusts?fingerprint={colon_hex(a)}")
    assert who.status_code == 200 and who.json()["fingerprint"] == a
    refused(ra.get("/api/v1/estate/who-trusts?fingerprint=" + "z" * 64), 400, "SHA-256")
    made = post(
        ra,
        "/api/v1/estate/removal-plans",
        {"domain": "alpha", "ca": colon_hex(estate.fp("Old Root"))},
    )
    assert made.status_code == 201, made.content
    refused(post(ra, "/api/v1/estate/removal-plans", {"domain": "alpha", "ca": ":" * 64}), 400)


def test_export_formats_and_passwords(estate: Estate, tmp_path: Path) -> None:
    ra = token_client(estate.people.ra)
    base = f"/api/v1/estate/trust-lists/{estate.public.pk}/export"
    refused(ra.get(f"{base}?format=zip"), 400, "pem", "jks", "configmap")
    refused(ra.get(f"{base}?format="), 400)
    refused(ra.get(f"{base}?version=abc"), 400, "version")
    refused(ra.get(f"{base}?version=99"), 404)
    for bad in ("short", "x" * 129, "pässwort", "tab\tpass"):
        query = urlencode({"format": "jks", "password": bad})
        refused(ra.get(f"{base}?{query}"), 400, "printable ASCII")
    # The default is the JDK's own: keytool opens it with changeit, and with a chosen one.
    for password, query in (("changeit", ""), ("s3cret-store", "&password=s3cret-store")):
        got = ra.get(f"{base}?format=jks{query}")
        assert got.status_code == 200 and got["Content-Type"] == "application/x-pkcs12"
        path = tmp_path / "store.p12"
        path.write_bytes(got.content)
        listed = subprocess.run(
            ["keytool", "-list", "-storetype", "PKCS12", "-keystore", str(path),
             "-storepass", password],
            capture_output=True, check=False, text=True,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count("trustedCertEntry") == 3
    # The ConfigMap is YAML a cluster accepts: v1 ConfigMap, the bundle under one key.
    cm = ra.get(f"{base}?format=configmap&namespace=payments")
    assert cm.status_code == 200 and cm["Content-Type"] == "application/yaml"
    doc = yaml.safe_load(cm.content)
    assert set(doc) == {"apiVersion", "kind", "metadata", "data"}
    assert doc["apiVersion"] == "v1" and doc["kind"] == "ConfigMap"
    assert doc["metadata"] == {"name": "public", "namespace": "payments"}
    assert list(doc["data"]) == ["ca-bundle.pem"]
    assert doc["data"]["ca-bundle.pem"].count("-----BEGIN CERTIFICATE-----") == 3
    refused(ra.get(f"{base}?format=configmap&namespace=Pay_ments"), 400, "DNS label")
    refused(ra.get(f"{base}?format=configmap&name=-x"), 400, "DNS label")
    # A slug that is no DNS label still exports under a name that is one.
    odd = catalog.create_list(
        estate.domain, estate.people.ra, scope="internal", name="Odd", slug="Odd_List_"
    )
    got = ra.get(f"/api/v1/estate/trust-lists/{odd.pk}/export?format=configmap")
    assert got.status_code == 200, got.content
    doc = yaml.safe_load(got.content)
    assert doc["metadata"]["name"] == "odd-list" and doc["data"] == {"ca-bundle.pem": ""}


def test_another_domains_objects_are_404(
    estate: Estate, other_domain: Domain, make_user: Any
) -> None:
    [consumer] = bulk_consumers(estate, 1, estate.public, "hidden")
    drift.run()
    finding = DriftFinding.objects.get(consumer=consumer)
    plan = removal.create_plan(
        estate.domain,
        estate.people.ra,
        estate.cas["Old Root"],
        now=current(estate.public).created_at,
    )
    change = post(
        token_client(estate.people.ra),
        "/api/v1/estate/trust-list-changes",
        {"trustList": estate.internal.pk, "action": "add", "fingerprints": [estate.fp("Public A")]},
    ).json()
    outsiders = [
        make_user("beta-ra", Role.RA_OFFICER, other_domain),
        make_user("beta-approver", Role.APPROVER, other_domain),
    ]
    lists, plans = "/api/v1/estate/trust-lists", "/api/v1/estate/removal-plans"
    changes = "/api/v1/estate/trust-list-changes"
    gets = [
        f"{CONSUMERS}/{consumer.pk}",
        f"{lists}/{estate.public.pk}",
        f"{lists}/{estate.public.pk}/versions",
        f"{lists}/{estate.public.pk}/export?format=jks",
        f"{plans}/{plan.pk}",
        f"{changes}/{change['id']}",
        f"/api/v1/estate/drift-findings/{finding.pk}",
    ]
    posts = [
        (f"{CONSUMERS}/{consumer.pk}/token", {}),
        (f"{CONSUMERS}/{consumer.pk}/report", {"fingerprints": []}),
        (f"{lists}/{estate.public.pk}/rollback", {"version": 1, "reason": "x"}),
        (
            f"{lists}/{estate.public.pk}/add-back",
            {"fingerprints": [estate.fp("Public A")], "reason": "x"},
        ),
        (f"{plans}/{plan.pk}/run-due", {}),
        (f"{plans}/{plan.pk}/rollback", {"reason": "x"}),
        (f"{changes}/{change['id']}/approve", {}),
        (f"{changes}/{change['id']}/cancel", {}),
    ]
    for user in outsiders:
        client = token_client(user)
        for path in gets:
            refused(client.get(path), 404)
        for path, data in posts:
            refused(post(client, path, data), 404)
        patch = client.patch(
            f"{CONSUMERS}/{consumer.pk}",
            json.dumps({"ownerTeam": "x"}),
            content_type="application/json",
        )
        refused(patch, 404)
        refused(client.delete(f"{CONSUMERS}/{consumer.pk}"), 404)
        # Named in a body: the same answer as an id that does not exist.
        for list_id in (estate.public.pk, 10**9):
            refused(
                post(client, changes, {"trustList": list_id, "action": "add", "fingerprints": []}),
                400,
                "no such trust list",
            )
    assert Consumer.objects.get(pk=consumer.pk).owner_team == consumer.owner_team
    assert TrustListChange.objects.get(pk=change["id"]).state == "pending"
    # A removal plan of another domain is no plan at all to a change of this one.
    beta_plan = removal_plan(estate, "Old Root", [estate.public])
    beta_plan.domain = other_domain
    beta_plan.save()
    text = refused(
        post(
            token_client(estate.people.ra),
            changes,
            {"trustList": estate.public.pk, "action": "remove",
             "fingerprints": [estate.fp("Old Root")], "removalPlan": beta_plan.pk},
        ),
        400,
    )  # fmt: skip
    assert "no such removal plan" in text
