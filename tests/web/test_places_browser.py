"""The places pages in a real browser at a phone's width (390 px) and a laptop's (1366 px): no
sideways scrolling, every chart drawn, its legend present (in the SVG), the 2018 gap said, and
axe-core with no serious or critical violation. Fixtures come from test_browser.py."""

import pytest

from tests.web.test_browser import CHROMIUM, browser, serious_violations, store  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM),
                       reason="Debian's chromium is not installed (apt-get install chromium)"),
]

WIDTHS = [390, 1366]
CHARTS = ["trend", "funnel", "deprivation"]


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def sized(request, browser, live_server, store):  # noqa: F811
    width = request.param
    phone = width < 600
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": width, "height": 800 if phone else 900},
                                  is_mobile=phone, has_touch=phone)
    pg = context.new_page()
    yield pg
    context.close()


def _overflow(pg) -> int:
    return pg.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def _chart_drawn(pg, src: str) -> dict:
    img = pg.locator(f'img[src="{src}"]')
    img.scroll_into_view_if_needed()
    pg.wait_for_function(
        f"() => {{ const i = document.querySelector('img[src=\"{src}\"]');"
        " return i && i.complete && i.naturalWidth > 0; }", timeout=30_000)
    return pg.evaluate(
        f"() => {{ const i = document.querySelector('img[src=\"{src}\"]');"
        " const r = i.getBoundingClientRect();"
        " return {width: r.width, right: r.right, viewport: window.innerWidth}; }")


def test_an_authority_page_fits_and_draws_its_charts_with_legends(sized):
    sized.goto("/places/E06000001/")
    assert sized.get_by_role("heading", name="Hartlepool", level=1).is_visible()
    assert _overflow(sized) <= 1
    for kind in CHARTS:
        src = f"/places/E06000001/{kind}.svg"
        box = _chart_drawn(sized, src)
        assert box["width"] > 200 and box["right"] <= box["viewport"] + 1, (kind, box)
        svg = sized.request.get(src).text()
        assert "Source: Department for Education" in svg and "legend" in svg, kind
        assert sized.locator(f'a.chart-open[href="{src}"]').count() == 1  # opens full size
    notice = sized.locator("#gap-note")
    assert notice.is_visible() and "2018" in notice.inner_text()
    assert "Similar authorities (our match on deprivation and size)" in sized.content()
    assert _overflow(sized) <= 1  # still, with every chart loaded


def test_the_places_index_fits_and_draws_its_funnel(sized):
    sized.goto("/places/")
    assert _overflow(sized) <= 1
    box = _chart_drawn(sized, "/places/funnel.svg")
    assert box["right"] <= box["viewport"] + 1


@pytest.mark.parametrize("path", ["/places/", "/places/E06000001/"])
def test_places_pages_have_no_serious_accessibility_violations_at_both_widths(sized, path):
    sized.goto(path)
    assert serious_violations(sized) == []
