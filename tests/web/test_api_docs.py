"""Issue 10: /api/ lists the endpoints and links human-readable docs (Swagger UI from our own static
files), and every list filters by the objects its items link to, as the OpenAPI document says."""

import json
import re

import pytest
from django.test import Client

from whatworks.web.store.models import Finding, Rating, Study, Synthesis

pytestmark = pytest.mark.django_db

FGC = "family-group-conferences"


def test_the_api_index_lists_every_endpoint_for_anonymous_readers(client):
    response = client.get("/api/")
    assert response.status_code == 200
    body = response.json()
    assert body["docs"].endswith("/api/docs/") and body["openapi"].endswith("/api/openapi.json")
    for name in ("interventions", "outcomes", "studies", "findings", "syntheses", "ratings"):
        url = body["endpoints"][name]["url"]
        assert url.endswith(f"/api/{name}")
        assert client.get(url).status_code == 200


def test_the_docs_page_loads_every_asset_from_our_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "://" not in html  # no other site: no CDN, no validator
    assets = [u.replace("&amp;", "&") for u in re.findall(r'(?:src|href)="([^"]+)"', html)]
    assert any(a.startswith("/static/") and a.endswith("swagger-ui-bundle.js") for a in assets)
    assert "<script>" not in html  # no inline script: the site's script-src 'self' holds
    for asset in assets:
        assert asset.startswith(("/static/", "/api/docs/")), asset
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
    script = client.get("/api/docs/?script=").content.decode()
    assert "/api/openapi.json" in script
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'self'" in policy


def test_the_footer_links_the_human_docs_and_the_document_stays(client):
    assert 'href="/api/docs/"' in client.get("/").content.decode()
    assert client.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize("endpoint,model", [("ratings", Rating), ("syntheses", Synthesis),
                                            ("findings", Finding), ("studies", Study)])
def test_lists_filter_by_intervention(client, endpoint, model):
    everything = client.get(f"/api/{endpoint}", {"page_size": 200}).json()
    some = client.get(f"/api/{endpoint}", {"intervention": FGC, "page_size": 200}).json()
    expected = model.objects.filter(intervention__slug=FGC).count()
    assert 0 < len(some) == expected < len(everything)
    assert client.get(f"/api/{endpoint}", {"intervention": "no-such-thing"}).json() == []
    assert len(client.get(f"/api/{endpoint}", {"intervention": "", "page_size": 200}).json()) == len(
        everything)  # empty: no filter


@pytest.mark.parametrize("endpoint,model", [("ratings", Rating), ("syntheses", Synthesis),
                                            ("findings", Finding)])
def test_lists_filter_by_intervention_and_outcome(client, endpoint, model):
    pair = model.objects.filter(intervention__slug=FGC).select_related("outcome").first()
    outcome = pair.outcome.slug
    both = client.get(f"/api/{endpoint}", {"intervention": FGC, "outcome": outcome}).json()
    assert len(both) == model.objects.filter(intervention__slug=FGC, outcome__slug=outcome).count() > 0
    by_outcome = client.get(f"/api/{endpoint}", {"outcome": outcome, "page_size": 200}).json()
    assert len(by_outcome) == model.objects.filter(outcome__slug=outcome,
                                                   intervention__status="published").count()


def test_findings_filter_by_study(client):
    study = Study.objects.filter(findings__isnull=False).first()
    body = client.get("/api/findings", {"study": study.key, "page_size": 200}).json()
    assert len(body) == study.findings.count() > 0


@pytest.mark.parametrize("endpoint,name", [("ratings", "intervention"), ("ratings", "outcome"),
                                           ("syntheses", "intervention"), ("findings", "study"),
                                           ("studies", "intervention")])
@pytest.mark.parametrize("value", ["not a slug", "a/b", "x" * 121, "é"])
def test_a_value_that_cannot_name_an_object_gets_the_one_error_shape(endpoint, name, value):
    response = Client().get(f"/api/{endpoint}", {name: value})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and error["code"] == "invalid" and name in error["fields"]
    assert name in error["message"]


def test_the_openapi_document_describes_the_filters(client):
    paths = json.loads(client.get("/api/openapi.json").content)["paths"]
    expected = {"/api/ratings/": {"intervention", "outcome"}, "/api/syntheses/": {"intervention", "outcome"},
                "/api/findings/": {"intervention", "outcome", "study"}, "/api/studies/": {"intervention"}}
    for path, names in expected.items():
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert names <= set(params), path
        for name in names:
            assert params[name]["in"] == "query" and params[name]["schema"]["pattern"]


def test_a_browser_asking_for_html_gets_the_api_index_as_a_page(client):
    r = client.get("/api/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    html = r.content.decode()
    assert '<html lang="en-GB">' in html and "API documentation" in html
    assert "/api/interventions" in html and "/api/openapi.json" in html
    assert client.get("/api/")["Content-Type"].startswith("application/json")


def test_the_api_docs_page_has_a_language_and_no_deep_links_inside_buttons(client):
    from django.conf import settings

    html = client.get("/api/docs/").content.decode()
    assert '<html lang="en-GB">' in html and "whatworks/swagger.css" in html
    assert settings.SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"]["deepLinking"] is False
