"""Plain answers first (issue 10): the core's plain-language statement is stored with every
rating, leads each rating on the list, detail and compare pages, is in the API and the store
export, and the cross-walk to other clearinghouses is opt-in and for the programme as a whole."""

import re

import pytest

from whatworks.web.store import rating as adapter
from whatworks.web.store.models import Finding, Intervention, Rating

pytestmark = pytest.mark.django_db

FGC = "/interventions/family-group-conferences/"


def _core_statement(r: Rating) -> str:
    findings = list(Finding.objects.filter(intervention=r.intervention, outcome=r.outcome)
                    .select_related("study", "intervention__review"))
    return adapter.evaluate(outcome=r.outcome, intervention=r.intervention, findings=findings).statement


def _check_all_statements():
    ratings = list(Rating.objects.select_related("intervention__review", "outcome__domain"))
    assert ratings
    for r in ratings:
        assert r.statement, (r.intervention.slug, r.outcome.slug)
        assert r.statement == _core_statement(r), (r.intervention.slug, r.outcome.slug)


def test_every_rating_of_the_test_store_keeps_the_cores_statement(db):
    _check_all_statements()
    fgc = Rating.objects.get(intervention__slug="family-group-conferences", outcome__slug="entry-to-care")
    assert re.search(r"in 100", fgc.statement)  # natural frequencies for a risk ratio


def test_every_demo_rating_keeps_the_cores_statement(db):
    from whatworks.web.store.demo import demo_content, load_demo

    load_demo(demo_content())
    assert Rating.objects.count() > 20
    _check_all_statements()


def _order(html: str, *needles: str) -> list[int]:
    at = [html.find(n) for n in needles]
    assert all(i >= 0 for i in at), dict(zip(needles, at, strict=True))
    return at


@pytest.mark.parametrize("persona", ["client", "editor_client"])
def test_the_detail_page_leads_each_rating_with_its_statement(persona, request):
    c = request.getfixturevalue(persona)
    html = c.get(FGC).content.decode()
    r = Rating.objects.get(intervention__slug="family-group-conferences", outcome__slug="entry-to-care")
    statement = f'<p class="plain-answer">{r.statement}</p>'
    heading, plain, badge, numbers = _order(html, 'id="o-entry-to-care"', statement,
                                            f">{r.effectiveness_label}<", r.explanation[:40])
    assert heading < plain < badge < numbers
    assert "a decrease is better" in html  # better/worse read from the outcome's direction


def test_the_list_leads_each_rating_with_its_statement(client):
    html = client.get("/interventions/").content.decode()
    for r in Rating.objects.filter(intervention__status=Intervention.PUBLISHED):
        plain, badge = _order(html, f'<span class="plain-answer">{r.statement}</span>',
                              f'title="Effectiveness">{r.effectiveness_label}</span>')
        assert plain < badge


def test_compare_leads_each_rating_with_its_statement(client):
    html = client.get("/compare/", {"i": ["family-group-conferences",
                                          "social-workers-in-schools"]}).content.decode()
    for r in Rating.objects.all():
        plain, badge = _order(html, f'<p class="plain-answer">{r.statement}</p>',
                              f'title="Effectiveness">{r.effectiveness_label}</span>')
        assert plain < badge


def test_the_crosswalk_is_opt_in_and_for_the_programme(client):
    from django.utils.html import escape

    from whatworks.ratings.crosswalk import PROGRAMME_CAVEAT

    html = client.get(FGC).content.decode()
    assert "Foundations Guidebook" not in html and "CEBC" not in html
    assert "?crosswalk=1" in html
    html = client.get(FGC, {"crosswalk": "1"}).content.decode()
    assert escape(PROGRAMME_CAVEAT) in html
    # one level per clearinghouse for the programme, not one per outcome
    assert html.count("Foundations Guidebook") == 1 and html.count("(CEBC)") == 1
    assert html.count("Title IV-E Prevention Services Clearinghouse") == 1


def test_the_programme_crosswalk_picks_the_best_supported_outcome_and_harm_first():
    from whatworks.ratings.crosswalk import PROGRAMME_CAVEAT, programme_crosswalk

    def e(ch, level):
        return {"clearinghouse": ch, "clearinghouse_name": ch, "level": level, "label": level,
                "justification": ""}

    got = programme_crosswalk({"A": [e("foundations", "2"), e("cebc", "3")],
                               "B": [e("foundations", "3+"), e("cebc", "5")],
                               "C": [e("foundations", "NE"), e("cebc", "1")]})
    assert [(g["clearinghouse"], g["level"], g["outcome"]) for g in got] == [
        ("foundations", "3+", "B"), ("cebc", "5", "B")]
    assert all(g["caveat"] == PROGRAMME_CAVEAT for g in got)


def test_the_api_gives_the_statement(client):
    r = Rating.objects.get(intervention__slug="family-group-conferences", outcome__slug="entry-to-care")
    detail = client.get("/api/interventions/family-group-conferences").json()
    listed = client.get("/api/interventions").json()
    ratings = client.get("/api/ratings").json()
    rows = [*detail["ratings"], *[x for i in listed for x in i["ratings"]],
            *ratings]
    got = {x["statement"] for x in rows if x["outcome"] == "entry-to-care"}
    assert got == {r.statement}
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert "statement" in schema["Rating"]["properties"]
    assert "statement" in schema["RatingBrief"]["properties"]


def test_the_store_export_and_import_carry_the_statement(admin):
    from whatworks.web.store.transfer import export_store, import_store

    data = export_store()
    for row in data["interventions"]:  # nothing to show: may not be published, even by import
        if row["slug"] == "schwartz-rounds":
            row["status"] = "draft"
    before = {(r["intervention"], r["outcome"]): r["statement"] for r in data["ratings"]}
    assert before and all(before.values())
    Intervention.objects.all().delete()   # ratings go with them
    assert not Rating.objects.exists()
    import_store(data, user=admin)
    after = {(r.intervention.slug, r.outcome.slug): r.statement
             for r in Rating.objects.select_related("intervention", "outcome")}
    assert after == before
