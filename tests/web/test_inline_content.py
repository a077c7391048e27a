"""The site's Content-Security-Policy (``store/middleware.py``: ``style-src 'self'; script-src
'self'``) refuses styles and scripts written into a page. Every main page, as a reader, an editor
and an administrator, has none: no ``style`` attribute, no ``<style>`` element, no ``<script>``
without ``src`` or with a body, no ``on...`` event attribute, no ``javascript:`` URL. (Swagger UI,
``/api/docs/``, has its own policy: ``api.views.ApiDocsView``.) A browser test opens some of
them in chromium and asserts no CSP violation is reported: tests/web/test_csp_browser.py."""

from html.parser import HTMLParser

import pytest

from whatworks.web.trials.models import Trial

pytestmark = pytest.mark.django_db

FGC, SR = "family-group-conferences", "schwartz-rounds"
CALC = {"design": "CRA2_2r", "solve_for": "mdes", "power": "0.8", "alpha": "0.05", "tails": "two",
        "rho2": "0.2", "n": "60", "J": "40", "r21": "0.5", "r22": "0.5", "g2": "1"}

READERS_PAGES = [
    "/", "/interventions/", f"/interventions/{FGC}/", f"/interventions/{SR}/",
    "/interventions/?q=family+conferences", "/interventions/?q=zzqqxx", "/outcomes/",
    f"/compare/?i={FGC}&i={SR}", "/compare/", "/methods/",
    "/places/", "/places/E06000001/",
    "/trials/", "/trials/swis-trial/", "/trials/swis-trial/report.html", "/trials/programme/",
    "/trials/programme/social-workers-in-schools/", "/trials/power/", "/trials/power/?" + "&".join(
        f"{k}={v}" for k, v in CALC.items()),
    "/accounts/sign-in/", "/no-such-page/",
]
EDITORS_PAGES = [
    "/editor/", f"/editor/interventions/{FGC}/", f"/editor/interventions/{FGC}/edit/",
    f"/editor/interventions/{FGC}/findings/new/", f"/editor/interventions/{FGC}/studies/new/",
    f"/editor/interventions/{FGC}/changes/", f"/editor/interventions/{FGC}/history/",
    f"/editor/interventions/{SR}/", "/editor/interventions/new/", "/editor/import/",
    "/trials/new/", "/trials/programme/new/", "/trials/csp-trial/randomise/",
    "/trials/csp-trial/analyse/", "/trials/csp-trial/",
]
ADMINS_PAGES = ["/accounts/users/", "/accounts/audit/"]


class Inline(HTMLParser):
    """What a page writes inline that the policy would refuse, as (line, what) pairs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._script: tuple[int, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        line = self.getpos()[0]
        names = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.found.append((line, f"<{tag} style={value!r}>"))
            elif name.startswith("on"):
                self.found.append((line, f"<{tag} {name}=...> (an event attribute)"))
            elif name in ("href", "src", "action", "formaction") and \
                    (value or "").strip().lower().startswith("javascript:"):
                self.found.append((line, f"<{tag} {name}={value!r}>"))
        if tag == "style":
            self.found.append((line, "<style> element"))
        if tag == "script":
            if not names.get("src"):
                self.found.append((line, "<script> without src"))
            self._script = (line, [])

    def handle_data(self, data):
        if self._script is not None:
            self._script[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            line, body = self._script
            if "".join(body).strip():
                self.found.append((line, "<script> with a body"))
            self._script = None


def inline_content(html: str) -> list[tuple[int, str]]:
    parser = Inline()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.fixture
def trials(db):
    from whatworks.web.trials.demo import load_trials_demo

    load_trials_demo()
    Trial.objects.create(slug="csp-trial", title="A trial for the policy", record={
        "id": "csp-trial", "title": "A trial for the policy"})


def _check(client, paths):
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert response["Content-Type"].startswith("text/html"), path
        policy = response["Content-Security-Policy"]
        assert "style-src 'self';" in policy and "script-src 'self';" in policy, path
        assert "unsafe-inline" not in policy, path
        found = inline_content(response.content.decode())
        assert not found, (path, found[:5])


def test_the_checker_finds_what_the_policy_refuses():
    html = ('<p style="color:red">x</p><style>p{}</style><script>alert(1)</script>'
            '<script src="/static/a.js"></script><button onclick="go()">b</button>'
            '<a href="javascript:go()">a</a><script src="/static/b.js">x()</script>')
    assert [what for _, what in inline_content(html)] == [
        "<p style='color:red'>", "<style> element", "<script> without src",
        "<script> with a body", "<button onclick=...> (an event attribute)",
        "<a href='javascript:go()'>", "<script> with a body"]
    assert inline_content('<script src="/static/whatworks/site.js"></script><p class="x">') == []


def test_readers_pages_write_no_style_or_script_inline(client, trials):
    _check(client, READERS_PAGES)


def test_editors_pages_write_no_style_or_script_inline(client, editor, trials):
    client.force_login(editor)
    _check(client, EDITORS_PAGES + READERS_PAGES[:4])
    # a form sent back with errors (the error summary) writes none either
    response = client.post(f"/editor/interventions/{FGC}/findings/new/", {"study": ""})
    assert response.status_code == 200 and 'aria-invalid="true"' in response.content.decode()
    assert inline_content(response.content.decode()) == []


def test_administrators_pages_write_no_style_or_script_inline(client, admin, trials):
    client.force_login(admin)
    _check(client, ADMINS_PAGES + [f"/editor/interventions/{SR}/changes/"])


def test_the_reports_stylesheet_is_served_from_the_site(client):
    from whatworks.trials.report import CSS

    response = client.get("/trials/report.css")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    assert response.content.decode() == CSS
