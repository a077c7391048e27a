"""Reading, through the API, a finding or study that only a pending draft has (added to a published
intervention, not yet published): editors get it as the draft has it (``"draft": true``, its
ETag), as they can already change and remove it; readers, signed-in non-editors included, get 404
(unpublished content is never public). Reads of live items show the published state to everyone."""

import pytest

from tests.web.api_client import api_call as _api
from whatworks.web.store import drafts
from whatworks.web.store.models import Finding, Intervention, Study

pytestmark = pytest.mark.django_db

FGC = "family-group-conferences"


def _draft_finding(client, editor, study="fgc-study-b"):
    r = _api(client, editor, "post", "/api/findings", {
        "study": study, "outcome": "entry-to-care", "measure": "RR", "timepoint_months": 24,
        "reported": {"ai": 70, "n1i": 200, "ci": 80, "n2i": 200}, "notes": "only in the draft"})
    assert r.status_code == 201 and r.json()["draft"] is True and r.json()["id"] < 0, r.content
    return r


def test_an_editor_reads_a_finding_that_only_the_draft_has(client, editor):
    created = _draft_finding(client, editor)
    new_id = created.json()["id"]
    r = _api(client, editor, "get", f"/api/findings/{new_id}")
    assert r.status_code == 200, r.content
    body = r.json()
    written = created.json()
    assert written.pop("warnings") == []  # a write's answer adds its warnings (none here)
    assert body == written  # what the write answered: the draft's finding
    assert body["draft"] is True and body["notes"] == "only in the draft"
    assert body["study"] == "fgc-study-b" and body["intervention"] == FGC
    assert r["ETag"] == created["ETag"]
    ok = _api(client, editor, "patch", f"/api/findings/{new_id}", {"notes": "checked"},
              **{"If-Match": r["ETag"]})
    assert ok.status_code == 200
    assert _api(client, editor, "get", f"/api/findings/{new_id}").json()["notes"] == "checked"


def test_a_draft_finding_is_404_to_readers_and_to_signed_in_non_editors(client, editor, outsider):
    new_id = _draft_finding(client, editor).json()["id"]
    client.logout()
    assert client.get(f"/api/findings/{new_id}").status_code == 404
    assert client.get(f"/api/findings/{new_id}").status_code == 404  # not a cached 200 either
    r = _api(client, outsider, "get", f"/api/findings/{new_id}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_finding_of_a_study_the_draft_adds_is_read_with_its_study(client, editor):
    r = _api(client, editor, "post", "/api/studies", {
        "key": "fgc-new-2025", "citation": "New study. 2025.", "year": 2025, "design": "rct",
        "sample_size": 900, "risk_of_bias": "low", "intervention": FGC})
    assert r.status_code == 201 and r.json()["draft"] is True
    new_id = _draft_finding(client, editor, study="fgc-new-2025").json()["id"]
    assert _api(client, editor, "get", f"/api/findings/{new_id}").json()["study"] == "fgc-new-2025"
    study = _api(client, editor, "get", "/api/studies/fgc-new-2025")
    assert study.status_code == 200 and study.json()["draft"] is True and study["ETag"]
    assert study.json()["citation"] == "New study. 2025."
    client.logout()
    assert client.get("/api/studies/fgc-new-2025").status_code == 404


def test_gone_or_unknown_draft_ids_are_404_with_a_message(client, editor):
    new_id = _draft_finding(client, editor).json()["id"]
    assert _api(client, editor, "delete", f"/api/findings/{new_id}").status_code == 200
    r = _api(client, editor, "get", f"/api/findings/{new_id}")
    assert r.status_code == 404 and "pending draft" in r.json()["error"]["message"]
    for ref in (new_id - 1, -999_999_999_999, -1):
        assert _api(client, editor, "get", f"/api/findings/{ref}").status_code == 404, ref
    drafts.discard(Intervention.objects.get(slug=FGC), user=editor)
    assert _api(client, editor, "get", f"/api/findings/{new_id}").status_code == 404


def test_reads_of_live_findings_show_the_published_state_to_editors_too(client, editor):
    live = Finding.objects.filter(intervention__slug=FGC).order_by("pk").first()
    assert _api(client, editor, "patch", f"/api/findings/{live.pk}",
                {"notes": "draft note"}).json()["draft"] is True
    r = _api(client, editor, "get", f"/api/findings/{live.pk}")
    assert r.status_code == 200 and r.json()["draft"] is False
    assert r.json()["notes"] == live.notes  # the published finding; the draft's at .../draft
    assert not Study.objects.filter(key="fgc-new-2025").exists()


def test_the_api_document_says_how_drafts_are_read(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/findings/{id}/", "/api/studies/{key}/"):
        assert "only a pending draft" in paths[path]["get"]["description"], path
