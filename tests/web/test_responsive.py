"""Every page type in a real browser at a phone's width (390 px) and a laptop's (1366 px): the
document never scrolls sideways, filters are reachable (a "Filters" button on a phone that opens
them, a sidebar on a laptop), every plot opens full size, every table sits in a scrollable region
with a visible cue when it overflows, and axe-core finds no serious or critical violation.

One browser for the module and one page per width, reused; each test loads the small store (and
the trials demo for trials pages) because the live server's database is emptied after each test.
"""

import os

import pytest

from tests.web.conftest import SMALL_STORE
from tests.web.test_browser import CHROMIUM, LAUNCH_ARGS, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (apt-get install chromium); "
                              "scripts/test.sh installs it when run as root"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

WIDTHS = [390, 1366]
POWER = "/trials/power/?design=CRA2_2r&solve_for=mdes&power=0.8&alpha=0.05&tails=two&rho2=0.2&n=60&J=40"
FGC = "family-group-conferences"

# (page type, path, who is signed in, expected status)
PAGES = [
    ("home", "/", None, 200),
    ("interventions", "/interventions/", None, 200),
    ("interventions-filtered", "/interventions/?outcome=entry-to-care&uk=1", None, 200),
    ("intervention", f"/interventions/{FGC}/", None, 200),
    ("intervention-one-study", "/interventions/social-workers-in-schools/", None, 200),
    ("intervention-no-evidence", "/interventions/schwartz-rounds/", None, 200),
    ("compare", f"/compare/?i={FGC}&i=social-workers-in-schools", None, 200),
    ("outcomes", "/outcomes/", None, 200),
    ("methods", "/methods/", None, 200),
    ("api-index", "/api/", None, 200),
    ("api-docs", "/api/docs/", None, 200),
    ("places", "/places/", None, 200),
    ("place", "/places/E06000001/", None, 200),
    ("trials-programme", "/trials/programme/", None, 200),
    ("trials-project", "/trials/programme/social-workers-in-schools/", None, 200),
    ("trials-registry", "/trials/", None, 200),
    ("trial", "/trials/swis-trial/", None, 200),
    ("power-calculator", "/trials/power/", None, 200),
    ("power-result", POWER, None, 200),
    ("editor-dashboard", "/editor/", "edna", 200),
    ("editor-intervention", f"/editor/interventions/{FGC}/", "edna", 200),
    ("editor-intervention-form", "/editor/interventions/new/", "edna", 200),
    ("editor-finding-form", f"/editor/interventions/{FGC}/findings/new/", "edna", 200),
    ("editor-import", "/editor/import/", "edna", 200),
    ("sign-in", "/accounts/sign-in/", None, 200),
    ("users", "/accounts/users/", "ada", 200),
    ("audit", "/accounts/audit/", "ada", 200),
    ("not-found", "/no-such-page/", None, 404),
]
THIRD_PARTY = {"api-docs"}  # Swagger UI draws its own tables; we check its overflow and axe only


@pytest.fixture(scope="module")
def pages(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        out = {}
        for width in WIDTHS:
            phone = width < 600
            context = browser.new_context(base_url=live_server.url,
                                          viewport={"width": width, "height": 800 if phone else 900},
                                          is_mobile=phone, has_touch=phone)
            out[width] = (context, context.new_page())
        yield out
        browser.close()


@pytest.fixture
def content(transactional_db, request):
    from django.contrib.auth.models import Group, User

    from whatworks.web.store.demo import load_demo

    load_demo(SMALL_STORE)
    if request.node.callspec.params["kind"].startswith(("trial", "power")):
        from whatworks.web.trials.demo import load_trials_demo

        load_trials_demo()
    for name, group in (("edna", "editors"), ("ada", "admins")):
        User.objects.create_user(name, password="correct horse battery").groups.add(
            Group.objects.get_or_create(name=group)[0])


def _sign_in(context, live_server, username):
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    context.clear_cookies()
    if username is None:
        return
    client = Client()
    client.force_login(User.objects.get(username=username))
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])


def _problems_with_tables(pg) -> list:
    """Tables outside a focusable, labelled scroll region, or overflowing without a visible cue."""
    return pg.evaluate("""() => [...document.querySelectorAll('main table')].flatMap(t => {
        const box = t.closest('.table-scroll');
        if (!box) return [['not in a scroll region', t.outerHTML.slice(0, 80)]];
        const out = [];
        if (box.getAttribute('tabindex') !== '0' || box.getAttribute('role') !== 'region'
            || !(box.getAttribute('aria-label') || box.getAttribute('aria-labelledby')))
          out.push(['region without tabindex=0, role=region and a label', box.outerHTML.slice(0, 80)]);
        if (getComputedStyle(box).overflowX !== 'auto') out.push(['region does not scroll', '']);
        if (box.scrollWidth > box.clientWidth + 1) {
          const cue = box.previousElementSibling;
          if (!(cue && cue.classList.contains('scroll-cue') && !cue.hidden && cue.offsetHeight > 0))
            out.push(['overflows without a visible cue', box.outerHTML.slice(0, 80)]);
        }
        return out; })""")


