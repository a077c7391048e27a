"""Issue 7, defects 3 and 4: imports are limited, validated whole before anything is written, and
every malformed input is answered on the import page naming file, table, row and column."""

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from whatworks.web.store.models import Finding, ImportJob, Intervention

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unpublished():
    """These tests are about validating and running imports, so the interventions are not
    published (an editor's import then writes them directly; for published ones it goes to their
    drafts or is refused: test_an_editors_findings_import_into_a_published_intervention_...)."""
    Intervention.objects.update(status="draft")

GOOD_ROW = "fgc-trial-2023,entry-to-care,RR,6,100,700,120,700\n"
HEADER = "study,outcome,measure,timepoint_months,ai,n1i,ci,n2i\n"


def _post(client, kind, name, content):
    if isinstance(content, str):
        content = content.encode()
    return client.post("/editor/import/", {"kind": kind, f"{kind}-file": SimpleUploadedFile(
        name, content)})


def _store(client, data, name="store.json"):
    return _post(client, "store", name, json.dumps(data) if not isinstance(data, bytes) else data)


def _zip(tables: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in tables.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _error(r) -> str:
    """The error messages shown on the import page."""
    import html as h
    import re

    assert r.status_code == 400, r.status_code
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', r.content.decode(), re.S)
    assert alert, "no error message on the page"
    text = h.unescape(alert.group(1))
    assert "nothing was imported" in text
    return text


@pytest.mark.parametrize("data, expected", [
    ({"format": "whatworks-store", "domains": 5}, "store.json:domains: must be a list of rows"),
    ({"format": "whatworks-store", "findings": [["fgc-trial-2023"]]},
     "store.json:findings, row 1: must be an object"),
    ({"format": "whatworks-store", "findings": [{"id": "abc", "study": "fgc-trial-2023"}]},
     "store.json:findings, row 1, column 'id'"),
    ({"format": "whatworks-store", "findings": [
        {"study": "fgc-trial-2023", "outcome": "entry-to-care", "measure": "RR",
         "timepoint_months": "abc", "reported": {"ai": 1, "n1i": 10, "ci": 2, "n2i": 10}}]},
     "store.json:findings, row 1, column 'timepoint_months'"),
    ({"format": "whatworks-store", "findings": [
        {"study": "fgc-trial-2023", "outcome": "entry-to-care", "measure": "RR", "notes": "a\u0000b",
         "reported": {"ai": 1, "n1i": 10, "ci": 2, "n2i": 10}}]},
     "store.json:findings, row 1, column 'notes': contains a NUL byte"),
    ({"format": "whatworks-store", "interventions": [
        {"slug": "schwartz-rounds", "setting": "school"}]},
     "store.json:interventions, row 1, column 'setting': must be a list of strings"),
    ({"format": "whatworks-store", "interventions": [{"slug": "new-one", "name": "New"}]},
     "store.json:interventions, row 1, column 'summary': a new intervention needs its summary"),
    ({"format": "whatworks-store", "studies": [
        {"key": "fgc-study-b", "intervention": "no-such-intervention"}]},
     "store.json:studies, row 1, column 'intervention': refers to unknown intervention"),
    ({"format": "whatworks-store", "interventions": [
        {"slug": "schwartz-rounds", "colour": "red"}]},
     "store.json:interventions, row 1, column 'colour': unexpected column"),
    ({"format": "whatworks-store"}, "holds no rows"),
    ({"format": "whatworks-store", "domainz": []}, "store.json, column 'domainz': unexpected key"),
    ([1, 2], "is not a store export"),
])
def test_malformed_store_files_are_answered_naming_table_row_and_column(editor_client, data,
                                                                          expected):
    before = (Finding.objects.count(), list(Intervention.objects.values_list("summary", flat=True)))
    assert expected in _error(_store(editor_client, data))
    assert before == (Finding.objects.count(),
                      list(Intervention.objects.values_list("summary", flat=True)))


@pytest.mark.parametrize("text, expected", [
    ("", "new.csv: The submitted file is empty"),
    ("   \n", "new.csv: is empty"),
    (HEADER, "new.csv: has a header but no rows"),
    ("study,outcome,measure,ai,ai,n1i,ci,n2i\n", "column 'ai': appears twice"),
    (HEADER + GOOD_ROW.strip() + ",99\n", "new.csv, row 1: has 9 cells but the header has 8"),
    (HEADER + "fgc-trial-2023,entry-to-care,RR,6,100,700\n", "new.csv, row 1, column 'ci': has 6"),
    (HEADER + GOOD_ROW + "fgc-trial-2023,entry-to-care,RR,-4,100,700,120,700\n",
     "new.csv, row 2, column 'timepoint_months'"),
    (HEADER + GOOD_ROW + "fgc-nope,entry-to-care,RR,4,100,700,120,700\n",
     "new.csv, row 2, column 'study': unknown study"),
    (HEADER + "fgc-trial-2023,entry-to-care,RR,6,1\x00,700,120,700\n", "NUL"),
])
def test_malformed_findings_csvs_are_refused(editor_client, text, expected):
    n = Finding.objects.count()
    assert expected in _error(_post(editor_client, "findings", "new.csv", text))
    assert Finding.objects.count() == n


def test_a_csv_zip_row_with_too_few_cells_names_table_row_and_column(client, editor_client):
    Intervention.objects.update(status="published")  # the export holds what readers see
    zipped = client.get("/export/store-csv.zip").content
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        tables = {n: zf.read(n).decode() for n in zf.namelist()}
    lines = tables["studies.csv"].splitlines()
    lines[1] = lines[1].rsplit(",", 2)[0]
    tables["studies.csv"] = "\n".join(lines) + "\n"
    html = _error(_store(editor_client, _zip(tables), "store-csv.zip"))
    assert "store-csv.zip:studies.csv, row 1, column 'illustrative': has 10 cells" in html


def test_a_csv_zip_with_duplicate_columns_is_refused(editor_client):
    html = _error(_store(editor_client, _zip({"domains.csv": "slug,name,name\na,b,c\n"}), "s.zip"))
    assert "s.zip:domains.csv, row 0, column 'name': appears twice" in html


def test_a_zip_without_store_tables_is_refused(editor_client):
    html = _error(_store(editor_client, _zip({"syntheses.csv": "k\n1\n"}), "s.zip"))
    assert "holds none of the store's tables" in html
    html = _error(_store(editor_client, _zip({"readme.txt": "hello"}), "s.zip"))
    assert "s.zip:readme.txt: unexpected file in the zip" in html


def test_an_empty_upload_gets_a_message(editor_client):
    html = _error(_post(editor_client, "store", "empty.json", b""))
    assert "empty.json" in html and "empty" in html


def test_the_upload_size_is_limited(editor_client, settings):
    settings.WHATWORKS_IMPORT_MAX_BYTES = 100
    html = _error(_post(editor_client, "findings", "big.csv", HEADER + GOOD_ROW * 10))
    assert "big.csv: is 553 bytes; imports are limited to 100" in html


def test_the_expanded_size_of_a_zip_is_limited(editor_client, settings):
    settings.WHATWORKS_IMPORT_MAX_EXPANDED_BYTES = 10_000
    bomb = _zip({"domains.csv": "slug,name\n" + "a" * 1_000_000 + ",b\n"})
    assert len(bomb) < 5_000
    html = _error(_store(editor_client, bomb, "bomb.zip"))
    assert "bomb.zip: expands to 1,000,013 bytes; imports are limited to 10,000" in html


def test_the_rows_are_limited(editor_client, settings):
    settings.WHATWORKS_IMPORT_MAX_ROWS = 5
    html = _error(_post(editor_client, "findings", "many.csv", HEADER + GOOD_ROW * 6))
    assert "many.csv: has more than 5 rows" in html


def test_the_whole_file_is_validated_before_anything_is_written(editor_client):
    text = HEADER + GOOD_ROW * 50 + "fgc-trial-2023,entry-to-care,RR,6,oops,700,120,700\n"
    with CaptureQueriesContext(connection) as queries:
        html = _error(_post(editor_client, "findings", "late.csv", text))
    assert "late.csv, row 51, column 'ai'" in html
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "SAVEPOINT"))]
    assert writes == []


