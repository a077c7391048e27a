"""The search in a real browser: a typo and an abbreviation typed into the search box find the
intervention, "did you mean" is offered when nothing matches, and those pages pass axe-core."""

import pytest

from tests.web.test_browser import browser, page, pytestmark, serious_violations, store, submit  # noqa: F401

pytestmark = list(pytestmark)


@pytest.mark.parametrize("typed", ["famly group conferance", "FGC"])
def test_a_reader_finds_an_intervention_by_a_typo_or_an_abbreviation(page, typed):  # noqa: F811
    page.goto("/interventions/")
    page.get_by_label("Search", exact=True).fill(typed)
    submit(page, page.get_by_role("button", name="Apply"))
    first = page.locator(".results-list .result h3 a").first
    assert first.inner_text() == "Family group conferences"
    assert page.get_by_label("Sort by").input_value() == ""
    assert serious_violations(page) == []


def test_nothing_found_offers_the_nearest_names_accessibly(page):  # noqa: F811
    page.goto("/interventions/?q=Zeppelin+Schwarz")
    assert "Schwartz Rounds" in page.locator(".results-list").inner_text()
    page.goto("/interventions/?q=Xylophone")
    assert "Nothing matches" in page.locator(".results-list").inner_text()
    assert "Try fewer filters" not in page.content()
    assert serious_violations(page) == []
