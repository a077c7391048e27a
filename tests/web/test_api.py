"""The HTTP API: the contract (/api/interventions, /api/interventions/<slug>, /api/outcomes,
/api/openapi.json), one error shape, and writes for editors only."""

import json

import pytest
from rest_framework.authtoken.models import Token

from whatworks.web.store.models import Finding, Intervention, Rating, RatingChange

pytestmark = pytest.mark.django_db


def test_interventions_is_a_json_list_with_slugs_names_and_ratings(client):
    r = client.get("/api/interventions")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, list)
    fgc = next(i for i in body if i["slug"] == "family-group-conferences")
    assert fgc["name"] == "Family group conferences"
    rating = fgc["ratings"][0]
    assert {"outcome", "effectiveness", "strength"} <= rating.keys()
    assert rating["outcome"] == "entry-to-care"
    assert r["X-Total-Count"] == "3"


def test_interventions_can_be_filtered_and_paginated(client):
    body = client.get("/api/interventions", {"outcome": "section-47-enquiries"}).json()
    assert [i["slug"] for i in body] == ["social-workers-in-schools"]
    r = client.get("/api/interventions", {"page_size": 1})
    assert len(r.json()) == 1 and 'rel="next"' in r["Link"]


def test_one_intervention_has_its_studies_syntheses_and_ratings(client):
    body = client.get("/api/interventions/family-group-conferences").json()
    assert body["slug"] == "family-group-conferences"
    assert len(body["studies"]) == 3
    assert body["syntheses"][0]["k"] == 3
    assert body["ratings"][0]["explanation"]


def test_outcomes_lists_the_framework(client):
    body = client.get("/api/outcomes").json()
    slugs = {o["slug"] for o in body}
    assert {"entry-to-care", "section-47-enquiries", "placement-stability"} <= slugs
    assert all(o["direction"] in ("increase", "decrease") for o in body)


def test_the_openapi_document_describes_the_api(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert "/api/interventions" in doc["paths"] or "/api/interventions/" in doc["paths"]


@pytest.mark.parametrize("method, path, payload", [
    ("get", "/api/interventions/no-such-thing", None),
    ("get", "/api/no-such-endpoint", None),
    ("post", "/api/findings", {"study": "fgc-trial-2023"}),
    ("get", "/api/effect-size?measure=RR&ai=5&n1i=3&ci=1&n2i=10", None),
])
def test_every_error_has_one_shape(client, method, path, payload):
    r = getattr(client, method)(path, data=json.dumps(payload) if payload else None,
                                content_type="application/json")
    assert r.status_code >= 400
    body = r.json()
    assert set(body) == {"error"}
    assert {"status", "code", "message"} <= body["error"].keys()
    assert body["error"]["status"] == r.status_code


def test_anonymous_users_cannot_write(client):
    for method, path in [("post", "/api/findings"), ("post", "/api/interventions"),
                         ("patch", "/api/interventions/schwartz-rounds"),
                         ("delete", "/api/interventions/schwartz-rounds"),
                         ("post", "/api/interventions/schwartz-rounds/publish")]:
        r = getattr(client, method)(path, data="{}", content_type="application/json")
        assert r.status_code in (401, 403), (method, path)
    assert Intervention.objects.filter(slug="schwartz-rounds").exists()


def test_an_outsider_cannot_write_with_a_token(client, outsider):
    token = Token.objects.create(user=outsider)
    r = client.post("/api/interventions", data=json.dumps({"slug": "x", "name": "X",
                                                            "summary": "s"}),
                    content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 403


def test_an_editor_adds_a_finding_with_a_token_and_the_rating_recomputes_when_published(
        client, editor, admin):
    token = Token.objects.create(user=editor)
    before = Rating.objects.get(intervention__slug="social-workers-in-schools")
    payload = {"study": "swis-2023", "outcome": "section-47-enquiries", "timepoint_months": 12,
               "measure": "IRR", "reported": {"yi": -0.4, "vi": 0.01}}
    r = client.post("/api/findings", data=json.dumps(payload), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 201, r.content
    assert r.json()["yi"] == pytest.approx(-0.4)
    assert r.json()["draft"] is True  # published: the finding waits in the draft
    assert Rating.objects.get(intervention__slug="social-workers-in-schools").inputs == before.inputs
    r = client.post("/api/interventions/social-workers-in-schools/publish",
                    HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    assert r.status_code == 200, r.content
    # one finding per study: the 12-month one now stands for the study
    after = Rating.objects.get(intervention__slug="social-workers-in-schools")
    assert after.inputs != before.inputs
    assert RatingChange.objects.filter(intervention__slug="social-workers-in-schools",
                                       reason__contains="published").exists() or (
        after.effectiveness_label == before.effectiveness_label)


def test_impossible_statistics_are_refused_field_by_field(client, editor):
    token = Token.objects.create(user=editor)
    payload = {"study": "swis-2023", "outcome": "section-47-enquiries", "measure": "RR",
               "reported": {"ai": 50, "n1i": 20, "ci": 3, "n2i": 20}}
    r = client.post("/api/findings", data=json.dumps(payload), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["fields"] and any(k in error["fields"] for k in ("ai", "n1i", "reported"))
    assert Finding.objects.filter(study__key="swis-2023").count() == 1


def test_session_writes_need_csrf(editor):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(editor)
    r = c.post("/api/interventions", data=json.dumps({"slug": "x", "name": "X", "summary": "s"}),
               content_type="application/json")
    assert r.status_code == 403
    assert "CSRF" in r.json()["error"]["message"]


def test_the_effect_size_calculator(client):
    body = client.get("/api/effect-size", {"measure": "RR", "ai": 10, "n1i": 100, "ci": 20,
                                            "n2i": 100}).json()
    assert body["yi"] == pytest.approx(-0.6931471805599453)


def test_the_document_describes_every_error_and_public_reads_need_no_auth(client):
    doc = client.get("/api/openapi.json").json()
    assert "Error" in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for code in ("400", "401", "404", "429"):
                schema = op["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)
            public = method == "get" and not path.startswith("/api/imports") \
                and not path.endswith("/draft")  # pending changes: editors only
            assert ({} in op["security"]) == public, (method, path)
            if method in ("post", "patch", "delete"):
                assert "403" in op["responses"], (method, path)


@pytest.mark.parametrize("method, path, status, code", [
    ("get", "/api/interventions/no-such-thing", 404, "not_found"),
    ("get", "/api/no-such-endpoint", 404, "not_found"),
    ("get", "/api/findings/999999", 404, "not_found"),
    ("get", "/api/interventions?page=999", 404, "not_found"),
    ("post", "/api/findings", 401, "not_authenticated"),
])
def test_one_error_code_per_status(client, method, path, status, code):
    kwargs = {"data": "{}", "content_type": "application/json"} if method == "post" else {}
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code


def test_a_bad_token_is_a_401_in_the_error_shape_even_on_public_reads(client):
    r = client.get("/api/outcomes", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"


def test_an_editor_creates_a_draft_intervention_through_the_api(client, editor):
    token = Token.objects.create(user=editor)
    r = client.post("/api/interventions", data=json.dumps({
        "slug": "new-idea", "name": "New idea", "summary": "s", "setting": ["home"]}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 201, r.content
    assert r.json()["slug"] == "new-idea" and r.json()["setting"] == ["home"]
    assert Intervention.objects.get(slug="new-idea").status == "draft"
