"""The finding form with the keyboard only (Tab, typing, arrow keys, Enter) at a desktop and a
phone width: choose what the study reports and the measure, fill in the fields, see the preview
in words, submit; axe-core finds no serious or critical violation, with and without errors."""

import pytest

from tests.web.test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    _sign_in,
    browser,
    serious_violations,
    store,
)

pytestmark = [pytest.mark.browser]

NEW = "/editor/interventions/family-group-conferences/findings/new/"


@pytest.fixture(params=[1366, 390], ids=["desktop", "phone"])
def keyboard_page(request, browser, live_server, store, editor):  # noqa: F811
    width = request.param
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": width, "height": 900 if width > 400 else 780})
    pg = context.new_page()
    _sign_in(pg, "edna")
    yield pg
    context.close()


def _tab_to(page, name, limit=80):
    """Press Tab until the focused element has this name attribute (the keyboard's only way)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.name") == name:
            return
    raise AssertionError(f"Tab never reached {name}")


def _focused(page, attribute):
    return page.evaluate(f"() => document.activeElement.getAttribute('{attribute}')")


def test_an_editor_enters_an_adjusted_odds_ratio_with_the_keyboard_only(keyboard_page):
    from whatworks.web.store import drafts, services
    from whatworks.web.store.models import Finding, Intervention

    page = keyboard_page
    before = set(Finding.objects.values_list("pk", flat=True))
    fgc = Intervention.objects.get(slug="family-group-conferences")
    refs = {item["ref"] for item in drafts.current(fgc)[0]["findings"]}
    page.goto(NEW)
    assert serious_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
    # only the chosen entry's fields are shown
    assert page.locator("#entry-counts").is_visible()
    assert not page.locator("#entry-estimate_ci").is_visible()
    _tab_to(page, "study")
    page.keyboard.type("Taylor")          # type-ahead on the select's option text
    _tab_to(page, "outcome")
    page.keyboard.type("Entry to care")
    _tab_to(page, "reported_as")          # the checked radio (the 2x2 table) takes the focus
    assert _focused(page, "value") == "counts"
    page.keyboard.press("ArrowDown")      # means and SDs
    page.keyboard.press("ArrowDown")      # an adjusted estimate with its confidence interval
    assert _focused(page, "value") == "estimate_ci"
    assert page.locator("#entry-estimate_ci").is_visible()
    assert not page.locator("#entry-counts").is_visible()
    _tab_to(page, "measure")
    page.keyboard.type("Odds ratio")
    assert page.evaluate("() => document.querySelector('[name=measure]').value") == "OR"
    _tab_to(page, "estimate_ci-estimate")
    page.keyboard.type("0.62")
    _tab_to(page, "estimate_ci-ci_lower")
    page.keyboard.type("0.41")
    _tab_to(page, "estimate_ci-ci_upper")
    page.keyboard.type("0.94")
    page.wait_for_function("() => document.getElementById('effect-preview').dataset.yi")
    text = page.locator("#effect-preview").inner_text()
    assert "OR 0.62 (95% CI 0.41 to 0.94)" in text
    assert "Fewer children in the intervention group" in text and "favours the intervention" in text
    _tab_to(page, "icc")
    page.keyboard.type("0.05")
    _tab_to(page, "cluster_size")
    page.keyboard.type("20")
    page.wait_for_function("() => document.getElementById('effect-preview')"
                           ".textContent.includes('Adjusted for clustering')")
    assert "the standard error grew by" in page.locator("#effect-preview").inner_text()
    assert serious_violations(page) == []
    _tab_to(page, "timepoint_months")
    page.keyboard.type("12")
    page.keyboard.press("Enter")          # Enter in a text field submits the form
    page.wait_for_url("**/editor/interventions/family-group-conferences/")
    # the intervention is published: the new finding waits in its draft, readers see no change
    assert set(Finding.objects.values_list("pk", flat=True)) == before
    saved, = [item for item in drafts.current(fgc)[0]["findings"] if item["ref"] not in refs]
    assert saved["measure"] == "OR" and saved["reported"]["icc"] == 0.05
    assert saved["reported"]["entered_as"] == "ratio"
    assert (saved["yi"], saved["vi"]) == services.compute_effect("OR", saved["reported"])


def test_errors_take_the_focus_and_lead_to_their_field(keyboard_page):
    page = keyboard_page
    page.goto(NEW)
    _tab_to(page, "study")
    page.keyboard.type("Taylor")
    _tab_to(page, "outcome")
    page.keyboard.type("Entry to care")
    _tab_to(page, "measure")
    page.keyboard.type("Risk ratio")
    _tab_to(page, "counts-ai")
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-error-summary]")
    # focus moves to the summary, whose links lead to each field
    assert page.evaluate("() => document.activeElement.hasAttribute('data-error-summary')")
    page.keyboard.press("Tab")
    assert _focused(page, "href") == "#id_counts-n1i"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.name") == "counts-n1i"
    assert _focused(page, "aria-invalid") == "true"
    assert "id_counts-n1i-error" in _focused(page, "aria-describedby")
    assert serious_violations(page) == []