def test_a_large_import_runs_as_a_job_with_progress(editor_client, settings):
    settings.WHATWORKS_IMPORT_BACKGROUND_ROWS = 3
    settings.WHATWORKS_IMPORT_JOBS_INLINE = True
    n = Finding.objects.count()
    r = _post(editor_client, "findings", "many.csv", HEADER + GOOD_ROW * 5)
    job = ImportJob.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/editor/import/{job.pk}/"
    assert job.state == "done" and job.counts == {"findings": 5} and job.percent == 100
    assert Finding.objects.count() == n + 5
    page = editor_client.get(r["Location"]).content.decode()
    assert "Done: imported 5 findings" in page


def test_a_failed_job_says_why_and_writes_nothing(editor_client, settings):
    settings.WHATWORKS_IMPORT_BACKGROUND_ROWS = 3
    settings.WHATWORKS_IMPORT_JOBS_INLINE = True
    n = Finding.objects.count()
    r = _post(editor_client, "findings", "bad.csv", HEADER + GOOD_ROW * 4 + "x,entry-to-care,RR\n")
    job = ImportJob.objects.get()
    assert job.state == "failed" and "bad.csv, row 5" in job.message
    assert "nothing was imported" in editor_client.get(r["Location"]).content.decode()
    assert Finding.objects.count() == n


