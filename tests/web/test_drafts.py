"""Issue 10, editorial workflow: an editor's changes to a published intervention wait in a draft;
readers (pages, API, exports, search, ratings) see the published revision until an administrator
publishes; the diff shows the ratings that will change; every published revision is kept;
Back-and-resubmit saves nothing twice; removals are confirmed; nothing empty is published."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from whatworks.web.store import drafts
from whatworks.web.store.models import (
    Draft,
    Finding,
    FormSubmission,
    Intervention,
    Rating,
    Revision,
    Study,
)
from whatworks.web.store.once import issue

pytestmark = pytest.mark.django_db

FGC = "family-group-conferences"
EDITOR = f"/editor/interventions/{FGC}/"


def _trial_finding():
    return Finding.objects.get(study__key="fgc-trial-2023", outcome__slug="entry-to-care")


def _harmful_edit(token=None):
    """The FGC trial's finding made strongly harmful: the rating on entry to care changes."""
    return {"study": "fgc-trial-2023", "outcome": "entry-to-care", "measure": "RR",
            "timepoint_months": "12", "ai": "700", "n1i": "749", "ci": "200", "n2i": "762",
            "form_token": token or issue()}


def _reader_view(client):
    """What readers get: the public page, the API's detail, ratings and findings, the export."""
    page = client.get(f"/interventions/{FGC}/").content.decode()
    page = page.split("<main", 1)[-1].split("</main>", 1)[0]
    return (page, client.get(f"/api/interventions/{FGC}").json(),
            client.get("/api/ratings", {"intervention": FGC}).json(),
            client.get("/api/findings", {"intervention": FGC}).json(),
            [i for i in client.get("/export/store.json").json()["interventions"]
             if i["slug"] == FGC])


