"""End to end in Debian's chromium: an editor randomises a trial, verifies its log, uploads outcomes,
analyses them and opens the report; every page axe-clean, and none wider than the screen at 390 px
and 1366 px."""

import pytest

from tests.web.test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    _sign_in,
    browser,
    pytestmark,
    serious_violations,
    store,
    submit,
)
from tests.web.test_trial_analyse import DATA
from tests.web.test_trial_randomise import units_csv


def _overflow(pg) -> int:
    return pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", [1366, 390])
def test_randomise_verify_analyse_and_report_in_a_browser(browser, live_server, store, editor, width):  # noqa: F811
    from whatworks.web.trials.models import Trial, TrialAllocation, TrialAnalysisRecord

    Trial.objects.create(slug="t3", title="Trial three", record={"id": "t3", "title": "Trial three"})
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": width, "height": 900},
                                  is_mobile=width < 500, has_touch=width < 500)
    pg = context.new_page()
    seen = {}

    def check(name):
        seen[name] = (serious_violations(pg), _overflow(pg))

    _sign_in(pg, "edna")
    pg.goto("/trials/t3/randomise/")
    check("upload")
    pg.get_by_label("CSV file").set_input_files(
        files=[{"name": "units.csv", "mimeType": "text/csv", "buffer": units_csv(6, 4).encode()}])
    submit(pg, pg.get_by_role("button", name="Upload units"))
    pg.get_by_label("Method", exact=True).select_option("block-cluster")
    pg.get_by_label("Unit id column").select_option("school")
    pg.get_by_label("Block column").select_option("la")
    pg.get_by_label("Cluster column").select_option("school")
    pg.get_by_label("Balance table columns").select_option(["fsm", "size"])
    seed = pg.get_by_label("Seed", exact=True).input_value()
    assert seed.isdigit()
    check("method")
    submit(pg, pg.get_by_role("button", name="Preview the allocation"))
    assert "Preview (not yet saved)" in pg.locator("main").inner_text()
    assert pg.locator("caption", has_text="Baseline balance of the previewed allocation").count() == 1
    check("preview")
    submit(pg, pg.get_by_role("button", name="Confirm and store the allocation"))
    assert "is randomised" in pg.locator(".messages").inner_text()
    a = TrialAllocation.objects.get()
    assert str(a.seed) == seed and len(a.rows) == 24
    submit(pg, pg.get_by_role("button", name="Verify the log"))
    assert "Intact" in pg.locator(".verification").inner_text()
    check("trial")

    pg.goto("/trials/t3/analyse/")
    pg.get_by_label("CSV file").set_input_files(
        files=[{"name": "outcomes.csv", "mimeType": "text/csv",
                "buffer": DATA.to_csv(index=False).encode()}])
    submit(pg, pg.get_by_role("button", name="Upload outcomes"))
    pg.get_by_label("Outcome column").select_option("score")
    pg.get_by_label("Treatment from").select_option("allocation")
    pg.get_by_label("Column of ids to match with the allocation").select_option("school")
    pg.get_by_label("Cluster column (random intercept)").select_option("school")
    pg.get_by_label("Name of the result").fill("attainment")
    check("analyse")
    # a missing choice first: the error summary, nothing saved
    pg.get_by_label("Cluster column (random intercept)").select_option("")
    submit(pg, pg.get_by_role("button", name="Run the analysis and store it"))
    assert "There is a problem" in pg.locator(".error-summary").inner_text()
    check("analyse-error")
    assert not TrialAnalysisRecord.objects.exists()
    pg.get_by_label("Cluster column (random intercept)").select_option("school")
    submit(pg, pg.get_by_role("button", name="Run the analysis and store it"))
    pg.wait_for_url("**/trials/t3/analyses/*/")
    assert "linear mixed model (REML)" in pg.locator("p.model").inner_text()
    # 8 of the 24 allocated schools have no pupils in the outcome file
    assert "allocated units have no row in the file" in pg.locator("main").inner_text()
    check("analysis")
    pg.goto("/trials/t3/report.html")
    text = pg.locator("main").inner_text()
    assert "audit log verified" in text and "attainment" in text and seed in text
    context.close()
    assert {k: v for k, v in seen.items() if v[0] or v[1] > 1} == {}


def test_the_enrolment_page_is_accessible(browser, live_server, store, editor):  # noqa: F811
    from whatworks.web.trials.models import Trial

    Trial.objects.create(slug="t4", title="Trial four", record={"id": "t4", "title": "Trial four"})
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 900},
                                  is_mobile=True, has_touch=True)
    pg = context.new_page()
    _sign_in(pg, "edna")
    pg.goto("/trials/t4/randomise/")
    pg.get_by_label("Minimisation factors").fill("sex age")
    submit(pg, pg.get_by_role("button", name="Start enrolment"))
    pg.get_by_label("Unit id", exact=True).fill("P1")
    pg.get_by_label("sex", exact=True).fill("f")
    pg.get_by_label("age", exact=True).fill("young")
    submit(pg, pg.get_by_role("button", name="Allocate this unit"))
    assert "Unit P1 is allocated to" in pg.locator(".messages").inner_text()
    violations, overflow = serious_violations(pg), _overflow(pg)
    context.close()
    assert violations == [] and overflow <= 1

