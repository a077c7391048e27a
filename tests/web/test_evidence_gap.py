"""Evidence-gap interventions: published on purpose to say there is no study with outcomes yet.

The publication rule (``whatworks.ratings.publication``, called by ``drafts.shows_something`` and
``changes.empty_because``) lets a marked evidence gap be published without findings, refuses one
that has a finding with an effect, and the marker flows through the editor, API, drafts, exports
and imports and the demo content."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from whatworks.errors import InputError
from whatworks.ratings.publication import GAP_WITH_EFFECT, NO_EFFECT, NO_SUMMARY
from whatworks.web.store import changes, drafts
from whatworks.web.store.demo import DemoContentError, demo_content, load_demo
from whatworks.web.store.models import Intervention
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