def _api(client, user, method, path, payload=None):
    token, _ = Token.objects.get_or_create(user=user)
    return getattr(client, method)(path, data=json.dumps(payload) if payload is not None else None,
                                   content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Token {token.key}")


# -- readers see the published revision until an administrator publishes ------------------------

def test_an_editors_change_leaves_public_pages_and_api_unchanged_until_an_admin_publishes(
        client, editor, admin):
    from django.test import Client

    reader = Client()
    before = _reader_view(reader)
    rating = Rating.objects.get(intervention__slug=FGC, outcome__slug="entry-to-care")
    client.force_login(editor)
    r = client.post(f"{EDITOR}findings/{_trial_finding().pk}/", _harmful_edit())
    assert r.status_code == 302, r.content.decode()[-1500:]
    r = client.post(f"{EDITOR}edit/", {"name": "Family group conferences", "slug": FGC,
                                      "summary": "A new summary.", "form_token": issue(),
                                      "base": drafts.item_hash(drafts.current(
                                          Intervention.objects.get(slug=FGC))[0]["fields"])})
    assert r.status_code == 302, r.content.decode()[-1500:]
    assert _reader_view(reader) == before
    assert Rating.objects.get(pk=rating.pk).effectiveness_label == rating.effectiveness_label
    assert "A new summary." not in reader.get("/interventions/", {"q": "new summary"}).content.decode()
    client.force_login(admin)
    r = client.post(f"{EDITOR}publish/", {"form_token": issue(), "action": "publish"})
    assert r.status_code == 302
    after = _reader_view(reader)
    assert after != before
    assert after[1]["summary"] == "A new summary."
    assert Rating.objects.get(pk=rating.pk).effectiveness_label != rating.effectiveness_label
    assert not Draft.objects.filter(intervention__slug=FGC).exists()


def test_the_api_writes_of_an_editor_go_to_the_draft_and_say_so(client, editor, admin):
    reader_before = client.get(f"/api/interventions/{FGC}").json()
    r = _api(client, editor, "patch", f"/api/interventions/{FGC}", {"summary": "Draft summary."})
    assert r.status_code == 200 and r.json()["draft"] is True and r.json()["summary"] == "Draft summary."
    r = _api(client, editor, "post", "/api/studies", {
        "key": "fgc-new-2025", "citation": "New study. 2025.", "year": 2025, "design": "rct",
        "sample_size": 900, "risk_of_bias": "low", "intervention": FGC})
    assert r.status_code == 201 and r.json()["draft"] is True, r.content
    assert not Study.objects.filter(key="fgc-new-2025").exists()
    r = _api(client, editor, "post", "/api/findings", {
        "study": "fgc-new-2025", "outcome": "entry-to-care", "measure": "RR", "timepoint_months": 12,
        "reported": {"ai": 300, "n1i": 450, "ci": 150, "n2i": 450}})
    assert r.status_code == 201 and r.json()["draft"] is True, r.content
    new_id = r.json()["id"]
    assert new_id < 0  # a finding the draft adds: addressable, but not in the live tables
    r = _api(client, editor, "patch", f"/api/findings/{new_id}", {"notes": "checked"})
    assert r.status_code == 200 and r.json()["notes"] == "checked", r.content
    removed = Finding.objects.get(study__key="fgc-study-c")
    r = _api(client, editor, "delete", f"/api/findings/{removed.pk}")
    assert r.status_code == 200 and r.json()["draft"] is True
    assert Finding.objects.filter(pk=removed.pk).exists()
    client.logout()
    assert client.get(f"/api/interventions/{FGC}").json() == reader_before
    pending = _api(client, editor, "get", f"/api/interventions/{FGC}/draft").json()
    assert [f["label"] for f in pending["diff"]["findings"]["added"]] == [
        "fgc-new-2025 x entry-to-care at 12 months"]
    assert len(pending["diff"]["findings"]["removed"]) == 1
    assert pending["diff"]["ratings"][0]["outcome"] == "entry-to-care"
    assert _api(client, editor, "post", f"/api/interventions/{FGC}/publish").status_code == 403
    stale = _api(client, admin, "post",
                 f"/api/interventions/{FGC}/publish?version={pending['version'] - 1}")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    r = _api(client, admin, "post", f"/api/interventions/{FGC}/publish?version={pending['version']}")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "published" and r.json()["revision"] == 2
    client.logout()
    live = client.get(f"/api/interventions/{FGC}").json()
    assert live["summary"] == "Draft summary."
    assert {s["key"] for s in live["studies"]} == {"fgc-trial-2023", "fgc-study-b", "fgc-study-c",
                                                   "fgc-new-2025"}
    assert not Finding.objects.filter(pk=removed.pk).exists()
    assert Finding.objects.get(study__key="fgc-new-2025").notes == "checked"
    again = _api(client, admin, "post", f"/api/interventions/{FGC}/publish")
    assert again.status_code == 409 and "nothing to publish" in again.json()["error"]["message"]
    assert _api(client, editor, "get", f"/api/interventions/{FGC}/draft").status_code == 404


# -- the diff, before publishing --------------------------------------------------------------

def test_the_diff_shows_the_rating_that_will_change(client, editor, admin):
    live = Rating.objects.get(intervention__slug=FGC, outcome__slug="entry-to-care")
    client.force_login(editor)
    client.post(f"{EDITOR}findings/{_trial_finding().pk}/", _harmful_edit())
    intervention = Intervention.objects.get(slug=FGC)
    diff = drafts.diff(intervention, drafts.pending(intervention).snapshot)
    (row,) = diff.ratings
    assert row["changed"] and row["old"]["effectiveness_label"] == live.effectiveness_label
    assert row["new"]["effectiveness_label"] != live.effectiveness_label
    assert Rating.objects.get(pk=live.pk).computed == live.computed  # nothing written
    client.force_login(admin)
    html = client.get(f"{EDITOR}changes/").content.decode()
    assert live.effectiveness_label in html and row["new"]["effectiveness_label"] in html
    assert row["new"]["statement"].split(".")[0] in html
    assert "Publish these changes" in html
    drafts.publish(intervention, user=admin)
    assert Rating.objects.get(pk=live.pk).effectiveness_label == row["new"]["effectiveness_label"]
    assert Rating.objects.get(pk=live.pk).statement == row["new"]["statement"]


def test_editors_see_the_diff_but_cannot_publish(client, editor):
    client.force_login(editor)
    client.post(f"{EDITOR}findings/{_trial_finding().pk}/", _harmful_edit())
    html = client.get(f"{EDITOR}changes/").content.decode()
    assert "Ratings this will change" in html and "Publish these changes" not in html
    r = client.post(f"{EDITOR}publish/", {"form_token": issue()})
    assert r.status_code == 403
    assert Draft.objects.filter(intervention__slug=FGC).exists()


# -- history ----------------------------------------------------------------------------------

def test_history_keeps_every_published_revision(client, editor, admin):
    fgc = Intervention.objects.get(slug=FGC)
    for summary in ("First change.", "Second change."):
        drafts.put_fields(fgc, {"summary": summary}, user=editor)
        drafts.publish(fgc, user=admin)
    revisions = list(Revision.objects.filter(intervention=fgc).order_by("number"))
    assert [r.number for r in revisions] == [1, 2, 3]
    assert [r.snapshot["fields"]["summary"] for r in revisions] == [
        "A meeting in which the family network makes a plan for the child.", "First change.",
        "Second change."]
    assert revisions[2].published_by == admin and revisions[2].editors == ["edna"]
    assert revisions[2].summary == "changed summary"
    client.force_login(editor)
    html = client.get(f"{EDITOR}history/").content.decode()
    assert html.count("changed summary") == 2 and "ada" in html and "edna" in html


# -- Back-and-resubmit ------------------------------------------------------------------------

def test_back_and_resubmit_adds_a_finding_to_the_draft_once(client, editor):
    client.force_login(editor)
    data = {**_harmful_edit(), "study": "fgc-study-b", "timepoint_months": "24"}
    first = client.post(f"{EDITOR}findings/new/", data)
    second = client.post(f"{EDITOR}findings/new/", data, follow=True)
    assert first.status_code == 302 and second.status_code == 200
    assert "Already saved" in second.content.decode()
    assert len(Draft.objects.get(intervention__slug=FGC).snapshot["findings"]) == 4


def test_back_and_resubmit_adds_a_finding_once_when_edited_directly(client, editor):
    Intervention.objects.filter(slug=FGC).update(status="draft")
    client.force_login(editor)
    n = Finding.objects.count()
    data = {**_harmful_edit(), "study": "fgc-study-b", "timepoint_months": "24"}
    assert client.post(f"{EDITOR}findings/new/", data).status_code == 302
    assert client.post(f"{EDITOR}findings/new/", data).status_code == 302
    assert Finding.objects.count() == n + 1


@pytest.mark.parametrize("status", ["published", "draft"])
def test_back_and_resubmit_adds_a_study_once(client, editor, status):
    Intervention.objects.filter(slug=FGC).update(status=status)
    client.force_login(editor)
    data = {"key": "fgc-twice", "citation": "Twice. 2024.", "year": "2024", "design": "rct",
            "source": "manual", "form_token": issue()}
    assert client.post(f"{EDITOR}studies/new/", data).status_code == 302
    r = client.post(f"{EDITOR}studies/new/", data, follow=True)
    assert "Already saved" in r.content.decode()
    snapshot, _ = drafts.current(Intervention.objects.get(slug=FGC))
    assert [s["key"] for s in snapshot["studies"]].count("fgc-twice") == 1


def test_back_and_resubmit_creates_an_intervention_once(client, editor):
    client.force_login(editor)
    data = {"name": "Once", "slug": "once", "summary": "s", "form_token": issue()}
    assert client.post("/editor/interventions/new/", data).status_code == 302
    assert client.post("/editor/interventions/new/", data).status_code == 302
    assert Intervention.objects.filter(name="Once").count() == 1


def test_back_and_resubmit_publishes_once(client, editor, admin):
    fgc = Intervention.objects.get(slug=FGC)
    drafts.put_fields(fgc, {"summary": "Once only."}, user=editor)
    client.force_login(admin)
    data = {"form_token": issue(), "action": "publish"}
    assert client.post(f"{EDITOR}publish/", data).status_code == 302
    r = client.post(f"{EDITOR}publish/", data, follow=True)
    assert "Already saved" in r.content.decode() and "nothing to publish" not in r.content.decode()
    assert Revision.objects.filter(intervention=fgc).count() == 2


@pytest.mark.parametrize("status", ["published", "draft"])
def test_back_and_resubmit_removes_once_and_a_removal_needs_confirming(client, editor, status):
    Intervention.objects.filter(slug=FGC).update(status=status)
    client.force_login(editor)
    finding = Finding.objects.get(study__key="fgc-study-c")
    url = f"{EDITOR}findings/{finding.pk}/delete/"
    page = client.get(EDITOR).content.decode()
    assert f'action="{url}"' not in page  # the list links to the confirmation page, no POST form
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Remove the finding" in confirm.content.decode()
    assert client.post(url, {}).status_code == 400  # no token: not from the confirmation page
    data = {"form_token": issue(), "confirm": "yes"}
    assert client.post(url, data).status_code == 302
    assert "Already saved" in client.post(url, data, follow=True).content.decode()
    snapshot, _ = drafts.current(Intervention.objects.get(slug=FGC))
    assert finding.pk not in {f["ref"] for f in snapshot["findings"]}
    assert len(snapshot["findings"]) == 2
    assert Finding.objects.filter(pk=finding.pk).exists() == (status == "published")


def test_removing_a_study_and_an_intervention_needs_confirming(client, editor, admin):
    client.force_login(editor)
    study = Study.objects.get(key="fgc-study-c")
    url = f"{EDITOR}studies/{study.pk}/delete/"
    assert "and its 1 finding will be removed" in client.get(url).content.decode()
    assert client.post(url, {"form_token": issue()}).status_code == 302
    snapshot = Draft.objects.get(intervention__slug=FGC).snapshot
    assert "fgc-study-c" not in {s["key"] for s in snapshot["studies"]}
    assert len(snapshot["findings"]) == 2
    assert client.get(f"{EDITOR}delete/").status_code == 403  # administrators only
    client.force_login(admin)
    assert "Delete the intervention" in client.get(f"{EDITOR}delete/").content.decode()
    assert Intervention.objects.filter(slug=FGC).exists()
    assert client.post(f"{EDITOR}delete/", {"form_token": issue()}).status_code == 302
    assert not Intervention.objects.filter(slug=FGC).exists()


def test_a_form_without_a_token_or_with_a_forged_one_saves_nothing(client, editor):
    client.force_login(editor)
    for token in ("", "made-up:token"):
        r = client.post("/editor/interventions/new/", {"name": "F", "slug": "f", "summary": "s",
                                                       "form_token": token})
        assert r.status_code == 400 and "reload the page" in r.content.decode()
    assert not Intervention.objects.filter(slug="f").exists()
    assert not FormSubmission.objects.exists()


def test_a_refused_form_keeps_its_token_usable(client, editor):
    client.force_login(editor)
    token = issue()
    bad = {**_harmful_edit(token), "ai": "5000"}
    assert client.post(f"{EDITOR}findings/new/", bad).status_code == 200
    assert client.post(f"{EDITOR}findings/new/", _harmful_edit(token)).status_code == 302
    assert len(Draft.objects.get(intervention__slug=FGC).snapshot["findings"]) == 4


# -- nothing empty is published ----------------------------------------------------------------

def test_publishing_an_empty_intervention_is_refused_by_form_and_api(client, admin):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft", evidence_gap=False)
    client.force_login(admin)
    html = client.get("/editor/interventions/schwartz-rounds/changes/").content.decode()
    assert "no finding with a computable effect size" in html
    r = client.post("/editor/interventions/schwartz-rounds/publish/",
                    {"form_token": issue(), "action": "publish"}, follow=True)
    assert "cannot be published" in r.content.decode()
    r = _api(client, admin, "post", "/api/interventions/schwartz-rounds/publish")
    assert r.status_code == 400 and "no finding with a computable effect size" in r.json()[
        "error"]["message"]
    assert Intervention.objects.get(slug="schwartz-rounds").status == "draft"


def test_publishing_a_draft_that_removes_every_finding_is_refused(editor, admin):
    fgc = Intervention.objects.get(slug=FGC)
    for f in Finding.objects.filter(intervention=fgc):
        drafts.remove_finding(fgc, f.pk, user=editor)
    with pytest.raises(drafts.NothingToPublish, match="no finding"):
        drafts.publish(fgc, user=admin)
    assert Finding.objects.filter(intervention=fgc).count() == 3


# -- two editors on one draft ------------------------------------------------------------------

def test_two_editors_on_one_draft_keep_each_others_changes_or_are_told(client, editor):
    fgc = Intervention.objects.get(slug=FGC)
    trial, b = _trial_finding(), Finding.objects.get(study__key="fgc-study-b")
    snapshot = drafts.current(fgc)[0]
    seen = {f["ref"]: drafts.item_hash(f) for f in snapshot["findings"]}
    client.force_login(editor)
    # both opened their forms before either saved; they change different findings: both kept
    r1 = client.post(f"{EDITOR}findings/{trial.pk}/", {**_harmful_edit(), "base": seen[trial.pk]})
    r2 = client.post(f"{EDITOR}findings/{b.pk}/", {**_harmful_edit(), "study": "fgc-study-b",
                                                   "notes": "second", "base": seen[b.pk]})
    assert r1.status_code == r2.status_code == 302
    items = {f["ref"]: f for f in Draft.objects.get(intervention=fgc).snapshot["findings"]}
    assert items[trial.pk]["reported"]["ai"] == 700 and items[b.pk]["notes"] == "second"
    # a third editor opened the trial's form before the first saved: told, nothing lost
    r3 = client.post(f"{EDITOR}findings/{trial.pk}/", {**_harmful_edit(), "ai": "10",
                                                       "base": seen[trial.pk]})
    assert r3.status_code == 200 and "someone else changed this finding" in r3.content.decode()
    items = {f["ref"]: f for f in Draft.objects.get(intervention=fgc).snapshot["findings"]}
    assert items[trial.pk]["reported"]["ai"] == 700


def test_a_renamed_slug_redirects_once_published(editor, admin, client):
    fgc = Intervention.objects.get(slug=FGC)
    drafts.put_fields(fgc, {"slug": "fgc"}, user=editor)
    assert client.get(f"/interventions/{FGC}/").status_code == 200
    drafts.publish(fgc, user=admin)
    r = client.get(f"/interventions/{FGC}/")
    assert r.status_code == 301 and r["Location"].endswith("/interventions/fgc/")


# -- the diff's summary is a definition -----------------------------------------------------------

_items = st.lists(st.fixed_dictionaries({
    "ref": st.integers(-5, 5).filter(bool), "outcome": st.sampled_from(["a", "b"]),
    "study": st.just(1), "timepoint_months": st.none(), "measure": st.just("RR"),
    "reported": st.fixed_dictionaries({"ai": st.integers(1, 3)})}), max_size=6,
    unique_by=lambda x: x["ref"])


@settings(max_examples=60, deadline=None)
@given(old=_items, new=_items)
def test_the_diff_summary_counts_what_is_added_changed_and_removed(old, new):
    compared = drafts._compare(old, new, lambda f: str(f["ref"]))
    before, after = {f["ref"]: f for f in old}, {f["ref"]: f for f in new}
    expected = {"added": len(after.keys() - before.keys()),
                "removed": len(before.keys() - after.keys()),
                "changed": sum(after[r] != before[r] for r in after.keys() & before.keys())}
    assert {k: len(v) for k, v in compared.items()} == expected
    summary = drafts.Diff(findings=compared).summary()
    for what, n in expected.items():
        if n:
            assert f"{what} {n} finding{'s' if n != 1 else ''}" in summary
        else:
            assert f"{what} " not in summary
    assert (summary == "no changes") == (not any(expected.values()))


def test_a_live_change_made_while_a_draft_waits_is_kept_when_the_draft_is_published(editor, admin):
    """An administrator's direct write (an import, a trial published into the store) while a draft
    waits is neither hidden from editors nor reverted by publishing the draft."""
    from whatworks.web.store import changes
    from whatworks.web.store.models import Outcome

    fgc = Intervention.objects.get(slug=FGC)
    drafts.put_fields(fgc, {"summary": "Drafted."}, user=editor)
    study = changes.save_study(Study(key="fgc-live", citation="Live. 2024.", design="rct",
                                     intervention=fgc), user=admin)
    live = changes.save_finding(Finding(study=study, outcome=Outcome.objects.get(
        slug="entry-to-care"), measure="RR", reported={"ai": 10, "n1i": 50, "ci": 12, "n2i": 50}),
        reason="test", user=admin)
    snapshot, _ = drafts.current(fgc)
    assert live.pk in {f["ref"] for f in snapshot["findings"]}
    diff = drafts.diff(fgc, snapshot)
    assert [f["field"] for f in diff.fields] == ["summary"] and not diff.findings["removed"]
    drafts.publish(fgc, user=admin)
    assert Finding.objects.filter(pk=live.pk).exists()
    assert Intervention.objects.get(slug=FGC).summary == "Drafted."


@st.composite
def _snapshots(draw):
    studies = draw(st.lists(st.integers(-3, 3).filter(bool), unique=True, max_size=3))
    findings = draw(st.lists(st.tuples(st.integers(-9, 9).filter(bool),
                                       st.sampled_from(studies or [0]), st.integers(0, 2)),
                             unique_by=lambda t: t[0], max_size=5)) if studies else []
    return {"fields": {"name": draw(st.sampled_from("ab")), "summary": draw(st.sampled_from("xy"))},
            "studies": [{"ref": r, "key": f"s{r}"} for r in studies],
            "findings": [{"ref": r, "study": s, "ai": a} for r, s, a in findings], "next_ref": 1}


def _canon(snapshot):
    return (snapshot["fields"], sorted(map(str, snapshot["studies"])),
            sorted(map(str, snapshot["findings"])))


@settings(max_examples=80, deadline=None)
@given(live=_snapshots(), other=_snapshots())
def test_merging_keeps_the_drafts_changes_and_the_live_ones(live, other):
    """A draft made from the live state publishes as itself; a draft with no changes publishes
    the live state as it is now (changes made live since are kept, not reverted)."""
    draft = other if all(f["study"] in {s["ref"] for s in other["studies"]}
                         for f in other["findings"]) else live
    assert _canon(drafts.merge(live, live, draft)) == _canon(draft)
    assert _canon(drafts.merge(live, draft, draft)) == _canon(live)


def test_only_editors_read_a_draft_and_the_document_says_so(client, outsider, editor):
    drafts.put_fields(Intervention.objects.get(slug=FGC), {"summary": "Pending."}, user=editor)
    url = f"/api/interventions/{FGC}/draft"
    assert client.get(url).status_code in (401, 403)
    assert _api(client, outsider, "get", url).status_code == 403
    assert _api(client, editor, "get", url).json()["summary"] == "changed summary"
    paths = client.get("/api/openapi.json").json()["paths"]
    draft = paths["/api/interventions/{slug}/draft"]["get"]
    assert "403" in draft["responses"] and {} not in draft["security"]
    assert "409" in paths["/api/interventions/{slug}/publish"]["post"]["responses"]
