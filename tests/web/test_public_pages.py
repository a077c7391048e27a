"""The public store pages: home, index with search and filters, intervention page, outcomes,
compare, methods; drafts are invisible to readers."""

import pytest

from whatworks.web.store.models import Intervention, SlugRedirect

pytestmark = pytest.mark.django_db


def test_home_lists_domains_and_searches(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "What works in children" in html and 'role="search"' in html


def test_the_index_lists_published_interventions(client):
    html = client.get("/interventions/").content.decode()
    assert "Family group conferences" in html and "Social workers in schools" in html


def test_the_index_searches_full_text(client):
    html = client.get("/interventions/", {"q": "secondary schools"}).content.decode()
    assert "Social workers in schools" in html and "Family group conferences" not in html


@pytest.mark.parametrize("params, present, absent", [
    ({"outcome": "entry-to-care"}, "Family group conferences", "Social workers in schools"),
    ({"cost_band": "1"}, "Social workers in schools", "Family group conferences"),
    ({"design": "cluster-rct"}, "Social workers in schools", "Family group conferences"),
    ({"setting": "school"}, "Social workers in schools", "Schwartz Rounds"),
])
def test_the_index_filters(client, params, present, absent):
    html = client.get("/interventions/", params).content.decode()
    assert present in html and absent not in html


@pytest.mark.parametrize("evil", ["' OR 1=1 --", "%' UNION SELECT password FROM auth_user --",
                                  "\"; DROP TABLE store_intervention; --", "\x00", "é" * 500])
def test_search_and_filters_cannot_inject_sql(client, evil):
    for key in ("q", "outcome", "domain", "effectiveness", "strength", "cost_band", "population",
                "setting", "design", "sort"):
        r = client.get("/interventions/", {key: evil})
        assert r.status_code == (400 if "\x00" in evil else 200)  # NUL: refused (issue 7)
    assert Intervention.objects.count() == 3


def test_the_intervention_page_shows_ratings_explanations_and_studies(client):
    r = client.get("/interventions/family-group-conferences/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Entry to care" in html
    assert "relative risk" in html.lower() or "risk ratio" in html.lower()
    assert "Taylor et al. 2023" in html and "Illustrative" in html
    assert "/interventions/family-group-conferences/forest/entry-to-care.svg" in html
    assert "Rating history" in html and "demo content loaded" in html
    assert "not an endorsement" in html


def test_the_forest_plot_is_an_svg_with_the_studies(client):
    r = client.get("/interventions/family-group-conferences/forest/entry-to-care.svg")
    assert r.status_code == 200 and r["Content-Type"] == "image/svg+xml"
    assert b"<svg" in r.content and b"Taylor et al" in r.content


def test_an_intervention_without_evidence_says_so(client):
    html = client.get("/interventions/schwartz-rounds/").content.decode()
    assert "Evidence gap:</strong> no study with a comparison group has measured outcomes" in html


def test_drafts_are_invisible_to_readers(client):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")
    assert client.get("/interventions/schwartz-rounds/").status_code == 404
    assert "Schwartz Rounds" not in client.get("/interventions/").content.decode()


def test_drafts_are_visible_to_editors(editor_client):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")
    assert editor_client.get("/interventions/schwartz-rounds/").status_code == 200


def test_a_renamed_intervention_redirects_from_its_old_slug(client):
    i = Intervention.objects.get(slug="schwartz-rounds")
    SlugRedirect.objects.create(old_slug="schwartz-round", intervention=i)
    r = client.get("/interventions/schwartz-round/")
    assert r.status_code == 301 and r["Location"] == "/interventions/schwartz-rounds/"


def test_outcomes_compare_and_methods_pages(client):
    assert "Entry to care" in client.get("/outcomes/").content.decode()
    html = client.get("/compare/", {"i": ["family-group-conferences",
                                          "social-workers-in-schools"]}).content.decode()
    assert "Ratings side by side" in html and "Section 47" in html
    assert client.get("/methods/").status_code == 200


def test_pages_send_security_headers(client):
    r = client.get("/")
    assert r["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in r["Content-Security-Policy"]
    assert r["X-Content-Type-Options"] == "nosniff"


def test_the_stylesheet_and_scripts_are_served(client):
    assert client.get("/static/whatworks/site.css").status_code == 200
    assert client.get("/static/whatworks/finding.js").status_code == 200


def test_the_compare_form_offers_every_published_intervention_escaped_with_the_chosen_selected(client):
    """The options are joined in the view (issue 10: three slots of 1,000 interventions cost the
    template ~30 ms); they must say what the template said, escaped the same way."""
    from whatworks.web.store.models import Intervention

    Intervention.objects.create(slug="a-and-b", name='A & B\'s "<plan>"', summary="x",
                                status="published")
    Intervention.objects.create(slug="hidden-draft", name="Hidden draft", summary="x", status="draft")
    html = client.get("/compare/", {"i": ["a-and-b", "schwartz-rounds"]}).content.decode()
    option = '<option value="a-and-b">A &amp; B&#x27;s &quot;&lt;plan&gt;&quot;</option>'
    assert html.count(option) == 2  # slots 2 and 3
    assert html.count(option.replace('"a-and-b">', '"a-and-b" selected>')) == 1  # slot 1
    assert html.count('<option value="schwartz-rounds" selected>') == 1
    assert "hidden-draft" not in html
    names = [n for n in Intervention.objects.filter(status="published").order_by("name")
             .values_list("slug", flat=True)]
    first_slot = html.split('id="cmp-1"')[1].split("</select>")[0]
    assert [s.split('"')[0] for s in first_slot.split('<option value="')[2:]] == names
