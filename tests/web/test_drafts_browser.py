"""The editorial workflow in a real browser (Debian's chromium, Playwright; the fixtures of
test_browser.py): an editor changes a finding of a published intervention, the public page stays as
it was, an administrator opens the diff, sees the rating that will change and publishes, and the
public page changes. axe-core on the new pages (diff, history, confirmation)."""

import pytest

from tests.web.test_browser import (  # noqa: F401 (fixtures)
    _sign_in,
    browser,
    page,
    pytestmark,
    serious_violations,
    store,
    submit,
)

FGC = "/editor/interventions/family-group-conferences/"
PUBLIC = "/interventions/family-group-conferences/"


def _context(browser, live_server):  # noqa: F811 (the fixture)
    return browser.new_context(base_url=live_server.url).new_page()


def _plain_answer(pg):
    pg.goto(PUBLIC)
    return pg.locator("#o-entry-to-care + .plain-answer").inner_text(), \
        pg.locator(".outcome-rating .badge.eff").first.inner_text()


def test_an_admin_publishes_an_editors_change_after_seeing_the_rating_it_changes(
        browser, live_server, store, editor, admin):  # noqa: F811 (fixtures)
    from whatworks.web.store.models import Finding, Rating

    reader = _context(browser, live_server)
    before = _plain_answer(reader)
    trial = Finding.objects.get(study__key="fgc-trial-2023")

    edna = _context(browser, live_server)
    _sign_in(edna, "edna")
    edna.goto(FGC)
    submit(edna, edna.get_by_role("link", name=f"Edit finding {trial.pk}"))
    edna.locator('input[name="counts-ai"]').fill("700")
    edna.locator('input[name="counts-ci"]').fill("200")
    submit(edna, edna.get_by_role("button", name="Save finding"))
    assert "Saved to the draft" in edna.locator(".messages").inner_text()
    assert "Unpublished changes" in edna.locator("h1").inner_text()

    assert _plain_answer(reader) == before  # readers still see the published revision

    ada = _context(browser, live_server)
    _sign_in(ada, "ada")
    ada.goto(FGC)
    submit(ada, ada.get_by_role("link", name="Review the changes and publish"))
    row = ada.locator("table.diff-ratings tbody tr").first
    assert "(changes)" in row.inner_text()
    old_label = Rating.objects.get(intervention__slug="family-group-conferences").effectiveness_label
    assert old_label in row.locator("td").nth(0).inner_text()
    new_text = row.locator("td").nth(1).inner_text()
    assert old_label not in new_text
    assert serious_violations(ada) == []
    submit(ada, ada.get_by_role("button", name="Publish these changes"))
    assert "revision 2" in ada.locator(".messages").inner_text()

    after = _plain_answer(reader)
    assert after != before
    assert after[1] in new_text and after[0] in new_text
    ada.goto(FGC + "history/")
    assert "changed 1 finding" in ada.locator("table").inner_text()
    assert serious_violations(ada) == []


@pytest.mark.parametrize("path", [FGC + "changes/", FGC + "history/", FGC + "discard/",
                                  FGC + "findings/{finding}/delete/", FGC + "edit/"])
def test_the_workflows_pages_have_no_serious_accessibility_violations(page, editor, path):  # noqa: F811
    from whatworks.web.store import drafts
    from whatworks.web.store.models import Finding, Intervention

    finding = Finding.objects.filter(intervention__slug="family-group-conferences").first()
    drafts.put_fields(Intervention.objects.get(slug="family-group-conferences"),
                      {"summary": "Changed in the draft."}, user=editor)
    _sign_in(page, "edna")
    page.goto(path.format(finding=finding.pk))
    assert page.locator("h1").count() == 1
    assert serious_violations(page) == []
