"""Evidence-gap interventions: published on purpose to say there is no study with outcomes yet.

The publication rule (``whatworks.ratings.publication``, called by ``drafts.shows_something`` and
``changes.empty_because``) lets a marked evidence gap be published without findings, refuses one
that has a finding with an effect, and the marker flows through the editor, API, drafts, exports
and imports and the demo content."""

import json
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from whatworks.errors import InputError
from whatworks.ratings.publication import GAP_WITH_EFFECT, NO_EFFECT, NO_SUMMARY, gap_conflict
from whatworks.web.store import changes, drafts
from whatworks.web.store.demo import DemoContentError, demo_content, load_demo
from whatworks.web.store.models import Intervention, Outcome, Study
from whatworks.web.store.once import issue

pytestmark = pytest.mark.django_db

SR = "schwartz-rounds"  # published as an evidence gap in the test store (conftest)
FGC = "family-group-conferences"


def _api(client, user, method, path, payload=None):
    token, _ = Token.objects.get_or_create(user=user)
    return getattr(client, method)(path, data=json.dumps(payload) if payload is not None else None,
                                   content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Token {token.key}")


def _edit(client, slug, **fields):
    live = Intervention.objects.get(slug=slug)
    data = {"name": live.name, "slug": slug, "summary": live.summary, "form_token": issue(),
            "base": drafts.item_hash(drafts.current(live)[0]["fields"]), **fields}
    return client.post(f"/editor/interventions/{slug}/edit/", {
        k: v for k, v in data.items() if v is not None})


# -- the demo content --------------------------------------------------------------------------

def test_the_demo_content_marks_exactly_its_interventions_without_findings_as_evidence_gaps():
    items = demo_content()["interventions"]
    gaps = {i["slug"] for i in items if i.get("evidence_gap")}
    assert gaps == {i["slug"] for i in items if not i.get("findings")}
    assert gaps == {"peer-mentoring-care-leavers", "independent-visitors"}


def test_the_demo_loader_publishes_only_through_the_rule():
    unmarked = {"interventions": [{"slug": "empty-thing", "name": "Empty thing",
                                   "summary": "Something with no evidence.", "findings": []}]}
    with pytest.raises(DemoContentError, match="empty-thing.*no finding with a computable"):
        load_demo(unmarked)
    assert not Intervention.objects.filter(slug="empty-thing").exists()  # nothing half-written
    unmarked["interventions"][0]["evidence_gap"] = True
    load_demo(unmarked)
    gap = Intervention.objects.get(slug="empty-thing")
    assert gap.status == Intervention.PUBLISHED and gap.evidence_gap


# -- editing and publishing ----------------------------------------------------------------------

def test_an_evidence_gap_intervention_can_be_edited_and_published(client, editor, admin):
    from django.test import Client

    assert Intervention.objects.get(slug=SR).status == Intervention.PUBLISHED
    client.force_login(editor)
    form = client.get(f"/editor/interventions/{SR}/edit/").content.decode()
    assert 'name="evidence_gap"' in form and "no study with outcomes yet" in form
    r = _edit(client, SR, summary="Reflective forums for all staff.", evidence_gap="on")
    assert r.status_code == 302, r.content.decode()[-1500:]
    client.force_login(admin)
    changes_page = client.get(f"/editor/interventions/{SR}/changes/").content.decode()
    assert "cannot be published" not in changes_page
    r = client.post(f"/editor/interventions/{SR}/publish/",
                    {"form_token": issue(), "action": "publish"}, follow=True)
    assert "cannot be published" not in r.content.decode()
    live = Intervention.objects.get(slug=SR)
    assert live.summary == "Reflective forums for all staff." and live.evidence_gap
    page = Client().get(f"/interventions/{SR}/").content.decode()
    assert "Evidence gap:</strong> no study with a comparison group has measured outcomes" in page
    assert "Reflective forums for all staff." in page
    listing = Client().get("/interventions/")
    assert listing.status_code == 200 and "Schwartz Rounds" in listing.content.decode()


def test_unticking_evidence_gap_without_findings_is_refused(client, editor, admin):
    client.force_login(editor)
    assert _edit(client, SR).status_code == 302  # checkbox left unticked
    with pytest.raises(drafts.NothingToPublish, match="no finding with a computable effect size"):
        drafts.publish(Intervention.objects.get(slug=SR), user=admin)
    assert Intervention.objects.get(slug=SR).evidence_gap


def test_an_evidence_gap_with_effect_findings_is_refused_on_every_route(client, editor, admin):
    fgc = Intervention.objects.get(slug=FGC)
    drafts.put_fields(fgc, {"evidence_gap": True}, user=editor)
    with pytest.raises(drafts.NothingToPublish, match="marked as an evidence gap but has findings"):
        drafts.publish(fgc, user=admin)
    assert not Intervention.objects.get(slug=FGC).evidence_gap
    r = _api(client, admin, "post", f"/api/interventions/{FGC}/publish")
    assert r.status_code == 400 and "untick 'evidence gap' first" in r.json()["error"]["message"]
    drafts.discard(fgc, user=editor)
    # an unpublished intervention marked as a gap with findings: set_status refuses too
    Intervention.objects.filter(slug=FGC).update(status="draft", evidence_gap=True)
    with pytest.raises(changes.NothingToShow, match="marked as an evidence gap"):
        changes.set_status(Intervention.objects.get(slug=FGC), "published", user=admin)
    assert Intervention.objects.get(slug=FGC).status == "draft"


def test_the_api_reads_and_writes_evidence_gap(client, editor, admin):
    body = client.get(f"/api/interventions/{SR}").json()
    assert body["evidence_gap"] is True and body["slug"] == SR and "summary" in body
    r = _api(client, editor, "patch", f"/api/interventions/{SR}", {"evidence_gap": False})
    assert r.status_code == 200 and r.json()["draft"] is True, r.content
    assert drafts.current(Intervention.objects.get(slug=SR))[0]["fields"]["evidence_gap"] is False
    r = _api(client, admin, "post", f"/api/interventions/{SR}/publish")
    assert r.status_code == 400 and "no finding with a computable" in r.json()["error"]["message"]


# -- export and import ---------------------------------------------------------------------------

def _gaps():
    return dict(Intervention.objects.values_list("slug", "evidence_gap"))


def test_export_and_import_round_trip_the_marker_in_json_and_csv(admin):
    from whatworks.web.store.transfer import (
        export_csv_zip,
        export_store,
        import_store,
        read_csv_zip,
    )

    before = _gaps()
    assert before[SR] is True and before[FGC] is False
    data, zipped = export_store(), export_csv_zip()
    assert {r["slug"]: r["evidence_gap"] for r in data["interventions"]} == before
    for load in (lambda: data, lambda: read_csv_zip(zipped)):
        Intervention.objects.all().delete()
        import_store(load(), user=admin)
        assert _gaps() == before
        assert Intervention.objects.get(slug=SR).status == Intervention.PUBLISHED


def test_an_old_export_without_the_key_imports_as_false(admin):
    from whatworks.web.store.transfer import export_store, import_store

    data = export_store()
    for row in data["interventions"]:
        del row["evidence_gap"]
    Intervention.objects.all().delete()
    with pytest.raises(InputError, match="'schwartz-rounds' cannot be published: it has no finding"):
        import_store(data, user=admin)
    assert not Intervention.objects.exists()  # all or nothing
    for row in data["interventions"]:
        if row["slug"] == SR:
            row["status"] = "draft"
    import_store(data, user=admin)
    assert not any(_gaps().values())


# -- the rule is its definition --------------------------------------------------------------------

_finding = st.fixed_dictionaries({"yi": st.none() | st.floats(-2, 2), "vi": st.none() | st.floats(0.001, 1)})


@given(summary=st.none() | st.sampled_from(["", "  ", "\n", "A summary.", " x "]),
       findings=st.lists(_finding, max_size=4), gap=st.none() | st.booleans())
def test_shows_something_returns_none_exactly_when_the_definition_holds(summary, findings, gap):
    snapshot = {"fields": {"summary": summary, "evidence_gap": gap}, "findings": findings}
    has_summary = bool((summary or "").strip())
    effects = any(f["yi"] is not None and f["vi"] is not None for f in findings)
    why = drafts.shows_something(snapshot)
    assert (why is None) == (has_summary and (effects != bool(gap)))
    if not has_summary:
        assert why == NO_SUMMARY
    elif gap and effects:
        assert why == GAP_WITH_EFFECT
    elif not gap and not effects:
        assert why == NO_EFFECT


# -- readers see the label in lists; the API list says it ------------------------------------------

GAP_LABEL = ("<strong>Evidence gap:</strong> no study with a comparison group has measured "
             "outcomes of this yet.")


def _result(html: str, name: str) -> str:
    """The list item of the intervention named ``name`` in a list page."""
    start = html.index(f">{name}</a>")
    return html[start:html.index("</li>", start)]


def test_the_api_list_says_which_interventions_are_evidence_gaps(client):
    for query in ({}, {"q": "reflective forums"}, {"uk": "1", "sort": "-name"}):
        rows = client.get("/api/interventions", query).json()
        rows = rows["results"] if isinstance(rows, dict) else rows
        assert rows, query
        by_slug = {r["slug"]: r for r in rows}
        assert by_slug[SR]["evidence_gap"] is True, query
        assert all(r["evidence_gap"] is (r["slug"] == SR) for r in rows), query
        assert {"slug", "name", "aliases", "status", "summary", "cost_band", "uk_evidence",
                "ratings", "url"} <= set(by_slug[SR])  # the keys it had, kept
    detail = client.get(f"/api/interventions/{SR}").json()
    assert detail["evidence_gap"] is True and list(detail).count("evidence_gap") == 1


def test_lists_and_search_results_label_an_evidence_gap_as_its_page_does(client):
    page = client.get(f"/interventions/{SR}/").content.decode()
    assert GAP_LABEL in page  # the intervention page's wording, used by the lists
    for url in ("/interventions/", "/interventions/?q=schwartz", "/interventions/?q=staff",
                "/interventions/?uk=1", "/"):
        html = client.get(url).content.decode()
        assert GAP_LABEL in _result(html, "Schwartz Rounds"), url
        if "Family group conferences</a>" in html:
            assert "Evidence gap" not in _result(html, "Family group conferences"), url


def test_the_compare_page_says_which_compared_intervention_is_an_evidence_gap(client):
    html = client.get("/compare/", {"i": [FGC, SR]}).content.decode()
    assert html.count(GAP_LABEL) == 1, html[-3000:]
    row = html[html.index('<th scope="row">Evidence</th>'):]
    row = row[:row.index("</tr>")]
    cells = row.split("<td>")[1:]  # in the order compared: FGC, then SR
    assert GAP_LABEL not in cells[0] and "Not marked as an evidence gap" in cells[0]
    assert GAP_LABEL in cells[1]
    # comparing interventions none of which is a gap adds no such row
    other = client.get("/compare/", {"i": [FGC]}).content.decode()
    assert "Evidence gap" not in other and '<th scope="row">Evidence</th>' not in other


def test_the_label_goes_when_the_marker_is_unticked_and_the_finding_published(
        client, editor, admin, django_capture_on_commit_callbacks):
    _gap_study()
    Intervention.objects.filter(slug=SR).update(evidence_gap=False)
    with django_capture_on_commit_callbacks(execute=True):
        drafts.put_finding(Intervention.objects.get(slug=SR), _finding(), user=editor,
                           study_ref=Study.objects.get(key="sr-2024").pk)
        drafts.publish(Intervention.objects.get(slug=SR), user=admin)
    assert "Evidence gap" not in _result(client.get("/interventions/").content.decode(),
                                         "Schwartz Rounds")


# -- a finding added to an evidence gap: the core's rule, a warning or a refusal -----------------------

def _gap_study():
    return changes.save_study(Study(
        key="sr-2024", citation="Maben et al. 2024. Schwartz Rounds evaluation.", year=2024,
        design="rct", country="England", sample_size=300, risk_of_bias="low", source="manual",
        intervention=Intervention.objects.get(slug=SR)), user=None, reason="a study for the test")


def _finding():
    from whatworks.web.store.models import Finding

    return Finding(study=Study.objects.get(key="sr-2024"), intervention=Intervention.objects.get(
        slug=SR), outcome=Outcome.objects.get(slug="entry-to-care"), measure="RR",
        timepoint_months=12, reported={"ai": 30, "n1i": 150, "ci": 40, "n2i": 150})


FIELD_AND_FIX = ("the field 'evidence gap' is ticked", "untick 'evidence gap'",
                 "remove the finding (do not add it)")


def test_adding_a_finding_to_an_evidence_gap_warns_the_editor_at_once(client, editor, admin):
    _gap_study()
    client.force_login(editor)
    form = unescape(client.get(f"/editor/interventions/{SR}/findings/new/").content.decode())
    assert all(part in form for part in FIELD_AND_FIX), form[:3000]
    r = client.post(f"/editor/interventions/{SR}/findings/new/", {
        "study": "sr-2024", "outcome": "entry-to-care", "measure": "RR", "timepoint_months": "12",
        "ai": "30", "n1i": "150", "ci": "40", "n2i": "150", "form_token": issue()}, follow=True)
    html = unescape(r.content.decode())
    assert r.status_code == 200 and 'class="message warning"' in html, html[-3000:]
    assert all(part in html for part in FIELD_AND_FIX)
    assert "cannot be published until one of the two is done" in html
    assert "Evidence gap contradicted" in html  # the intervention's editor page, while it lasts
    # nothing public changed; publishing refuses, naming the fix
    assert Intervention.objects.get(slug=SR).evidence_gap
    with pytest.raises(drafts.NothingToPublish, match="untick 'evidence gap' first"):
        drafts.publish(Intervention.objects.get(slug=SR), user=admin)
    # the editor unticks the marker: the warning goes and the intervention publishes
    assert _edit(client, SR, evidence_gap=None).status_code == 302
    page = client.get(f"/editor/interventions/{SR}/").content.decode()
    assert "Evidence gap contradicted" not in page and "Schwartz Rounds" in page
    drafts.publish(Intervention.objects.get(slug=SR), user=admin)
    assert not Intervention.objects.get(slug=SR).evidence_gap


def test_an_unpublished_evidence_gap_keeps_the_finding_with_a_warning(client, editor):
    _gap_study()
    Intervention.objects.filter(slug=SR).update(status=Intervention.DRAFT)
    client.force_login(editor)
    r = client.post(f"/editor/interventions/{SR}/findings/new/", {
        "study": "sr-2024", "outcome": "entry-to-care", "measure": "RR", "timepoint_months": "12",
        "ai": "30",
        "n1i": "150", "ci": "40", "n2i": "150", "form_token": issue()}, follow=True)
    html = unescape(r.content.decode())
    assert "Finding saved" in html and 'class="message warning"' in html, html[-3000:]
    assert all(part in html for part in FIELD_AND_FIX)
    assert Intervention.objects.get(slug=SR).findings.count() == 1


def test_a_finding_written_live_to_a_published_evidence_gap_is_refused(admin):
    """Editors' changes to a published intervention go to its draft; a trial's results published
    to the store (and the system's own writes) are written live, and are refused there."""
    _gap_study()
    with pytest.raises(changes.GapContradicted, match="Schwartz Rounds: .*'evidence gap'.*"
                                                      "nothing was saved"):
        changes.save_finding(_finding(), reason="a trial's result", user=admin)
    assert not Intervention.objects.get(slug=SR).findings.exists()
    Intervention.objects.filter(slug=SR).update(evidence_gap=False)  # the fix the message names
    changes.save_finding(_finding(), reason="a trial's result", user=admin)
    assert Intervention.objects.get(slug=SR).findings.count() == 1


def test_a_published_evidence_gap_already_contradicted_says_readers_see_it_now(client, editor):
    """A contradiction made before these rules (saved past the write services) is live on a
    published page: the warning says readers see it now, not that publication waits."""
    _gap_study()
    finding = _finding()
    finding.yi, finding.vi = -0.288, 0.0369  # log RR of 30/150 vs 40/150 and its variance
    finding.save()  # past changes.save_finding, as data from before the rules
    client.force_login(editor)
    html = unescape(client.get(f"/editor/interventions/{SR}/").content.decode())
    assert "Evidence gap contradicted" in html
    assert "its published page says 'no evidence yet' over that finding" in html, html[:3000]
    assert "cannot be published until" not in html
    [warning] = drafts.gap_warnings([Intervention.objects.get(slug=SR).pk])
    assert warning["message"].endswith("until one of the two is done")
    assert "its published page says" in warning["message"]
    # once a draft exists, the draft is what editors see: publication waits for the fix
    assert _edit(client, SR, summary="Reflective forums, revised.", evidence_gap="on").status_code == 302
    [warning] = drafts.gap_warnings([Intervention.objects.get(slug=SR).pk])
    assert "cannot be published until one of the two is done" in warning["message"]


def test_a_study_with_effects_moved_live_to_a_published_evidence_gap_is_refused(admin):
    study = Study.objects.get(key="fgc-study-b")
    study.intervention = Intervention.objects.get(slug=SR)
    with pytest.raises(changes.GapContradicted, match="untick 'evidence gap'"):
        changes.save_study(study, user=admin, reason="moved")
    assert Study.objects.get(key="fgc-study-b").intervention.slug == FGC
    assert not Intervention.objects.get(slug=SR).findings.exists()


# -- the API's writes carry the same warning ------------------------------------------------------

CORE_WARNING = gap_conflict(evidence_gap=True, has_effect_finding=True, public=False).message
FINDING = {"study": "sr-2024", "outcome": "entry-to-care", "measure": "RR", "timepoint_months": 12,
           "reported": {"ai": 30, "n1i": 150, "ci": 40, "n2i": 150}}
FINDING_KEYS = {"id", "study", "intervention", "outcome", "timepoint_months", "measure", "reported",
                "yi", "vi", "illustrative", "notes", "draft"}
GAP_WARNING = [{"code": "gap_conflict", "field": "evidence_gap", "intervention": SR,
                "message": CORE_WARNING}]


def test_an_api_finding_written_to_an_evidence_gaps_draft_is_kept_with_the_forms_warning(
        client, editor):
    _gap_study()
    r = _api(client, editor, "post", "/api/findings", FINDING)
    body = r.json()
    assert r.status_code == 201 and body["draft"] is True, body
    assert body["warnings"] == GAP_WARNING
    assert FINDING_KEYS <= set(body) and r.has_header("ETag")  # the keys it had, kept
    assert drafts.has_effect_finding(drafts.current(Intervention.objects.get(slug=SR))[0])
    r = _api(client, editor, "patch", f"/api/findings/{body['id']}", {"timepoint_months": 24})
    assert r.status_code == 200 and r.json()["warnings"] == GAP_WARNING, r.content
    # the marker unticked in the draft: the contradiction is gone, so is the warning
    r = _api(client, editor, "patch", f"/api/interventions/{SR}", {"evidence_gap": False})
    assert r.status_code == 200 and r.json()["warnings"] == [], r.content
    r = _api(client, editor, "patch", f"/api/findings/{body['id']}", {"timepoint_months": 12})
    assert r.status_code == 200 and r.json()["warnings"] == [], r.content
    # ticked again with the finding there: the intervention's write warns, as its editor page does
    r = _api(client, editor, "patch", f"/api/interventions/{SR}", {"evidence_gap": True})
    assert r.status_code == 200 and r.json()["warnings"] == GAP_WARNING, r.content


def test_an_api_write_to_an_unpublished_evidence_gap_warns_and_others_do_not(client, editor):
    _gap_study()
    Intervention.objects.filter(slug=SR).update(status=Intervention.DRAFT)
    r = _api(client, editor, "post", "/api/findings", FINDING)
    assert r.status_code == 201 and r.json()["draft"] is False, r.content
    assert r.json()["warnings"] == GAP_WARNING
    assert Intervention.objects.get(slug=SR).findings.count() == 1
    # a study with effects moved in: the same warning on the study's write
    Intervention.objects.filter(slug=FGC).update(status=Intervention.DRAFT)
    key = Study.objects.filter(intervention__slug=FGC, findings__isnull=False).first().key
    r = _api(client, editor, "patch", f"/api/studies/{key}", {"intervention": SR})
    assert r.status_code == 200 and r.json()["warnings"] == GAP_WARNING, r.content
    # writes with nothing to warn of say so with an empty list
    r = _api(client, editor, "post", "/api/findings", {**FINDING, "study": key})
    assert r.status_code == 201 and r.json()["warnings"] == GAP_WARNING  # still SR's
    other = Study.objects.filter(intervention__slug=FGC).first().key
    r = _api(client, editor, "post", "/api/findings", {**FINDING, "study": other})
    assert r.status_code == 201 and r.json()["warnings"] == [], r.content
    r = _api(client, editor, "post", "/api/interventions", {
        "slug": "new-gap", "name": "New gap", "summary": "Nothing studied yet.",
        "evidence_gap": True})
    assert r.status_code == 201 and r.json()["warnings"] == [], r.content
    # reads are as they were: no warnings key
    assert "warnings" not in _api(client, editor, "get", f"/api/interventions/{SR}").json()


def test_the_openapi_document_describes_the_warnings_of_every_write(client):
    schema = client.get("/api/openapi.json").json()
    for path, method, component in [
            ("/api/findings", "post", "FindingWritten"), ("/api/findings/{id}", "patch", "FindingWritten"),
            ("/api/studies", "post", "StudyWritten"), ("/api/studies/{key}", "patch", "StudyWritten"),
            ("/api/interventions", "post", "InterventionWritten"),
            ("/api/interventions/{slug}", "patch", "InterventionWritten")]:
        op = next(v[method] for p, v in schema["paths"].items() if p.rstrip("/") == path)
        answer = op["responses"]["201" if method == "post" else "200"]
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith(component), path
        assert "gap_conflict" in op["description"] and "ETag" in answer.get("headers", {}), path
    for component in ("FindingWritten", "StudyWritten", "InterventionWritten"):
        fields = schema["components"]["schemas"][component]
        assert "warnings" in fields["required"] and "gap_conflict" in \
            fields["properties"]["warnings"]["description"]
    warning = schema["components"]["schemas"]["WriteWarning"]
    assert set(warning["properties"]) == {"code", "field", "intervention", "message"}