def test_a_job_that_stopped_with_its_server_is_reported(editor_client, settings, editor):
    from datetime import timedelta

    from django.utils import timezone

    job = ImportJob.objects.create(kind="findings", filename="x.csv", user=editor, state="running")
    ImportJob.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(hours=1))
    page = editor_client.get(f"/editor/import/{job.pk}/").content.decode()
    assert "the import stopped" in page
    assert ImportJob.objects.get(pk=job.pk).state == "failed"


def _api_import(client, user, kind, name, content):
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return client.post("/api/imports", {"kind": kind, "file": SimpleUploadedFile(name, content)},
                       HTTP_AUTHORIZATION=f"Token {token.key}")


def test_the_api_imports_and_answers_errors_naming_row_and_column(client, editor):
    n = Finding.objects.count()
    r = _api_import(client, editor, "findings", "new.csv", (HEADER + GOOD_ROW).encode())
    assert r.status_code == 201, r.content
    assert r.json()["state"] == "done" and r.json()["counts"] == {"findings": 1}
    assert Finding.objects.count() == n + 1
    r = _api_import(client, editor, "store", "s.json", b'{"format":"whatworks-store","domains":5}')
    assert r.status_code == 400
    assert "s.json:domains: must be a list of rows" in r.json()["error"]["message"]


def test_a_large_api_import_is_a_job_to_follow(client, editor, settings):
    settings.WHATWORKS_IMPORT_BACKGROUND_ROWS = 2
    settings.WHATWORKS_IMPORT_JOBS_INLINE = True
    r = _api_import(client, editor, "findings", "new.csv", (HEADER + GOOD_ROW * 4).encode())
    assert r.status_code == 202, r.content
    from rest_framework.authtoken.models import Token

    job = client.get(f"/api/imports/{r.json()['id']}",
                     HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=editor).key}").json()
    assert job["state"] == "done" and job["percent"] == 100


def test_outsiders_cannot_import_through_the_api(client, outsider):
    r = _api_import(client, outsider, "findings", "new.csv", (HEADER + GOOD_ROW).encode())
    assert r.status_code == 403


