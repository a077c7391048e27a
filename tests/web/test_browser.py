"""End to end in a real browser (Debian's chromium driven by Playwright): search and filter, an
intervention page with its forest plot, an editor adding a finding and watching the synthesis,
rating and history change, and axe-core accessibility checks on every page type."""

import os
import shutil

import pytest

from tests.web.conftest import SMALL_STORE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (apt-get install chromium); "
                              "scripts/test.sh installs it when run as root"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def store(transactional_db):
    from whatworks.web.store.demo import load_demo

    load_demo(SMALL_STORE)


@pytest.fixture
def trials_demo(transactional_db):
    from whatworks.web.trials.demo import load_trials_demo

    load_trials_demo()


@pytest.fixture
def page(browser, live_server, store):
    context = browser.new_context(base_url=live_server.url)
    pg = context.new_page()
    yield pg
    context.close()


def submit(pg, control):
    """Click a control that loads a new page, and wait until that page has loaded. Playwright's
    click does not wait for the navigation it starts, so an assertion straight after it may read
    the old page, or a page half loaded (a CI run failed so under load)."""
    with pg.expect_navigation():
        control.click()


def serious_violations(pg):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(pg)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_a_reader_searches_and_filters(page):
    page.goto("/interventions/")
    page.get_by_label("Search", exact=True).fill("secondary schools")
    submit(page, page.get_by_role("button", name="Apply"))
    assert page.get_by_role("link", name="Social workers in schools").is_visible()
    assert page.get_by_role("link", name="Family group conferences").count() == 0
    page.goto("/interventions/")
    page.get_by_label("Outcome").select_option("entry-to-care")
    submit(page, page.get_by_role("button", name="Apply"))
    assert page.get_by_role("link", name="Family group conferences").is_visible()
    assert page.get_by_role("link", name="Social workers in schools").count() == 0


def test_an_intervention_page_shows_its_forest_plot_and_explanation(page):
    page.goto("/interventions/family-group-conferences/")
    img = page.locator("figure.forest img").first
    img.scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector('figure.forest img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert "Forest plot of 3 studies" in img.get_attribute("alt")
    assert page.locator(".explanation").first.inner_text().strip() != ""


def _sign_in(page, username):
    page.goto("/accounts/sign-in/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct horse battery")
    submit(page, page.get_by_role("button", name="Sign in"))


def test_an_editor_adds_a_finding_and_watches_the_rating_change(page, editor):
    from whatworks.web.store.models import Intervention, Rating, RatingChange, Study

    Study.objects.create(key="fgc-harm", citation="Illustrative harm study. 2024.", year=2024,
                         design="rct", sample_size=2000, risk_of_bias="low",
                         intervention=Intervention.objects.get(slug="family-group-conferences"))
    # not yet published, so edited directly (published: test_drafts_browser.py)
    Intervention.objects.filter(slug="family-group-conferences").update(status="draft")
    before = Rating.objects.get(intervention__slug="family-group-conferences")
    _sign_in(page, "edna")
    page.goto("/editor/interventions/family-group-conferences/findings/new/")
    page.get_by_label("Study", exact=True).select_option("fgc-harm")
    page.get_by_label("Outcome", exact=True).select_option("entry-to-care")
    page.get_by_label("Numbers of children with and without the outcome in each group").check()
    page.get_by_label("Which effect measure?").select_option("RR")
    page.get_by_label("Time point (months after start)").fill("12")
    for label, value in {"Children in the intervention group with the outcome": "900",
                         "Number in the intervention group": "1000",
                         "Children in the comparison group with the outcome": "300",
                         "Number in the comparison group": "1000"}.items():
        page.locator("#entry-counts").get_by_label(label, exact=True).fill(value)
    # the effect appears in words as the editor types (0.9 against 0.3: RR 3.00)
    page.wait_for_function("() => document.getElementById('effect-preview').dataset.yi")
    assert "RR 3.00 (95% CI" in page.locator("#effect-preview").inner_text()
    assert "More children in the intervention group" in page.locator("#effect-preview").inner_text()
    # an impossible value is refused on its field before saving
    page.locator('input[name="counts-ai"]').fill("1200")
    page.wait_for_selector(".live-error")
    page.locator('input[name="counts-ai"]').fill("900")
    page.wait_for_function("() => document.getElementById('effect-preview').dataset.yi")
    submit(page, page.get_by_role("button", name="Save finding"))
    assert "synthesis and rating updated" in page.locator(".messages").inner_text()
    after = Rating.objects.get(intervention__slug="family-group-conferences")
    assert after.explanation != before.explanation
    Intervention.objects.filter(slug="family-group-conferences").update(status="published")
    page.goto("/interventions/family-group-conferences/")
    assert after.explanation in page.locator(".explanation").first.inner_text()
    history = page.locator("ul.history").inner_text()
    if after.effectiveness_label != before.effectiveness_label:
        assert "finding added by an editor" in history
        assert RatingChange.objects.filter(reason="finding added by an editor").exists()


PAGES = ["/", "/interventions/", "/interventions/?outcome=entry-to-care",
         "/interventions/family-group-conferences/", "/interventions/family-group-conferences/?crosswalk=1",
         "/interventions/schwartz-rounds/",
         "/outcomes/", "/compare/?i=family-group-conferences&i=social-workers-in-schools",
         "/methods/", "/accounts/sign-in/", "/no-such-page/", "/places/", "/places/E06000001/"]


@pytest.mark.parametrize("path", PAGES)
def test_public_pages_have_no_serious_accessibility_violations(page, path):
    page.goto(path)
    assert serious_violations(page) == []


TRIALS_PAGES = ["/trials/programme/", "/trials/programme/social-workers-in-schools/", "/trials/",
                "/trials/swis-trial/", "/trials/power/",
                "/trials/power/?design=CRA2_2r&solve_for=mdes&power=0.8&alpha=0.05&tails=two&rho2=0.2&n=60&J=40"]


@pytest.mark.parametrize("path", TRIALS_PAGES)
def test_trials_pages_have_no_serious_accessibility_violations(page, trials_demo, path):
    page.goto(path)
    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["/trials/programme/new/", "/trials/new/",
                                  "/trials/programme/social-workers-in-schools/",
                                  "/trials/programme/social-workers-in-schools/decisions/new/",
                                  "/trials/programme/social-workers-in-schools/criteria/new/",
                                  "/trials/programme/social-workers-in-schools/evaluations/new/"])
