"""One-time form tokens expire (WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS after the form was opened) and the
records of used tokens older than that are pruned: by `whatworks manage prune_form_tokens` and, now
and then, after a saved form. A form resubmitted after its record was pruned still saves nothing."""

import io
from datetime import timedelta

import pytest
from django.core import signing
from django.core.management import call_command
from django.utils import timezone

from whatworks.web.store import once
from whatworks.web.store.models import FormSubmission, Intervention

pytestmark = pytest.mark.django_db

HOURS = 168


def _record(age_hours: float) -> FormSubmission:
    row = FormSubmission.objects.create(token=once.issue()[:40], url="/x/")
    FormSubmission.objects.filter(pk=row.pk).update(
        created=timezone.now() - timedelta(hours=age_hours))
    return row


def _later(monkeypatch, hours: float) -> None:
    """Move the clock Django's signing module reads forward by ``hours`` (its own reference to
    the time module is replaced; the process's clock is untouched)."""
    import time
    from types import SimpleNamespace

    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: time.time() + hours * 3600))


def test_the_default_max_age_is_a_week(settings):
    assert settings.WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS == HOURS
    assert once.max_age() == timedelta(hours=HOURS)


def test_prune_deletes_only_records_older_than_the_max_age():
    old, older, recent = _record(HOURS + 1), _record(10 * HOURS), _record(HOURS - 1)
    assert once.prune() == 2
    assert list(FormSubmission.objects.values_list("pk", flat=True)) == [recent.pk]
    assert once.prune() == 0 and old.pk != older.pk


def test_the_max_age_setting_decides_what_is_pruned(settings):
    settings.WHATWORKS_FORM_TOKEN_MAX_AGE_HOURS = 2
    _record(3), _record(1)
    assert once.prune() == 1 and FormSubmission.objects.count() == 1


def test_the_management_command_prunes_and_says_how_many():
    _record(HOURS + 5), _record(0)
    out = io.StringIO()
    call_command("prune_form_tokens", stdout=out)
    assert out.getvalue().strip() == f"deleted 1 form token record older than {HOURS} hours"
    assert FormSubmission.objects.count() == 1


def _new_intervention(client, token, name="Pruned"):
    return client.post("/editor/interventions/new/",
                       {"name": name, "slug": name.lower(), "summary": "s", "form_token": token})


def test_an_expired_form_is_refused_with_a_message_and_saves_nothing(client, editor, monkeypatch):
    client.force_login(editor)
    token = once.issue()
    _later(monkeypatch, HOURS + 1)
    r = _new_intervention(client, token)
    assert r.status_code == 400
    assert f"opened more than {HOURS} hours ago and has expired" in r.content.decode()
    assert not Intervention.objects.filter(slug="pruned").exists()


def test_a_form_resubmitted_after_its_record_was_pruned_still_saves_nothing_twice(
        client, editor, monkeypatch):
    from whatworks.web.store.models import Finding

    Intervention.objects.filter(slug="family-group-conferences").update(status="draft")
    client.force_login(editor)
    n = Finding.objects.count()
    data = {"study": "fgc-study-b", "outcome": "entry-to-care", "measure": "RR",
            "timepoint_months": "24", "ai": "70", "n1i": "200", "ci": "80", "n2i": "200",
            "form_token": once.issue()}
    url = "/editor/interventions/family-group-conferences/findings/new/"
    assert client.post(url, data).status_code == 302 and Finding.objects.count() == n + 1
    _later(monkeypatch, HOURS + 1)
    assert once.prune(now=timezone.now() + timedelta(hours=HOURS + 1)) == 1
    assert not FormSubmission.objects.exists()
    r = client.post(url, data)
    assert r.status_code == 400 and "has expired" in r.content.decode()
    assert Finding.objects.count() == n + 1


def test_saving_a_form_now_and_then_prunes_after_the_write_commits(
        client, editor, monkeypatch, django_capture_on_commit_callbacks):
    client.force_login(editor)
    stale = _record(HOURS + 1)
    monkeypatch.setattr(once, "PRUNE_EVERY", 10**9)  # practically never
    with django_capture_on_commit_callbacks(execute=True):
        assert _new_intervention(client, once.issue(), "Kept").status_code == 302
    assert FormSubmission.objects.filter(pk=stale.pk).exists()
    monkeypatch.setattr(once, "PRUNE_EVERY", 1)  # every time
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _new_intervention(client, once.issue()).status_code == 302
    assert once.prune in callbacks
    assert not FormSubmission.objects.filter(pk=stale.pk).exists()
    assert FormSubmission.objects.count() == 2  # the two forms just saved
