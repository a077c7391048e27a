"""Optimistic concurrency on the API's writes: editors read an item's ETag; a write that sends it
back in If-Match is refused with 412 (nothing saved, the current ETag given) when the item changed
since; without If-Match a write behaves as before (the last write wins)."""

import json

import pytest

from tests.web.api_client import api_call as _api
from whatworks.web.store import drafts
from whatworks.web.store.models import Finding, Intervention, Study

pytestmark = pytest.mark.django_db

FGC = "family-group-conferences"


def _finding():
    return Finding.objects.get(study__key="fgc-study-b", outcome__slug="entry-to-care")


def _snapshot():
    return drafts.current(Intervention.objects.get(slug=FGC))[0]


def test_editors_read_an_etag_and_readers_do_not(client, editor):
    f = _finding()
    r = _api(client, editor, "get", f"/api/findings/{f.pk}")
    assert r.status_code == 200 and r["ETag"].startswith('"') and len(r["ETag"]) == 18
    for path in (f"/api/interventions/{FGC}", f"/api/studies/{f.study.key}"):
        assert _api(client, editor, "get", path)["ETag"]
    client.logout()
    assert "ETag" not in client.get(f"/api/findings/{f.pk}")


def test_a_write_with_a_stale_etag_is_refused_with_412_and_saves_nothing(client, editor, admin):
    f = _finding()
    tag = _api(client, editor, "get", f"/api/findings/{f.pk}")["ETag"]
    first = _api(client, editor, "patch", f"/api/findings/{f.pk}", {"notes": "editor's"},
                 **{"If-Match": tag})
    assert first.status_code == 200 and first.json()["draft"] is True
    assert first["ETag"] != tag
    second = _api(client, admin, "patch", f"/api/findings/{f.pk}", {"notes": "admin's"},
                  **{"If-Match": tag})
    assert second.status_code == 412
    error = second.json()["error"]
    assert error["status"] == 412 and error["code"] == "precondition_failed"
    assert "changed since you read it" in error["message"] and "nothing was saved" in error["message"]
    assert second["ETag"] == first["ETag"] and first["ETag"] in error["message"]
    assert drafts.find(_snapshot()["findings"], f.pk)["notes"] == "editor's"
    third = _api(client, admin, "patch", f"/api/findings/{f.pk}", {"notes": "admin's"},
                 **{"If-Match": second["ETag"]})
    assert third.status_code == 200 and third.json()["notes"] == "admin's"


def test_without_if_match_the_last_write_wins_as_before(client, editor, admin):
    f = _finding()
    assert _api(client, editor, "patch", f"/api/findings/{f.pk}", {"notes": "one"}).status_code == 200
    assert _api(client, admin, "patch", f"/api/findings/{f.pk}", {"notes": "two"}).status_code == 200
    assert drafts.find(_snapshot()["findings"], f.pk)["notes"] == "two"
    r = _api(client, admin, "patch", f"/api/findings/{f.pk}", {"notes": "three"},
             **{"If-Match": "*"})
    assert r.status_code == 200


def test_another_change_to_the_same_draft_leaves_an_items_etag_valid(client, editor, admin):
    f = _finding()
    tag = _api(client, editor, "get", f"/api/findings/{f.pk}")["ETag"]
    other = Finding.objects.get(study__key="fgc-study-c")
    assert _api(client, admin, "patch", f"/api/findings/{other.pk}", {"notes": "x"}).status_code == 200
    r = _api(client, editor, "patch", f"/api/findings/{f.pk}", {"notes": "mine"},
             **{"If-Match": tag})
    assert r.status_code == 200, r.content


def test_the_interventions_fields_are_guarded_too(client, editor, admin):
    tag = _api(client, editor, "get", f"/api/interventions/{FGC}")["ETag"]
    ok = _api(client, editor, "patch", f"/api/interventions/{FGC}", {"summary": "First."},
              **{"If-Match": tag})
    assert ok.status_code == 200 and ok["ETag"] != tag
    late = _api(client, admin, "patch", f"/api/interventions/{FGC}", {"summary": "Second."},
                **{"If-Match": tag})
    assert late.status_code == 412 and "intervention changed" in late.json()["error"]["message"]
    assert _snapshot()["fields"]["summary"] == "First."