def test_an_oversized_upload_is_refused_before_its_body_is_read(client, editor, editor_client,
                                                                 settings):
    from rest_framework.authtoken.models import Token

    settings.WHATWORKS_IMPORT_MAX_BYTES = 1000
    big = (HEADER + GOOD_ROW * 2000).encode()
    r = _post(editor_client, "findings", "big.csv", big)
    assert r.status_code == 413 and b"imports are limited to 1,000" in r.content
    token, _ = Token.objects.get_or_create(user=editor)
    r = client.post("/api/imports", {"kind": "findings", "file": SimpleUploadedFile("big.csv", big)},
                    HTTP_AUTHORIZATION=f"Token {token.key}")
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_an_editors_findings_import_into_a_published_intervention_goes_to_its_draft(editor_client):
    from whatworks.web.store.models import Draft

    Intervention.objects.filter(slug="family-group-conferences").update(status="published")
    n = Finding.objects.count()
    r = _post(editor_client, "findings", "new.csv", HEADER + GOOD_ROW)
    assert r.status_code == 302
    assert Finding.objects.count() == n
    draft = Draft.objects.get(intervention__slug="family-group-conferences")
    assert [f["timepoint_months"] for f in draft.snapshot["findings"]].count(6) == 1
    page = editor_client.get("/editor/").content.decode()
    assert "to the drafts of published interventions" in page


def test_an_editors_store_import_may_not_change_a_published_intervention(editor_client):
    Intervention.objects.filter(slug="family-group-conferences").update(status="published")
    html = _error(_store(editor_client, {"format": "whatworks-store", "studies": [
        {"key": "fgc-study-b", "citation": "Changed.", "design": "rct",
         "intervention": "family-group-conferences"}]}))
    assert "store.json:studies, row 1, column 'intervention'" in html
    assert "which is published" in html and "nothing was imported" in html


# -- an import's warnings: what the editor's forms and the API's writes warn of ----------------------

SR = "schwartz-rounds"  # an evidence gap with no study in the test store (conftest)
SR_ROW = "sr-2024,entry-to-care,RR,6,30,150,40,150\n"


def _gap_warning():
    from whatworks.ratings.publication import gap_conflict

    message = gap_conflict(evidence_gap=True, has_effect_finding=True, public=False).message
    return [{"code": "gap_conflict", "field": "evidence_gap", "intervention": SR,
             "message": message}], f"Schwartz Rounds: {message}."


@pytest.fixture
def sr_study():
    """A study of Schwartz Rounds, still marked as an evidence gap (no finding yet)."""
    from whatworks.web.store import changes
    from whatworks.web.store.models import Study

    return changes.save_study(Study(
        key="sr-2024", citation="Maben et al. 2024. Schwartz Rounds evaluation.", year=2024,
        design="rct", country="England", sample_size=300, risk_of_bias="low", source="manual",
        intervention=Intervention.objects.get(slug=SR)), user=None, reason="a study for the test")


def _warnings_shown(r) -> list[str]:
    """The warning messages on a page (Django messages, level warning)."""
    import html as h
    import re

    return [h.unescape(m) for m in re.findall(r'<p class="message warning">(.*?)</p>',
                                              r.content.decode(), re.S)]


@pytest.mark.parametrize("status", ["draft", "published"])
def test_a_findings_import_into_an_evidence_gap_warns_on_the_editor_page(editor_client, sr_study,
                                                                         status):
    from whatworks.web.store import drafts

    Intervention.objects.filter(slug=SR).update(status=status)
    r = editor_client.post("/editor/import/", {"kind": "findings", "findings-file":
                           SimpleUploadedFile("sr.csv", (HEADER + SR_ROW).encode())}, follow=True)
    assert r.status_code == 200 and "Imported 1 findings" in r.content.decode()
    assert _warnings_shown(r) == [_gap_warning()[1]]
    sr = Intervention.objects.get(slug=SR)
    assert drafts.has_effect_finding(drafts.current(sr)[0])  # kept: live, or in the draft
    assert sr.findings.count() == (1 if status == "draft" else 0)


