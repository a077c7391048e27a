"""Issue 7, defect 12: list endpoints make a fixed number of queries however many rows they list
(no N+1), and anonymous API lists are served from the page cache."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from whatworks.web.store import changes
from whatworks.web.store.models import Finding, Intervention, Outcome, Study

pytestmark = pytest.mark.django_db

LISTS = ["/api/interventions", "/api/outcomes", "/api/studies", "/api/findings", "/api/syntheses",
         "/api/ratings", "/api/interventions?outcome=entry-to-care", "/interventions/",
         "/api/interventions/family-group-conferences", "/interventions/family-group-conferences/"]


def _grow(n):
    """n more published interventions, each with a study, a finding, a synthesis and a rating."""
    outcome = Outcome.objects.get(slug="entry-to-care")
    for i in range(n):
        intervention = Intervention.objects.create(slug=f"grown-{i}", name=f"Grown {i}", summary="x",
                                                   status="published", population=["a"])
        study = Study.objects.create(key=f"grown-study-{i}", citation=f"Grown {i}. 2020.",
                                     year=2020, design="rct", sample_size=100,
                                     intervention=intervention)
        changes.save_finding(Finding(study=study, intervention=intervention, outcome=outcome,
                                     measure="RR", reported={"ai": 10 + i, "n1i": 50, "ci": 20,
                                                             "n2i": 50}), reason="test")


def _count(client, url, **headers):
    with CaptureQueriesContext(connection) as queries:
        r = client.get(url, **headers)
    assert r.status_code == 200, (url, r.status_code)
    return len(queries)


@pytest.mark.parametrize("url", LISTS)
def test_a_list_makes_the_same_queries_for_3_or_23_rows(client, editor, settings, url):
    settings.WHATWORKS_PAGE_CACHE_SECONDS = 0  # count the real work, not a cache hit
    client.force_login(editor)  # editors see drafts too: the role check is part of the work
    small = _count(client, url)
    _grow(20)
    assert _count(client, url) == small
    assert small <= 10


def test_anonymous_api_lists_come_from_the_page_cache(client, settings, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from whatworks.web.store import page_cache

    # pytest-django runs each test in a transaction, which the cache rightly never uses; here it
    # stands for the autocommit a real request runs in (as in test_cache.py)
    monkeypatch.setattr(page_cache, "_in_transaction", lambda: False)
    page_cache.PAGES.clear()
    settings.WHATWORKS_PAGE_CACHE_SECONDS = 60
    first = client.get("/api/interventions?page_size=2")
    assert _count(client, "/api/interventions?page_size=2") == 0
    second = client.get("/api/interventions?page_size=2")
    assert second.content == first.content
    assert dict(second.headers) == dict(first.headers)  # totals, links, Vary and Allow too
    with django_capture_on_commit_callbacks(execute=True):
        intervention = Intervention.objects.get(slug="family-group-conferences")
        intervention.name = "Family group conferences (renamed)"
        intervention.save()  # a change to the store's content empties the cache
    names = [i["name"] for i in client.get("/api/interventions?page_size=2").json()]
    assert "Family group conferences (renamed)" in names
    page_cache.PAGES.clear()


def test_token_holders_never_get_cached_api_answers(client, editor, settings, monkeypatch):
    from rest_framework.authtoken.models import Token

    from whatworks.web.store import page_cache

    monkeypatch.setattr(page_cache, "_in_transaction", lambda: False)
    page_cache.PAGES.clear()
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")
    client.get("/api/interventions")  # cached for readers: no draft
    token = Token.objects.create(user=editor)
    body = client.get("/api/interventions", HTTP_AUTHORIZATION=f"Token {token.key}").json()
    assert "schwartz-rounds" in [i["slug"] for i in body]
    page_cache.PAGES.clear()


@pytest.mark.parametrize("query", ["", "?page_size=2", "?page_size=2&page=2", "?outcome=entry-to-care",
                                   "?sort=-name", "?q=school"])
def test_the_fast_intervention_list_is_what_the_serializer_gives(client, editor, query):
    import json

    from django.test import RequestFactory
    from rest_framework.renderers import JSONRenderer

    from whatworks.web.api.serializers import InterventionListSerializer
    from whatworks.web.store.queries import Filters, filter_interventions, visible_interventions

    _grow(3)
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")
    for user, headers in ((None, {}), (editor, {"HTTP_AUTHORIZATION": "Token " + __import__(
            "rest_framework.authtoken.models", fromlist=["Token"]).Token.objects.get_or_create(
            user=editor)[0].key})):
        body = client.get(f"/api/interventions{query}", **headers).content
        params = RequestFactory().get(f"/x{query}").GET
        qs = filter_interventions(visible_interventions(user), Filters.from_query(params))
        size = int(params.get("page_size", 100))
        page = int(params.get("page", 1))
        expected = InterventionListSerializer(qs[(page - 1) * size:page * size], many=True).data
        assert json.loads(body) == json.loads(JSONRenderer().render(expected))
        assert body == JSONRenderer().render(expected)


#: Issue 10: the most queries an anonymous reader's page may make when no cache answers it (the
#: load benchmark's "uncached" pages). The intervention page once made one more query per rated
#: outcome (each synthesis's deferred ``method``, read by the template); pinned so that such a
#: regression shows here, not only under load.
UNCACHED_PAGES = {
    "/interventions/family-group-conferences/": 5,
    "/interventions/": 6,
    "/interventions/?outcome=entry-to-care&sort=-name": 6,
    "/compare/?i=family-group-conferences&i=social-workers-in-schools": 3,
    "/api/interventions": 3,
    "/api/interventions/family-group-conferences": 8,
}


def _rate_more_outcomes(slug, n):
    """Findings on ``n`` more outcomes of one intervention: as many more syntheses and ratings."""
    intervention = Intervention.objects.get(slug=slug)
    study = intervention.studies.first()
    for outcome in Outcome.objects.exclude(ratings__intervention=intervention)[:n]:
        changes.save_finding(Finding(study=study, intervention=intervention, outcome=outcome,
                                     measure="RR", reported={"ai": 20, "n1i": 50, "ci": 25,
                                                             "n2i": 50}), reason="test")


@pytest.mark.parametrize(("url", "most"), UNCACHED_PAGES.items())
def test_an_uncached_public_page_makes_a_pinned_number_of_queries_however_many_outcomes_are_rated(
        client, settings, url, most):
    settings.WHATWORKS_PAGE_CACHE_SECONDS = 0  # count the real work, not a cache hit
    before = _count(client, url)
    _rate_more_outcomes("family-group-conferences", 4)
    after = _count(client, url)
    assert (before, after) == (before, before), "one more query per rated outcome"
    assert after <= most, f"{after} queries"


def test_server_timing_says_what_the_request_cost_and_whether_the_page_cache_answered(
        client, settings, monkeypatch):
    """WHATWORKS_SERVER_TIMING=1 (the load benchmark's servers): Server-Timing names the time in
    Django, the thread's CPU time, the queries made and the page cache's answer."""
    import re

    from whatworks.web.store import page_cache

    monkeypatch.setattr(page_cache, "_in_transaction", lambda: False)
    page_cache.PAGES.clear()
    settings.MIDDLEWARE = ["whatworks.web.store.middleware.ServerTimingMiddleware",
                           *settings.MIDDLEWARE]
    pattern = re.compile(r'app;dur=([\d.]+), cpu;desc="CPU of this thread";dur=([\d.]+), '
                         r'db;desc="(\d+) queries";dur=([\d.]+), cache;desc=(\w+)$')
    url = "/interventions/family-group-conferences/"
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url)
    app, cpu, n, db, cache = pattern.match(first["Server-Timing"]).groups()
    assert (int(n), cache) == (len(queries), "miss")
    assert 0 < float(db) <= float(app) and 0 <= float(cpu)
    second = client.get(url)
    assert pattern.match(second["Server-Timing"]).group(3, 5) == ("0", "hit")
    assert second.content == first.content
    settings.WHATWORKS_PAGE_CACHE_SECONDS = 0
    assert pattern.match(client.get(url)["Server-Timing"]).group(5) == "bypass"
    page_cache.PAGES.clear()
