"""Search that answers practitioners, on the database backends (SQLite FTS5 here; scripts/test.sh
runs tests/web again on PostgreSQL full-text search): the practitioners' query suite on the demo
store, "did you mean", partial matches, aliases, sorts, and queries that must never break."""


import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.search.test_engine import CASES, check_case
from whatworks.web.store.models import Intervention, Rating

pytestmark = pytest.mark.django_db


def api_slugs(client, **params):
    response = client.get("/api/interventions", {"page_size": 500, **params})
    assert response.status_code == 200, response.content[:300]
    return [row["slug"] for row in response.json()]


@pytest.fixture
def demo_store(db):
    """The whole demo store (36 interventions, with aliases) inside this test's transaction."""
    from whatworks.web.store.demo import load_demo

    load_demo()
    rated = {}
    for slug, outcome in Rating.objects.values_list("intervention__slug", "outcome__slug"):
        rated.setdefault(outcome, set()).add(slug)
    return rated


def test_practitioners_queries_find_what_a_person_expects(client, demo_store):
    assert len(demo_store["entry-to-care"]) == 13
    failures = [problem for case in CASES
                if (problem := check_case(case, api_slugs(client, q=case["query"]), demo_store))]
    assert not failures, "\n".join(failures)
    # the page uses the same search, in the same order
    html = client.get("/interventions/", {"q": "famly group conference"}).content.decode()
    assert html.index("Family group conferences") < html.index("results-list") + 2000
    assert "Also searched for <strong>family</strong>" in html
    assert "Try fewer filters" not in html
    # the defects
    assert api_slugs(client, q="family group conferencing")[0] == "family-group-conferences"
    assert api_slugs(client, q="FGC")[0] == "family-group-conferences"
    assert demo_store["entry-to-care"] <= set(api_slugs(client, q="entry to care"))


def test_nothing_found_suggests_the_nearest_names_and_blames_no_filters(client, demo_store):
    html = client.get("/interventions/", {"q": "Mockingjay"}).content.decode()
    assert "Nothing matches “Mockingjay”" in html and "Try fewer filters" not in html
    assert "Did you mean" in html and "Mockingbird" in html.split("Did you mean")[1][:300]
    response = client.get("/api/interventions", {"q": "Mockingjay"})
    assert response.json() == [] and response["X-Search-Complete"] == "true"
    assert json.loads(response["X-Search-Suggestions"])[0] == "Mockingbird"
    response = client.get("/api/interventions", {"q": "foster carers xylophone"})
    assert response["X-Search-Complete"] == "false" and response.json()
    assert "X-Search-Complete" not in client.get("/api/interventions")
    html = client.get("/interventions/", {"q": "foster carers xylophone"}).content.decode()
    assert "No intervention matches every word" in html and "Fostering Changes" in html
    html = client.get("/interventions/", {"q": "Mockingjay", "uk": "1"}).content.decode()
    assert "Try fewer filters" in html


def test_results_come_in_relevance_order_and_respect_the_other_filters(client):
    assert api_slugs(client, q="social workers")[0] == "social-workers-in-schools"
    assert api_slugs(client, q="schools", outcome="entry-to-care") == []
    assert api_slugs(client, q="family group conference", outcome="entry-to-care") == [
        "family-group-conferences"]


def test_aliases_are_searched_and_the_index_follows_edits(client):
    assert api_slugs(client, q="sprocket") == []
    rounds = Intervention.objects.get(slug="schwartz-rounds")
    rounds.aliases = ["Sprocket Forum"]
    rounds.save()
    assert api_slugs(client, q="sprocket") == ["schwartz-rounds"]
    assert api_slugs(client, q="Sprocket Forum") == ["schwartz-rounds"]
    rounds.delete()
    assert api_slugs(client, q="sprocket") == []


def test_drafts_are_not_found_by_the_public(client):
    Intervention.objects.create(slug="secret-draft", name="Secret sprocket draft", summary="x",
                                status=Intervention.DRAFT)
    assert api_slugs(client, q="sprocket") == []
    html = client.get("/interventions/", {"q": "Secret sprocket draft"}).content.decode()
    assert "Secret sprocket draft" not in html.split("Nothing matches")[0].split("results-list")[1]


def test_name_sort_ignores_case_and_rating_sort_uses_the_chosen_outcome(client):
    Intervention.objects.create(slug="aaa-lower", name="zebra crossing", summary="x",
                                status=Intervention.PUBLISHED)
    names = [i["name"] for i in client.get("/api/interventions", {"sort": "name"}).json()]
    assert names == sorted(names, key=str.casefold) and names[-1] == "zebra crossing"
    from whatworks.web.store.scales import EFFECTIVENESS_LEVELS

    order = [code for code, _ in EFFECTIVENESS_LEVELS]
    rows = client.get("/api/interventions", {"sort": "rating", "outcome": "entry-to-care"}).json()
    states = [Rating.objects.get(intervention__slug=r["slug"], outcome__slug="entry-to-care")
              .effectiveness_state for r in rows]
    assert rows and [order.index(s) for s in states] == sorted(order.index(s) for s in states)
    html = client.get("/interventions/", {"sort": "rating"}).content.decode()
    assert "sort=rating needs an outcome" in html


