"""The duplicate-publication guard: the store already holds the demo trial as a curated study
(``swis-2023`` in the test store, ``swis-westlake2023`` in the shipped demo). Publishing the trial record
must not add a second copy: it is refused with an offer to update the existing study, updating links
the trial to that study, and publishing the same record again changes nothing."""

import math

import pytest
from django.test import Client

from whatworks.trials.publish import DuplicateStudyError
from whatworks.web.store.models import Finding, Rating, RatingChange, Study, Synthesis

pytestmark = pytest.mark.django_db
URL = "/trials/swis-trial/publish/"
SWIS = "social-workers-in-schools"


@pytest.fixture
def trial(db):
    from whatworks.web.trials.demo import load_trials_demo
    from whatworks.web.trials.models import Trial

    load_trials_demo()
    return Trial.objects.get(slug="swis-trial")


def _login(user):
    c = Client()
    c.force_login(user)
    return c


def _snapshot():
    """Everything publishing could touch, as plain values."""
    return (
        list(Study.objects.order_by("pk").values()),
        list(Finding.objects.order_by("pk").values()),
        list(Synthesis.objects.order_by("pk").values()),
        list(Rating.objects.order_by("pk").values()),
        list(RatingChange.objects.order_by("pk").values()),
    )


def test_it_refuses_to_publish_a_second_copy_and_offers_to_update_the_existing_study(trial, admin, editor):
    from whatworks.web.trials.publish import publish

    before = _snapshot()
    with pytest.raises(DuplicateStudyError) as e:
        publish(trial, user=admin)
    text = str(e.value)
    assert "already holds this trial as study 'swis-2023'" in text
    assert "update the existing study" in text and '"study": "swis-2023"' in text
    assert "section-47-enquiries has the same effect" in text
    assert _snapshot() == before
    r = _login(admin).post(URL, {"intervention": SWIS}, follow=True)
    assert "Not published" in r.content.decode() and "swis-2023" in r.content.decode()
    assert _snapshot() == before
    # editors see it on the trial page before anyone publishes
    page = _login(editor).get("/trials/swis-trial/").content.decode()
    assert "Cannot be published yet" in page and "already holds this trial as study" in page


def test_updating_the_existing_study_links_the_trial_without_a_second_copy(trial, admin):
    from whatworks.web.trials.publish import publish

    studies = Study.objects.count()
    done = publish(trial, user=admin, update="swis-2023")
    assert (done.created, done.saved, done.removed, done.existing.rule) == (False, 1, 0, "named")
    assert Study.objects.count() == studies and not Study.objects.filter(key="trial-swis-trial").exists()
    study = Study.objects.get(key="swis-2023")
    assert study.citation == "Westlake et al. 2023. SWIS trial." and study.year == 2023  # kept
    assert (study.source, study.sample_size) == ("trial", 267000)  # from the trial record
    (f,) = study.findings.all()  # the curated finding, now the trial's result
    assert f.yi == pytest.approx(math.log(1.055)) and f.vi == pytest.approx(0.0025934, abs=1e-7)
    assert f.notes.startswith("Published from trial swis-trial,") and "SHA-256" in f.notes
    assert f.timepoint_months == 24
    synthesis = Synthesis.objects.get(intervention__slug=SWIS, outcome__slug="section-47-enquiries")
    assert synthesis.k == 1  # still one study: the evidence is counted once
    rating = Rating.objects.get(intervention__slug=SWIS, outcome__slug="section-47-enquiries")
    assert "swis-2023" in str(rating.inputs)


def test_publishing_the_same_trial_twice_changes_nothing_the_second_time(trial, admin):
    from whatworks.web.trials.publish import publish

    publish(trial, user=admin, update="swis-2023")
    after_first = _snapshot()
    again = publish(trial, user=admin)  # found again by its findings' provenance
    assert again.existing.rule == "published before" and again.existing.key == "swis-2023"
    assert (again.changed, again.saved, again.removed) == (False, 0, 0)
    assert _snapshot() == after_first


def test_publishing_under_its_own_key_twice_changes_nothing_the_second_time(trial, admin):
    from whatworks.web.trials.publish import publish

    trial.record["evidence_store"]["not_same_as"] = ["swis-2023"]  # the publisher says: another study
    trial.save()
    first = publish(trial, user=admin, intervention="family-group-conferences")
    assert first.created and first.study.key == "trial-swis-trial"
    after_first = _snapshot()
    again = publish(trial, user=admin, intervention="family-group-conferences")
    assert again.existing.rule == "own key" and not again.changed
    assert _snapshot() == after_first


def test_the_record_can_name_the_existing_study_to_update(trial, admin):
    trial.record["evidence_store"]["study"] = "swis-2023"
    trial.save()
    r = _login(admin).post(URL, {"intervention": SWIS})
    assert r.status_code == 302
    assert Finding.objects.get(study__key="swis-2023").notes.startswith("Published from trial swis-trial,")
    assert not Study.objects.filter(key="trial-swis-trial").exists()


def test_naming_a_study_that_does_not_exist_is_refused(trial, admin):
    from whatworks.web.trials.publish import publish

    before = _snapshot()
    with pytest.raises(Exception, match="no Evidence Store study 'no-such-study'"):
        publish(trial, user=admin, update="no-such-study")
    assert _snapshot() == before


def test_the_shipped_demo_store_and_trial_record_are_caught_too(db, admin):
    """The bug as reported: the shipped demo store holds the curated SWIS trial
    (``swis-westlake2023``), and the shipped trial record is the same trial."""
    from whatworks.web.store.demo import demo_content, load_demo
    from whatworks.web.trials.demo import load_trials_demo
    from whatworks.web.trials.models import Trial
    from whatworks.web.trials.publish import publish

    content = demo_content()
    content = {**content, "interventions": [i for i in content["interventions"] if i["slug"] == SWIS]}
    Study.objects.filter(key="swis-2023").delete()
    load_demo(content)
    load_trials_demo()
    t = Trial.objects.get(slug="swis-trial")
    with pytest.raises(DuplicateStudyError, match="'swis-westlake2023'"):
        publish(t, user=admin)
    k = Synthesis.objects.get(intervention__slug=SWIS, outcome__slug="section-47-enquiries").k
    publish(t, user=admin, update="swis-westlake2023")
    assert Synthesis.objects.get(intervention__slug=SWIS, outcome__slug="section-47-enquiries").k == k
    assert not publish(t, user=admin).changed


def test_the_command_line_publishes_refuses_the_copy_and_updates_when_told(db, tmp_path):
    import json as _json
    from pathlib import Path

    from django.core.management import CommandError, call_command

    shipped = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme"
    record = _json.loads((shipped / "swis-trial.json").read_text(encoding="utf-8"))
    (tmp_path / "swis-sap.md").write_bytes((shipped / "swis-sap.md").read_bytes())
    path = tmp_path / "swis-trial.json"
    path.write_text(_json.dumps(record))
    before = _snapshot()
    with pytest.raises(CommandError, match=r"not published: .*'swis-2023'.*Here: --update swis-2023\."):
        call_command("publish_trial", str(path))
    assert _snapshot() == before  # nothing in the store changed
    out = []
    call_command("publish_trial", str(path), update="swis-2023", stdout=_Writer(out))
    assert "updated the existing study" in out[-1] and "study swis-2023" in out[-1]
    assert Study.objects.filter(key="trial-swis-trial").count() == 0
    call_command("publish_trial", str(path), stdout=_Writer(out))
    assert "nothing changed" in out[-1]


class _Writer:
    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.append(text)

    def flush(self):
        pass