@pytest.mark.parametrize("status", ["draft", "published"])
def test_a_findings_import_into_an_evidence_gap_warns_in_the_api_answer(client, editor, sr_study,
                                                                        status):
    Intervention.objects.filter(slug=SR).update(status=status)
    r = _api_import(client, editor, "findings", "sr.csv", (HEADER + SR_ROW).encode())
    body = r.json()
    assert r.status_code == 201 and body["warnings"] == _gap_warning()[0], body
    assert body["state"] == "done" and body["counts"]["findings"] == 1  # the keys it had, kept
    assert {"id", "kind", "filename", "user", "state", "done", "total", "percent", "message",
            "counts", "created", "finished"} <= set(body)
    assert ImportJob.objects.get(pk=body["id"]).warnings == body["warnings"]


def test_an_import_that_touches_no_contradicted_evidence_gap_warns_of_nothing(client, editor,
                                                                              editor_client, sr_study):
    # an evidence gap the import touched with nothing contradicting it: no warning
    r = _api_import(client, editor, "store", "s.json", json.dumps({
        "format": "whatworks-store", "studies": [
            {"key": "sr-2025", "citation": "Another study.", "design": "rct",
             "intervention": SR}]}).encode())
    assert r.status_code == 201 and r.json()["warnings"] == [], r.content
    # Schwartz Rounds is contradicted now, but these imports do not touch it
    assert _api_import(client, editor, "findings", "sr.csv", (HEADER + SR_ROW).encode()).json()[
        "warnings"] == _gap_warning()[0]
    r = _api_import(client, editor, "findings", "fgc.csv", (HEADER + GOOD_ROW).encode())
    assert r.status_code == 201 and r.json()["warnings"] == [], r.content
    r = _api_import(client, editor, "store", "s.json", json.dumps({
        "format": "whatworks-store", "interventions": [
            {"slug": "family-group-conferences", "summary": "Changed."}]}).encode())
    assert r.status_code == 201 and r.json()["warnings"] == [], r.content
    r = _post(editor_client, "findings", "fgc.csv", HEADER + GOOD_ROW)
    assert r.status_code == 302 and _warnings_shown(editor_client.get(r["Location"])) == []


def test_a_store_import_warns_of_every_evidence_gap_it_contradicted(client, editor, sr_study):
    from whatworks.web.store.models import Study

    fgc = "family-group-conferences"
    gap, _ = _gap_warning()
    # findings of a study of a gap, in the file
    r = _api_import(client, editor, "store", "f.json", json.dumps({
        "format": "whatworks-store", "findings": [
            {"study": "sr-2024", "outcome": "entry-to-care", "measure": "RR",
             "reported": {"ai": 30, "n1i": 150, "ci": 40, "n2i": 150}}]}).encode())
    assert r.status_code == 201 and r.json()["warnings"] == gap, r.content
    Finding.objects.filter(intervention__slug=SR).delete()
    # a study with findings moved into a gap
    r = _api_import(client, editor, "store", "m.json", json.dumps({
        "format": "whatworks-store", "studies": [
            {"key": "fgc-study-b", "intervention": SR}]}).encode())
    assert r.status_code == 201 and r.json()["warnings"] == gap, r.content
    assert Study.objects.get(key="fgc-study-b").intervention.slug == SR
    # an intervention with findings marked as a gap by the file: named by its slug, in slug order
    r = _api_import(client, editor, "store", "g.json", json.dumps({
        "format": "whatworks-store", "interventions": [
            {"slug": SR, "summary": "Reflective forums."},
            {"slug": fgc, "evidence_gap": True}]}).encode())
    assert r.status_code == 201, r.content
    assert [(w["intervention"], w["code"]) for w in r.json()["warnings"]] == [
        (fgc, "gap_conflict"), (SR, "gap_conflict")]