def test_trials_editor_pages_have_no_serious_accessibility_violations(page, editor, trials_demo, path):
    _sign_in(page, "edna")
    page.goto(path)
    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["/editor/", "/editor/interventions/family-group-conferences/",
                                  "/editor/interventions/family-group-conferences/findings/new/",
                                  "/editor/import/", "/editor/interventions/new/"])
def test_editor_pages_have_no_serious_accessibility_violations(page, editor, path):
    _sign_in(page, "edna")
    page.goto(path)
    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["/", "/interventions/", "/interventions/family-group-conferences/"])
def test_pages_work_on_a_phone(browser, live_server, store, path):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740},
                                  is_mobile=True, has_touch=True)
    pg = context.new_page()
    pg.goto(path)
    overflow = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    context.close()
    assert overflow <= 1


def test_an_authority_page_shows_its_charts(page):
    page.goto("/places/")
    page.get_by_label("Local authority").select_option(label="Hartlepool")
    submit(page, page.get_by_role("button", name="Show"))
    page.wait_for_url("**/places/E06000001/")
    assert page.get_by_role("heading", name="Hartlepool", level=1).is_visible()
    for kind in ("trend", "funnel", "deprivation"):
        img = page.locator(f'img[src="/places/E06000001/{kind}.svg"]')
        img.scroll_into_view_if_needed()
        page.wait_for_function(
            f"() => {{ const i = document.querySelector('img[src=\"/places/E06000001/{kind}.svg\"]');"
            " return i && i.complete && i.naturalWidth > 0; }")
    assert "England" in page.locator("table").inner_text()


def test_the_users_page_has_no_serious_accessibility_violations(page, admin):
    _sign_in(page, "ada")
    page.goto("/accounts/users/")
    assert page.get_by_role("heading", name="Users and roles").is_visible()
    assert serious_violations(page) == []


def test_the_power_calculator_solves_and_draws_its_curve(page):
    page.goto("/trials/power/")
    from whatworks.trials.design import mdes

    page.get_by_label("Design", exact=True).select_option("CRA2_2r")
    page.get_by_label("Solve for").select_option("mdes")
    page.get_by_label("rho2:", exact=False).fill("0.2")
    page.get_by_label("n: level-1", exact=False).fill("60")
    page.get_by_label("J: level-2", exact=False).fill("40")
    submit(page, page.get_by_role("button", name="Calculate"))
    expected = mdes("CRA2_2r", rho2=0.2, n=60, J=40).mdes
    assert f"MDES = {expected:.4f}" in page.locator("#result-h + p").inner_text()
    page.wait_for_function("() => { const i = document.querySelector('figure.chart img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
def test_the_audit_log_and_an_import_job_have_no_serious_accessibility_violations(page, admin):
    from whatworks.web.store.models import ImportJob

    job = ImportJob.objects.create(kind="findings", filename="f.csv", user=admin, state="running",
                                   done=5, total=10)
    _sign_in(page, "ada")
    page.goto("/accounts/audit/")
    assert "Signed in" in page.locator("table").inner_text()
    assert serious_violations(page) == []
    page.goto(f"/editor/import/{job.pk}/")
    assert "checked 5 of about 10 rows" in page.locator("main").inner_text()
    assert serious_violations(page) == []
    # the page follows the job (it asks the API every 2 s) and says when it is done
    ImportJob.objects.filter(pk=job.pk).update(state="done", message="imported 10 findings",
                                               done=10, total=10)
    page.wait_for_function("() => document.getElementById('import-status').textContent"
                           ".startsWith('Done: imported 10 findings')", timeout=15000)
    # a job done with warnings: the page reloads to list them, each naming its intervention
    job = ImportJob.objects.create(kind="findings", filename="g.csv", user=admin, state="running",
                                   done=1, total=2)
    page.goto(f"/editor/import/{job.pk}/")
    ImportJob.objects.filter(pk=job.pk).update(state="done", message="imported 2 findings",
                                               done=2, total=2, warnings=[{
                                                   "code": "gap_conflict", "field": "evidence_gap",
                                                   "intervention": "schwartz-rounds",
                                                   "message": "the field is ticked"}])
    page.wait_for_selector("#import-warnings", timeout=15000)
    assert page.locator("#import-warnings").inner_text() == "Schwartz Rounds: the field is ticked."
    assert "Done: imported 2 findings" in page.locator("#import-status").inner_text()
    assert serious_violations(page) == []