def _check_filters(pg, width):
    panels = pg.locator("details[data-open-wide]")
    if panels.count() == 0:
        return
    panel = panels.first
    summary = panel.locator("summary")
    results = pg.locator("#results-heading")
    assert summary.is_visible()
    field = pg.locator("#f-outcome")
    if width < 600:
        # the button, then the results: the filter form stays folded away until asked for
        assert panel.evaluate("d => d.open") is False
        assert not field.is_visible()
        gap = results.bounding_box()["y"] - (summary.bounding_box()["y"] + summary.bounding_box()["height"])
        assert 0 <= gap < 200, f"the results start {gap:.0f} px below the Filters button"
        summary.click()
        assert panel.evaluate("d => d.open") is True and field.is_visible()
        summary.click()
        assert not field.is_visible()
    else:
        # a sidebar: open, left of the results
        assert panel.evaluate("d => d.open") is True and field.is_visible()
        form = pg.locator("form.filters").bounding_box()
        assert form["x"] + form["width"] <= results.bounding_box()["x"]


def _check_plots(pg):
    """Every plot is a link to its full-size SVG, which draws (its inline styles allowed)."""
    images = pg.locator("figure.forest img, figure.chart img")
    hrefs = []
    for i in range(images.count()):
        img = images.nth(i)
        link = img.locator("xpath=ancestor::a[1]")
        assert link.count() == 1, f"plot {img.get_attribute('src')} is not a link to its full size"
        href = link.get_attribute("href")
        assert href.split("?")[0].endswith(".svg") and link.evaluate("a => a.tabIndex") >= 0
        hrefs.append(href)
    for href in hrefs[:1]:  # open one: a document of its own, drawn with its own styles
        response = pg.goto(href)
        assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
        fill = pg.evaluate("() => getComputedStyle(document.querySelector('#patch_1 path')).fill")
        assert fill == "rgb(255, 255, 255)", "the full-size SVG lost its styles (CSP?)"
    return hrefs


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
@pytest.mark.parametrize("kind, path, who, status", PAGES, ids=[p[0] for p in PAGES])
def test_every_page_type_fits_is_reachable_and_accessible(pages, live_server, content, width,
                                                          kind, path, who, status):
    context, pg = pages[width]
    _sign_in(context, live_server, who)
    response = pg.goto(path)
    assert response.status == status
    if who is not None:
        assert "/accounts/sign-in/" not in pg.url
    if kind == "api-docs":  # check Swagger UI once it has drawn the operations
        pg.wait_for_selector(".opblock-summary-control", timeout=30_000)
    overflow = pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than the {width} px window"
    assert serious_violations(pg) == []
    if kind not in THIRD_PARTY:
        assert _problems_with_tables(pg) == []
    _check_filters(pg, width)
    if kind == "trial":  # the inline flow diagram: drawn with the site's styles, full size in its region
        fill = pg.evaluate("() => getComputedStyle(document.querySelector('figure.flow rect.box')).fill")
        assert fill == "rgb(255, 255, 255)", "the flow diagram's boxes are not drawn white"
        assert pg.evaluate("() => document.querySelector('figure.flow svg').getBoundingClientRect()"
                           ".width") >= 860
    hrefs = _check_plots(pg)
    if kind in ("intervention", "intervention-one-study", "place", "places", "power-result"):
        assert hrefs, f"{path} should show a plot"


def test_a_wide_table_on_a_phone_shows_a_scroll_cue_that_a_wide_screen_does_not(pages, live_server,
                                                                                 transactional_db):
    from whatworks.web.store.demo import load_demo

    load_demo(SMALL_STORE)
    cues = {}
    for width in WIDTHS:
        context, pg = pages[width]
        _sign_in(context, live_server, None)
        pg.goto(f"/interventions/{FGC}/")
        studies = pg.locator('.table-scroll[aria-labelledby="studies-heading"]')
        overflowing = studies.evaluate("b => b.scrollWidth > b.clientWidth + 1")
        cue = pg.locator(".scroll-cue + .table-scroll[aria-labelledby='studies-heading']")
        cues[width] = (overflowing, pg.locator(".scroll-cue:visible").count())
        assert cue.count() == 1
    assert cues[390][0] and cues[390][1] >= 1
    assert not cues[1366][0]


def test_the_forest_plot_link_is_reachable_by_keyboard(pages, live_server, transactional_db):
    from whatworks.web.store.demo import load_demo

    load_demo(SMALL_STORE)
    context, pg = pages[390]
    _sign_in(context, live_server, None)
    pg.goto(f"/interventions/{FGC}/")
    link = pg.locator("a.forest-open").first
    for _ in range(80):
        pg.keyboard.press("Tab")
        if link.evaluate("a => a === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the forest plot's full-size link")
    with context.expect_page() as opened:
        pg.keyboard.press("Enter")
    full = opened.value
    full.wait_for_load_state()
    assert full.url.endswith("/forest/entry-to-care.svg")
    # full size: wider than the plot as shown on the phone
    assert full.evaluate("() => document.documentElement.getBoundingClientRect().width") > \
        pg.locator("a.forest-open img").first.bounding_box()["width"]
    full.close()