def test_an_import_warns_by_the_marker_as_editors_now_see_it_in_the_draft(client, editor, sr_study):
    from whatworks.web.store import drafts

    fgc = "family-group-conferences"
    Intervention.objects.filter(slug__in=[fgc, SR]).update(status="published")
    # marked as a gap in its draft only: the import's findings go to that draft, which warns
    drafts.put_fields(Intervention.objects.get(slug=fgc), {"evidence_gap": True}, user=editor)
    r = _api_import(client, editor, "findings", "fgc.csv", (HEADER + GOOD_ROW).encode())
    assert [w["intervention"] for w in r.json()["warnings"]] == [fgc], r.content
    # unmarked in its draft: no warning, though readers still see it marked as a gap
    drafts.put_fields(Intervention.objects.get(slug=SR), {"evidence_gap": False}, user=editor)
    r = _api_import(client, editor, "findings", "sr.csv", (HEADER + SR_ROW).encode())
    assert r.status_code == 201 and r.json()["warnings"] == [], r.content
    assert Intervention.objects.get(slug=SR).evidence_gap


def test_a_background_import_keeps_its_warnings_for_the_job_page_and_the_api(
        client, editor, editor_client, sr_study, settings):
    from rest_framework.authtoken.models import Token

    settings.WHATWORKS_IMPORT_BACKGROUND_ROWS = 1
    settings.WHATWORKS_IMPORT_JOBS_INLINE = True
    gap, shown = _gap_warning()
    r = _post(editor_client, "findings", "sr.csv", HEADER + SR_ROW * 2)
    job = ImportJob.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/editor/import/{job.pk}/"
    assert job.state == "done" and job.counts == {"findings": 2} and job.warnings == gap
    page = editor_client.get(r["Location"])
    assert "Done: imported 2 findings" in page.content.decode()
    assert _warnings_shown(page) == [shown]
    r = _api_import(client, editor, "findings", "sr.csv", (HEADER + SR_ROW * 2).encode())
    assert r.status_code == 202 and r.json()["warnings"] == gap, r.content  # done inline
    read = client.get(f"/api/imports/{r.json()['id']}",
                      HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=editor).key}").json()
    assert read["state"] == "done" and read["warnings"] == gap
    # a queued or failed job has none
    failed = _post(editor_client, "findings", "bad.csv", HEADER + SR_ROW + "x,entry-to-care,RR\n")
    job = ImportJob.objects.get(pk=failed["Location"].strip("/").split("/")[-1])
    assert job.state == "failed" and job.warnings == []


def test_the_openapi_document_describes_an_imports_warnings(client):
    schema = client.get("/api/openapi.json").json()
    for method, path in (("post", "/api/imports"), ("get", "/api/imports/{job_id}")):
        op = next(v[method] for p, v in schema["paths"].items()
                  if p.rstrip("/") == path and method in v)
        assert "gap_conflict" in op["description"], path
    job = schema["components"]["schemas"]["ImportJob"]
    assert "gap_conflict" in job["properties"]["warnings"]["description"]
    assert job["properties"]["warnings"]["items"]["$ref"].endswith("WriteWarning")


# -- a store import may not write a contradicted evidence gap where readers see it at once -----------

def _store_state() -> dict:
    """Everything a store import writes (and the ratings it refreshes), to compare before and after."""
    from whatworks.web.store.models import Rating, Study, Synthesis

    return {model.__name__: sorted(map(repr, model.objects.values())) for model in (
        Intervention, Study, Finding, Synthesis, Rating)}


SR_FINDING = {"study": "sr-2024", "outcome": "entry-to-care", "measure": "RR",
              "reported": {"ai": 30, "n1i": 150, "ci": 40, "n2i": 150}}
FGC_TEXT = {"slug": "family-group-conferences", "summary": "Changed by the refused import."}


