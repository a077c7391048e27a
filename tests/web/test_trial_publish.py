"""Publishing a trial's results into the Evidence Store: administrators only, through the store's write
services, idempotent, with the synthesis and rating recomputed and the study linked back to the trial."""

import math

import pytest
from django.test import Client

from whatworks.web.store.models import Finding, Intervention, Rating, RatingChange, Study, Synthesis

pytestmark = pytest.mark.django_db
URL = "/trials/swis-trial/publish/"
BUTTON = "Publish results to the Evidence Store"


@pytest.fixture
def demo(db):
    """The demo trial, in a store without the curated copy of that trial (``swis-2023``), so that
    publishing adds the trial's own study; tests/web/test_trial_publish_duplicates.py publishes with
    the copy present."""
    from whatworks.web.store import changes
    from whatworks.web.trials.demo import load_trials_demo

    changes.delete_study(Study.objects.get(key="swis-2023"), reason="test: no curated copy")
    load_trials_demo()


def _login(user):
    c = Client()
    c.force_login(user)
    return c


def test_anonymous_readers_are_sent_to_sign_in_and_outsiders_refused(client, demo, outsider):
    r = client.post(URL)
    assert r.status_code == 302 and "/accounts/sign-in/" in r["Location"]
    assert _login(outsider).post(URL).status_code == 403
    assert client.get(URL).status_code == 405  # POST only
    assert not Study.objects.filter(key="trial-swis-trial").exists()
    assert BUTTON not in client.get("/trials/swis-trial/").content.decode()


def test_an_editor_sees_what_would_be_published_but_cannot_publish(demo, editor):
    c = _login(editor)
    html = c.get("/trials/swis-trial/").content.decode()
    assert "Publishing would add the study <code>trial-swis-trial</code>" in html
    assert "section-47-enquiries" in html and "IRR yi = 0.0535" in html
    assert BUTTON not in html and "Only an administrator can publish" in html
    assert c.post(URL).status_code == 403
    assert not Study.objects.filter(key="trial-swis-trial").exists()


def test_an_admin_publishes_and_the_synthesis_rating_and_history_update(demo, admin):
    swis = Intervention.objects.get(slug="social-workers-in-schools")
    assert not Synthesis.objects.filter(intervention=swis, outcome__slug="section-47-enquiries").exists()
    history = RatingChange.objects.filter(intervention=swis).count()
    c = _login(admin)
    page = c.get("/trials/swis-trial/").content.decode()
    assert BUTTON in page and 'name="csrfmiddlewaretoken"' in page
    r = c.post(URL, {"intervention": "social-workers-in-schools"})
    assert r.status_code == 302 and r["Location"] == "/interventions/social-workers-in-schools/"
    study = Study.objects.get(key="trial-swis-trial")
    assert (study.source, study.design, study.sample_size, study.intervention_id) == (
        "trial", "cluster-rct", 267000, swis.pk)
    (f,) = study.findings.all()
    assert f.measure == "IRR" and f.yi == pytest.approx(math.log(1.055))
    assert f.vi == pytest.approx(0.0025934, abs=1e-7) and f.timepoint_months == 24
    assert "swis-trial" in f.notes and "SHA-256" in f.notes
    after = Synthesis.objects.get(intervention=swis, outcome__slug="section-47-enquiries")
    assert after.k == 1  # the trial is the synthesis of this outcome
    rating = Rating.objects.get(intervention=swis, outcome__slug="section-47-enquiries")
    assert "trial-swis-trial" in str(rating.inputs)  # the rating's inputs name the trial's study
    assert rating.effectiveness_label == "No clear effect or mixed"
    # a new rating: the history gains its line, with the trial as the reason
    line = RatingChange.objects.filter(intervention=swis).order_by("-pk").first()
    assert RatingChange.objects.filter(intervention=swis).count() == history + 1
    assert line.reason.startswith("trial swis-trial published")
    html = c.get("/interventions/social-workers-in-schools/").content.decode()
    assert 'href="/trials/swis-trial/">the trial record</a>' in html
    assert "Published as a study of" in c.get("/trials/swis-trial/").content.decode()


def test_publishing_twice_updates_and_never_duplicates(demo, admin):
    from whatworks.web.trials.models import Trial

    c = _login(admin)
    c.post(URL, {"intervention": "social-workers-in-schools"})
    ids = (Study.objects.get(key="trial-swis-trial").pk,
           Finding.objects.get(study__key="trial-swis-trial").pk)
    t = Trial.objects.get(slug="swis-trial")
    t.record["results"][0]["ratio"]["ci_upper"] = 1.20  # a corrected interval
    t.save()
    r = c.post(URL, {"intervention": "social-workers-in-schools"})
    assert r.status_code == 302
    assert Study.objects.filter(key="trial-swis-trial").count() == 1
    (f,) = Finding.objects.filter(study__key="trial-swis-trial")
    assert (Study.objects.get(key="trial-swis-trial").pk, f.pk) == ids
    assert f.vi == pytest.approx(((math.log(1.20) - math.log(0.955)) / (2 * 1.959963984540054)) ** 2)
    swis = Intervention.objects.get(slug="social-workers-in-schools")
    assert Synthesis.objects.get(intervention=swis, outcome__slug="section-47-enquiries").k == 1