def test_a_study_is_guarded_too(client, editor, admin):
    tag = _api(client, editor, "get", "/api/studies/fgc-study-b")["ETag"]
    assert _api(client, admin, "patch", "/api/studies/fgc-study-b", {"year": 2016},
                **{"If-Match": tag}).status_code == 200
    r = _api(client, editor, "patch", "/api/studies/fgc-study-b", {"year": 2017},
             **{"If-Match": tag})
    assert r.status_code == 412 and "study changed" in r.json()["error"]["message"]
    assert next(s for s in _snapshot()["studies"] if s["key"] == "fgc-study-b")["year"] == 2016


def test_removing_a_finding_honours_if_match(client, editor, admin):
    f = _finding()
    tag = _api(client, editor, "get", f"/api/findings/{f.pk}")["ETag"]
    assert _api(client, admin, "patch", f"/api/findings/{f.pk}", {"notes": "x"}).status_code == 200
    r = _api(client, editor, "delete", f"/api/findings/{f.pk}", **{"If-Match": tag})
    assert r.status_code == 412 and drafts.find(_snapshot()["findings"], f.pk) is not None
    r = _api(client, editor, "delete", f"/api/findings/{f.pk}", **{"If-Match": r["ETag"]})
    assert r.status_code == 200 and drafts.find(_snapshot()["findings"], f.pk) is None


def test_a_finding_the_draft_adds_gets_its_etag_from_the_write(client, editor):
    r = _api(client, editor, "post", "/api/findings", {
        "study": "fgc-study-b", "outcome": "entry-to-care", "measure": "RR", "timepoint_months": 24,
        "reported": {"ai": 70, "n1i": 200, "ci": 80, "n2i": 200}})
    assert r.status_code == 201 and r.json()["id"] < 0
    new_id, tag = r.json()["id"], r["ETag"]
    ok = _api(client, editor, "patch", f"/api/findings/{new_id}", {"notes": "a"}, **{"If-Match": tag})
    assert ok.status_code == 200
    stale = _api(client, editor, "patch", f"/api/findings/{new_id}", {"notes": "b"},
                 **{"If-Match": tag})
    assert stale.status_code == 412


def test_an_intervention_edited_directly_is_guarded_under_its_lock(client, editor, admin):
    Intervention.objects.filter(slug=FGC).update(status=Intervention.DRAFT)
    f = _finding()
    tag = _api(client, editor, "get", f"/api/findings/{f.pk}")["ETag"]
    assert _api(client, admin, "patch", f"/api/findings/{f.pk}", {"notes": "admin's"},
                **{"If-Match": tag}).status_code == 200
    assert Finding.objects.get(pk=f.pk).notes == "admin's"  # edited directly, no draft
    r = _api(client, editor, "patch", f"/api/findings/{f.pk}", {"notes": "editor's"},
             **{"If-Match": tag})
    assert r.status_code == 412 and Finding.objects.get(pk=f.pk).notes == "admin's"
    gone = _api(client, editor, "delete", f"/api/findings/{f.pk}", **{"If-Match": tag})
    assert gone.status_code == 412 and Finding.objects.filter(pk=f.pk).exists()
    study = _api(client, editor, "get", "/api/studies/fgc-study-c")["ETag"]
    assert _api(client, admin, "patch", "/api/studies/fgc-study-c", {"year": 2019},
                **{"If-Match": study}).status_code == 200
    r = _api(client, editor, "patch", "/api/studies/fgc-study-c", {"year": 2020},
             **{"If-Match": study})
    assert r.status_code == 412 and Study.objects.get(key="fgc-study-c").year == 2019


def test_an_if_match_that_is_not_one_of_our_tags_is_a_400_naming_the_header(client, editor):
    f = _finding()
    for bad in ('W/"0123456789abcdef"', "0123456789abcdef", '"a", "b"'):
        r = _api(client, editor, "patch", f"/api/findings/{f.pk}", {"notes": "x"},
                 **{"If-Match": bad})
        assert r.status_code == 400 and "If-Match" in r.json()["error"]["fields"]
    assert drafts.pending(Intervention.objects.get(slug=FGC)) is None  # nothing written


def test_the_openapi_document_describes_if_match_etag_and_412(client):
    paths = json.loads(client.get("/api/openapi.json").content)["paths"]
    for path in ("/api/findings/{id}/", "/api/studies/{key}/", "/api/interventions/{slug}/"):
        op = paths[path]["patch"]
        assert any(p["name"] == "If-Match" and p["in"] == "header" for p in op["parameters"])
        assert "412" in op["responses"] and "ETag" in op["responses"]["200"].get("headers", {})
        assert "ETag" in paths[path]["get"]["responses"]["200"].get("headers", {})
    assert "412" in paths["/api/findings/{id}/"]["delete"]["responses"]
    assert "412" not in paths["/api/findings/"]["post"]["responses"]