@pytest.mark.parametrize("data, where", [
    # marked as a gap by the file while it has findings with an effect size
    ({"interventions": [FGC_TEXT, {"slug": "social-workers-in-schools", "evidence_gap": True}]},
     "interventions, row 2, column 'evidence_gap'"),
    # a finding with an effect size into a published gap (its study, in the file or stored)
    ({"interventions": [FGC_TEXT], "findings": [
        {**SR_FINDING, "study": "fgc-trial-2023"}, SR_FINDING]},
     "findings, row 2, column 'study'"),
    ({"studies": [{"key": "sr-2025", "citation": "Another.", "design": "rct",
                   "intervention": "schwartz-rounds"}],
      "findings": [{**SR_FINDING, "study": "sr-2025"}]}, "findings, row 1, column 'study'"),
    # a study with findings with an effect size moved into a published gap
    ({"studies": [{"key": "sr-2024", "citation": "Maben et al. 2024."},
                  {"key": "fgc-study-b", "intervention": "schwartz-rounds"}]},
     "studies, row 2, column 'intervention'"),
])
def test_an_admins_store_import_may_not_contradict_a_published_evidence_gap(
        admin_client_, sr_study, data, where):
    Intervention.objects.update(status="published")
    before = _store_state()
    html = _error(_store(admin_client_, {"format": "whatworks-store", **data}, "g.json"))
    assert f"g.json:{where}:" in html, html
    assert "is published" in html and "evidence_gap" in html
    assert "Untick the marker (evidence_gap: false" in html and "remove its findings with an" in html
    assert _store_state() == before  # all or nothing: not even the other rows of the file


@pytest.mark.parametrize("tables, where", [
    ({"interventions.csv": "slug,summary,evidence_gap\nschwartz-rounds,Forums.,false\n"
                           "social-workers-in-schools,Social workers in schools.,true\n"},
     "interventions, row 2, column 'evidence_gap'"),
    ({"findings.csv": 'study,outcome,measure,reported\n'
                      'sr-2024,entry-to-care,RR,"{""ai"": 30, ""n1i"": 150, ""ci"": 40, ""n2i"": 150}"\n'},
     "findings, row 1, column 'study'"),
])
def test_a_csv_zip_may_not_contradict_a_published_evidence_gap_either(admin_client_, sr_study,
                                                                      tables, where):
    Intervention.objects.update(status="published")
    before = _store_state()
    html = _error(_store(admin_client_, _zip(tables), "g.zip"))
    assert f"g.zip:{where}:" in html, html
    assert _store_state() == before


@pytest.mark.parametrize("status", ["draft", "published"])
def test_a_published_gap_is_written_when_the_file_leaves_it_uncontradicted(client, admin, sr_study,
                                                                         status):
    # as it stands after the write: unmarked by the same file, or not published (then a warning)
    Intervention.objects.update(status=status)
    r = _api_import(client, admin, "store", "s.json", json.dumps({
        "format": "whatworks-store", "interventions": [{"slug": SR, "evidence_gap": status == "draft"}],
        "findings": [SR_FINDING]}).encode())
    assert r.status_code == 201, r.content
    assert r.json()["warnings"] == (_gap_warning()[0] if status == "draft" else [])
    sr = Intervention.objects.get(slug=SR)
    assert sr.findings.count() == 1 and sr.evidence_gap is (status == "draft")


def test_an_unpublished_intervention_marked_as_a_gap_by_the_file_is_kept_with_a_warning(client, admin):
    r = _api_import(client, admin, "store", "g.json", json.dumps({
        "format": "whatworks-store", "interventions": [
            {"slug": "social-workers-in-schools", "evidence_gap": True}]}).encode())
    assert r.status_code == 201, r.content
    assert [w["intervention"] for w in r.json()["warnings"]] == ["social-workers-in-schools"]
    assert Intervention.objects.get(slug="social-workers-in-schools").evidence_gap