def test_a_record_that_cannot_be_published_says_why_and_saves_nothing(demo, admin):
    from whatworks.web.trials.models import Trial

    t = Trial.objects.get(slug="swis-trial")
    del t.record["evidence_store"]
    t.save()
    c = _login(admin)
    assert "evidence_store.outcomes" in c.get("/trials/swis-trial/").content.decode()
    r = c.post(URL, follow=True)
    assert "Not published" in r.content.decode() and "evidence_store.outcomes" in r.content.decode()
    r = c.post("/trials/swis-trial/publish/", {"intervention": "no-such-intervention"}, follow=True)
    assert "Not published" in r.content.decode()
    assert not Study.objects.filter(key="trial-swis-trial").exists()


def test_an_unknown_intervention_is_refused_without_a_partial_write(demo, admin):
    r = _login(admin).post(URL, {"intervention": "no-such-intervention"}, follow=True)
    assert "no Evidence Store intervention &#x27;no-such-intervention&#x27;" in r.content.decode()
    assert not Study.objects.filter(key="trial-swis-trial").exists()


def test_the_service_refuses_an_editor_whatever_the_route(demo, editor):
    from django.core.exceptions import PermissionDenied

    from whatworks.web.trials.models import Trial
    from whatworks.web.trials.publish import publish

    with pytest.raises(PermissionDenied):
        publish(Trial.objects.get(slug="swis-trial"), user=editor)


def test_the_rating_history_shows_the_change_with_the_trial_as_its_reason(demo, admin):
    """Published under an intervention with no evidence on the outcome, then moved: each side's
    rating history records the trial, and the study is never duplicated."""
    c = _login(admin)
    c.post(URL, {"intervention": "family-group-conferences"})
    rounds = Intervention.objects.get(slug="family-group-conferences")
    line = RatingChange.objects.get(intervention=rounds, outcome__slug="section-47-enquiries")
    assert line.old_effectiveness == "" and line.new_effectiveness == "No clear effect or mixed"
    assert line.reason.startswith("trial swis-trial published (record SHA-256 ")
    html = c.get("/interventions/family-group-conferences/").content.decode()
    assert "trial swis-trial published" in html and 'href="/trials/swis-trial/"' in html
    c.post(URL, {"intervention": "social-workers-in-schools"})  # moved to the right intervention
    assert Study.objects.get(key="trial-swis-trial").intervention.slug == "social-workers-in-schools"
    assert not Rating.objects.filter(intervention=rounds, outcome__slug="section-47-enquiries").exists()
    assert RatingChange.objects.filter(intervention=rounds, new_effectiveness="no evidence").exists()


def test_publishing_to_an_evidence_gap_is_refused_naming_the_field_and_the_fix(demo, admin):
    """Schwartz Rounds is published as an evidence gap: a trial's findings written to it would be
    live at once, under "no study with outcomes yet". Refused, nothing written."""
    from html import unescape

    c = _login(admin)
    r = c.post(URL, {"intervention": "schwartz-rounds"}, follow=True)
    html = unescape(r.content.decode())
    assert "Not published: Schwartz Rounds: it is marked as an evidence gap" in html, html[-2000:]
    assert "untick 'evidence gap'" in html and "nothing was saved" in html
    rounds = Intervention.objects.get(slug="schwartz-rounds")
    assert rounds.evidence_gap and not rounds.findings.exists()
    assert not Study.objects.filter(key="trial-swis-trial").exists()  # the whole publication


def test_without_a_declared_intervention_the_projects_is_used(demo, admin):
    from whatworks.web.trials.models import Trial

    t = Trial.objects.get(slug="swis-trial")
    del t.record["evidence_store"]["intervention"]
    t.save()
    r = _login(admin).post(URL, {"intervention": ""})  # the project's: social-workers-in-schools
    assert r.status_code == 302 and r["Location"] == "/interventions/social-workers-in-schools/"
    t.record["evidence_store"] = ["not", "an", "object"]
    t.save()
    html = _login(admin).get("/trials/swis-trial/").content.decode()
    assert "Cannot be published yet" in html and "evidence_store" in html


def test_a_result_no_longer_published_loses_its_finding_and_others_are_kept(demo, admin):
    from whatworks.web.trials.models import Trial

    t = Trial.objects.get(slug="swis-trial")
    t.record["results"].append({"outcome": "entered care", "family": "binomial",
                                "ratio": {"estimate": 0.9, "ci_lower": 0.7, "ci_upper": 1.15}})
    t.record["evidence_store"]["outcomes"]["entered care"] = "entry-to-care"
    t.save()
    c = _login(admin)
    c.post(URL, {"intervention": "social-workers-in-schools"})
    assert sorted(Finding.objects.filter(study__key="trial-swis-trial").values_list("measure", flat=True)) \
        == ["IRR", "OR"]
    t.record["evidence_store"]["outcomes"]["entered care"] = None  # left out on purpose now
    t.save()
    r = c.post(URL, {"intervention": "social-workers-in-schools"}, follow=True)
    assert "1 finding(s), 1 removed" in r.content.decode()
    assert list(Finding.objects.filter(study__key="trial-swis-trial").values_list("measure", flat=True)) \
        == ["IRR"]
    swis = Intervention.objects.get(slug="social-workers-in-schools")
    # the trial was the only evidence on entry to care: its rating goes, the history says so
    assert not Rating.objects.filter(intervention=swis, outcome__slug="entry-to-care").exists()
    assert RatingChange.objects.filter(intervention=swis, outcome__slug="entry-to-care",
                                       new_effectiveness="no evidence").exists()