@pytest.mark.parametrize("params", [{"sort": "rating"}, {"sort": "relevance"}, {"sort": "bogus"}])
def test_an_unusable_sort_is_a_400_in_the_api(client, params):
    response = client.get("/api/interventions", params)
    assert response.status_code == 400 and "sort" in response.content.decode()


def test_the_openapi_document_explains_q_and_sort(client):
    doc = client.get("/api/openapi.json").json()
    path = doc["paths"].get("/api/interventions") or doc["paths"]["/api/interventions/"]
    params = {p["name"]: p.get("description", "") for p in path["get"]["parameters"]}
    assert "aliases and abbreviations" in params["q"]
    assert "relevance" in params["sort"] and "rating" in params["sort"]


QUERY_SYNTAX = st.lists(st.sampled_from(
    ['"', "*", "NEAR", "NEAR(", "-", ":", "^", "(", ")", "+", "OR", "AND", "NOT", "\x00", "'", "\\",
     "%", "_", ";", "--", "é", " ", "care", "FGC", "name:", "{", "}", "[", "]"]), max_size=12).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=QUERY_SYNTAX | st.text(max_size=80))
def test_no_query_breaks_the_search(client, q):
    for path in ("/api/interventions", "/interventions/"):
        response = client.get(path, {"q": q})
        if "\x00" in q:  # NUL bytes are refused on every parameter (tests/web/test_validation.py)
            assert response.status_code == 400, (path, q, response.content[:300])
            continue
        assert response.status_code == 200, (path, q, response.content[:300])


def test_threads_searching_while_the_index_is_stale_build_it_once(monkeypatch):
    """After an edit, every thread of a server that searches at once waits for one build of the
    index instead of each building it (issue 10: the load benchmark's after-edit storm)."""
    import threading
    import time

    from whatworks.web.store import search

    built = []

    def slow_rows():
        built.append(threading.get_ident())
        time.sleep(0.2)
        return []

    monkeypatch.setattr(search, "_change_stamp", lambda: ("stamp-after-an-edit",))
    monkeypatch.setattr(search, "_rows", slow_rows)
    monkeypatch.setattr(search, "_CACHE", {})
    got = []
    threads = [threading.Thread(target=lambda: got.append(search.current_index())) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len(got) == 6 and len({id(g) for g in got}) == 1


def _results(keys, queries):
    from whatworks.web.store import search

    return {q: [(h.key, round(h.score, 6)) for h in search.search(keys, q).hits] for q in queries}


def test_after_an_edit_only_the_changed_row_is_written_and_the_tables_match_a_fresh_build(
        monkeypatch):
    """The per-connection tables (SQLite FTS5 here, PostgreSQL's tsvector on the PostgreSQL run)
    and the in-process index follow an edit by writing that intervention's row only, and then
    answer as tables built from nothing."""
    from django.db import connection

    from whatworks.search import engine
    from whatworks.web.store import search

    keys = list(Intervention.objects.values_list("pk", flat=True))
    queries = ["family", "schools", "care proceedings", "staff", "mentoring adolescents",
               "family network plan"]
    _results(keys, queries)  # the tables exist and hold the current content
    fgc = Intervention.objects.get(slug="family-group-conferences")
    fgc.summary = "Mentoring adolescents and their family network."
    fgc.save()
    written, stemmed = [], []
    stem = engine.stem
    monkeypatch.setattr(engine, "stem", lambda w: stemmed.append(w) or stem(w))
    indexed = search.current_index()  # renewed: only the edited document is stemmed again
    monkeypatch.setattr(engine, "stem", stem)
    document = indexed.index.documents[fgc.pk]
    assert stemmed == [w for t in document.fields().values() for w in engine.words(t)]
    changed_rows = search._changed_rows
    monkeypatch.setattr(search, "_changed_rows",
                        lambda *a: written.append(changed_rows(*a)) or written[-1])
    after = _results(keys, queries)
    stale, docs = written[0]
    assert stale == [fgc.pk] and docs == [document]
    assert all(r is None for r in written[1:])  # the later searches: up to date
    assert after["mentoring adolescents"][0][0] == fgc.pk
    with connection.cursor() as cur:  # a connection with no tables yet: built from nothing
        for table in ("store_search", "store_search_rows", "store_search_state"):
            cur.execute(f"DROP TABLE {'temp.' if connection.vendor == 'sqlite' else ''}{table}")
    monkeypatch.setattr(search, "_CACHE", {})
    assert _results(keys, queries) == after