def test_the_api_answers_a_refused_contradiction_with_file_table_row_and_column(client, admin):
    Intervention.objects.update(status="published")
    r = _api_import(client, admin, "store", "g.json", json.dumps({
        "format": "whatworks-store", "interventions": [
            {"slug": "family-group-conferences", "evidence_gap": True}]}).encode())
    assert r.status_code == 400, r.content
    assert (
        "g.json:interventions, row 1, column 'evidence_gap': marks 'family-group-conferences' as an "
        "evidence gap") in r.json()["error"]["message"]
    assert not Intervention.objects.get(slug="family-group-conferences").evidence_gap
    assert not ImportJob.objects.exists()


def test_the_exported_store_imports_back_with_every_intervention_published(client, admin):
    from whatworks.web.store.transfer import export_store, import_store

    Intervention.objects.update(status="published")
    def state():
        return (sorted(Intervention.objects.values_list("slug", "status", "evidence_gap")),
                sorted(Finding.objects.values_list("pk", "intervention__slug", "yi", "vi")))

    data, before = export_store(), state()
    assert any(gap for _, _, gap in before[0])  # a published evidence gap, written again
    import_store(data, user=admin)
    assert state() == before


# a small import of two findings, as a background job run at once
JOB_UPLOADS = pytest.mark.parametrize("kind, name, content", [
    ("findings", "sr.csv", HEADER + SR_ROW * 2),
    ("store", "s.json", json.dumps({"format": "whatworks-store", "findings": [SR_FINDING] * 2})),
])


def _job_fails_and_imports_nothing(editor_client, settings, kind, name, content):
    settings.WHATWORKS_IMPORT_BACKGROUND_ROWS = 1
    settings.WHATWORKS_IMPORT_JOBS_INLINE = True
    n = Finding.objects.count()
    _post(editor_client, kind, name, content)
    job = ImportJob.objects.get()
    assert job.state == "failed" and "nothing was imported" in job.message
    assert Finding.objects.count() == n


@JOB_UPLOADS
def test_warnings_are_read_in_the_imports_transaction(editor_client, sr_study, settings,
                                                      monkeypatch, kind, name, content):
    # a failure to read them rolls the import back, so a job that says so imported nothing
    from whatworks.web.store import drafts

    def broken(ids):
        raise RuntimeError("the warnings could not be read")

    monkeypatch.setattr(drafts, "gap_warnings", broken)
    _job_fails_and_imports_nothing(editor_client, settings, kind, name, content)


@JOB_UPLOADS
def test_a_job_is_done_exactly_when_its_import_is_saved(editor_client, sr_study, settings,
                                                       monkeypatch, kind, name, content):
    # the job records that it is done inside the import's transaction: if that fails, the import
    # is rolled back and the job says nothing was imported (never "running", later "stale")
    from whatworks.web.store import imports

    def broken(self):
        raise RuntimeError("the job could not be marked done")

    monkeypatch.setattr(imports.Imported, "describe", broken)
    _job_fails_and_imports_nothing(editor_client, settings, kind, name, content)


def test_the_demo_store_exported_imports_back_whole(admin):
    # the demo has published evidence gaps and published ratings, none contradicting the other
    from whatworks.web.store.demo import load_demo
    from whatworks.web.store.transfer import export_csv_zip, export_store, import_store, read_csv_zip

    load_demo()

    def state():
        return (sorted(Intervention.objects.values_list("slug", "status", "evidence_gap")),
                sorted(Finding.objects.values_list("pk", "intervention__slug", "yi", "vi")))

    before = state()
    assert {"peer-mentoring-care-leavers", "independent-visitors"} <= {
        slug for slug, status, gap in before[0] if gap and status == "published"}
    data, zipped = export_store(), export_csv_zip()
    for load in (lambda: data, lambda: read_csv_zip(zipped)):
        import_store(load(), user=admin)
        assert state() == before
