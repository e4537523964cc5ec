"""/crl/<ca>.crl and /crl/<ca>.delta.crl: DER with caching headers, conditional GETs answered
without reading the CRL, a first CRL published on the first request, 404 for unknown CAs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pki.crypto import crl
from pki.models import Crl
from pki.services import crls

pytestmark = pytest.mark.django_db


def test_the_first_request_publishes_and_the_answer_is_cacheable(pki, settings):
    _, issuing = pki
    client = Client()
    response = client.get(f"/crl/{issuing.slug}.crl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    found = Crl.objects.get(ca=issuing, delta=False)
    assert response.content == bytes(found.der)
    assert response["ETag"] == f'"{found.sha256}"'
    assert response["Last-Modified"] == found.this_update.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert response["Expires"] == found.next_update.strftime("%a, %d %b %Y %H:%M:%S GMT")
    cache = response["Cache-Control"]
    assert cache.startswith("public, max-age=") and cache.endswith(", no-transform")
    assert 0 < int(cache.split("max-age=")[1].split(",")[0]) <= settings.ANCHORAGE_CRL_DELTA_SECONDS

    delta = client.get(f"/crl/{issuing.slug}.delta.crl")
    assert delta.status_code == 200
    assert crl.info(delta.content).base_number == found.number
    assert Crl.objects.filter(ca=issuing).count() == 2  # no second publication


def test_conditional_gets_answer_304_without_reading_the_crl(pki):
    _, issuing = pki
    client = Client()
    first = client.get(f"/crl/{issuing.slug}.crl")
    for headers in (
        {"If-None-Match": first["ETag"]},
        {"If-Modified-Since": first["Last-Modified"]},
    ):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/crl/{issuing.slug}.crl", headers=headers)
        assert response.status_code == 304
        assert response["ETag"] == first["ETag"]
        assert not response.content
        assert not any('"der"' in q["sql"] for q in queries.captured_queries)
    crls.generate(issuing, delta=False)
    changed = client.get(f"/crl/{issuing.slug}.crl", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]


def test_an_unknown_ca_is_a_404(db):
    # Like /ca/<ca>.crt: Http404, answered by the project's handler404.
    assert Client().get("/crl/nobody.crl").status_code == 404
    assert Client().get("/crl/nobody.delta.crl").status_code == 404
    assert Client().post("/crl/nobody.crl").status_code == 405


def test_head_answers_the_headers_without_the_body_and_post_is_refused(pki):
    _, issuing = pki
    client = Client()
    full = client.get(f"/crl/{issuing.slug}.crl")
    head = client.head(f"/crl/{issuing.slug}.crl")
    assert head.status_code == 200
    assert head["ETag"] == full["ETag"]
    assert head.content == b""
    assert client.post(f"/crl/{issuing.slug}.crl").status_code == 405
