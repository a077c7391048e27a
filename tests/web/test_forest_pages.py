"""Forest plots on the intervention page: a full-size link, the per-study table beside the plot
(from Synthesis.result["forest"], which the core's forest_table made from the same fit as the plot),
a caption that mentions a prediction interval only when one is drawn, "favours" labels, and the
filter button of the index."""

import html as htmllib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.web.store.models import Synthesis

pytestmark = pytest.mark.django_db

FGC = "/interventions/family-group-conferences/"
SWIS = "/interventions/social-workers-in-schools/"


def svg_text(client, url) -> str:
    r = client.get(url)
    assert r.status_code == 200
    return htmllib.unescape(" ".join(re.findall(r"<!-- (.*?) -->", r.content.decode(), flags=re.S)))


def test_the_forest_plot_links_to_its_full_size_svg(client):
    html = client.get(FGC).content.decode()
    assert re.search(r'<a class="forest-open" href="/interventions/family-group-conferences/forest/'
                     r'entry-to-care.svg"', html)
    assert "Open the forest plot full size" in html


def test_the_full_size_svg_may_use_its_own_inline_styles_and_nothing_else(client):
    r = client.get(FGC + "forest/entry-to-care.svg")
    csp = r["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp


def test_the_per_study_table_has_every_study_the_pooled_row_and_a_caption(client):
    synthesis = Synthesis.objects.get(intervention__slug="family-group-conferences",
                                      outcome__slug="entry-to-care")
    forest = synthesis.result["forest"]
    html = client.get(FGC).content.decode()
    table = html[html.index('<table class="forest-table">'):]
    table = table[:table.index("</table>")]
    assert "<caption>Each study's risk ratio on entry to care, with its 95% confidence interval" \
        in table
    assert len(forest["studies"]) == 3 == table.count('<th scope="row">') - 1 - bool(
        forest["prediction_interval"])
    for row in forest["studies"]:
        assert htmllib.escape(row["label"], quote=True) in table or row["label"] in table
        assert row["year"] in (2023, 2015, 2018) and row["n"] in (1511, 400, 300)
        assert f'{row["estimate"]:.2f}</span> <span>({row["ci_lower"]:.2f} to ' \
               f'{row["ci_upper"]:.2f})' in table
        assert f'{row["weight"]:.1f}%' in table
    assert f'{forest["pooled"]["estimate"]:.2f}</span>' in table and "Pooled (random-effects model)" \
        in table
    # the natural scale: risk ratios, not log risk ratios
    assert 0 < forest["pooled"]["estimate"] < 1 and forest["measure"] == "RR"


def test_a_prediction_interval_is_captioned_and_tabled_only_when_the_plot_draws_it(client):
    for page, svg in ((FGC, FGC + "forest/entry-to-care.svg"),
                      (SWIS, SWIS + "forest/section-47-enquiries.svg")):
        html = client.get(page).content.decode()
        drawn = "Prediction interval" in svg_text(client, svg)
        captions = " ".join(re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", html, flags=re.S))
        assert ("prediction interval" in captions) == drawn
        assert ("% prediction interval</th>" in html) == drawn
    # three studies (random effects): an interval; one study: nothing pooled, no interval
    assert "Prediction interval" in svg_text(client, FGC + "forest/entry-to-care.svg")
    assert "Prediction interval" not in svg_text(client, SWIS + "forest/section-47-enquiries.svg")
    assert "nothing to pool" in client.get(SWIS).content.decode()


def test_the_svg_says_which_side_favours_the_intervention(client):
    words = svg_text(client, FGC + "forest/entry-to-care.svg")
    assert "Favours intervention" in words and "Favours comparison" in words


def test_a_synthesis_saved_before_the_table_was_kept_gets_it_on_first_view(client):
    synthesis = Synthesis.objects.get(intervention__slug="family-group-conferences",
                                      outcome__slug="entry-to-care")
    kept = synthesis.result.pop("forest")
    Synthesis.objects.filter(pk=synthesis.pk).update(result=synthesis.result)
    html = client.get(FGC).content.decode()
    assert 'class="forest-table"' in html
    assert Synthesis.objects.get(pk=synthesis.pk).result["forest"] == kept


@pytest.mark.parametrize("params, summary", [
    ({}, "<summary>Filters</summary>"),
    ({"q": "family"}, "<summary>Filters</summary>"),
    ({"outcome": "entry-to-care", "uk": "1"}, "<summary>Filters (2 active)</summary>"),
])
def test_the_filters_sit_behind_a_button_that_counts_the_active_ones(client, params, summary):
    html = client.get("/interventions/", params).content.decode()
    assert summary in html
    assert '<details class="filter-panel" id="filter-panel" data-open-wide>' in html
    # the search box stays outside the collapsed panel, before the results
    assert html.index('id="q"') < html.index("<details") < html.index('id="results-heading"')


TEXT = st.text(alphabet="abcdefghij -", min_size=1, max_size=12).filter(lambda s: s.strip())


@settings(max_examples=200, deadline=None)
@given(chosen=st.fixed_dictionaries({}, optional={
    "outcome": TEXT, "domain": TEXT, "population": TEXT, "setting": TEXT, "design": TEXT,
    "strength": st.integers(0, 4).map(str), "cost_band": st.integers(1, 5).map(str),
    "effectiveness": st.integers(-2, 2).map(str), "uk": st.just("1")}),
    noise=st.fixed_dictionaries({}, optional={
        "q": TEXT, "sort": st.sampled_from(["name", "rating", "bogus"]),
        "strength": st.sampled_from(["9", "x", ""]), "cost_band": st.sampled_from(["0", "six"])}))
def test_the_filters_button_counts_exactly_the_filters_that_narrow_the_list(chosen, noise):
    from whatworks.web.store.queries import Filters

    params = {**noise, **chosen}  # a search, a sort or an invalid value is not an active filter
    f = Filters.from_query(params)
    assert f.narrowed_count == len(chosen)
    assert f.narrowed == (len(chosen) > 0)
