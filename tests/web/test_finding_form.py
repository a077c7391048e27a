"""The finding form for review editors (issue 10): what the study reports in words, then the
measure, then only that entry's fields with plain labels; every entry gives the core's effect; a
cluster adjustment round-trips through exports and imports; GOV.UK-style accessible errors; range
checks on study fields through the form, the API and imports; aliases."""

import io
import json
import math
import re
import zipfile
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from whatworks.effects.entry import FIELDS, REPORTED_AS, effect_from_reported
from whatworks.web.store.models import Finding, Intervention, Study
from whatworks.web.store.once import issue

pytestmark = pytest.mark.django_db

NEW = "/editor/interventions/family-group-conferences/findings/new/"
NEXT_YEAR = date.today().year + 1


@pytest.fixture(autouse=True)
def _edited_directly(db):
    """These tests are about the form, not the editorial workflow: the intervention is not yet
    published, so a save writes the finding at once (tests/web/test_drafts.py covers drafts)."""
    Intervention.objects.filter(slug="family-group-conferences").update(status="draft")


def _form(reported_as, measure, fields, **extra):
    data = {"study": "fgc-trial-2023", "outcome": "entry-to-care", "measure": measure,
            "reported_as": reported_as, "timepoint_months": "6", "form_token": issue()}
    data.update({f"{reported_as}-{k}": str(v) for k, v in fields.items()})
    data.update({k: str(v) for k, v in extra.items()})
    return data


def _saved(before):
    return Finding.objects.exclude(pk__in=before).get()


def test_the_form_asks_in_words_and_labels_every_field_plainly(editor_client):
    html = editor_client.get(NEW).content.decode()
    assert "What does the study report?" in html and "Which effect measure?" in html
    for entry in REPORTED_AS.values():
        assert f"<legend>{entry.label}</legend>" in html.replace("&#x27;", "'")
    assert "Risk ratio (RR)" in html and "Standardised mean difference (Hedges&#x27; g) (SMD)" in html
    for name in ("ai", "n1i", "ci_lower", "m1i"):
        assert f">{FIELDS[name].label}</label>" in html
    # each entry's fields are its own (prefixed), inside its own fieldset; the 2x2 table is chosen
    counts = re.search(r'<fieldset class="entry-fields" id="entry-counts".*?</fieldset>', html,
                       re.S).group(0)
    assert set(re.findall(r'name="([^"]+)"', counts)) == {"counts-ai", "counts-n1i", "counts-ci",
                                                          "counts-n2i"}
    assert re.search(r'value="counts"[^>]*checked', html)


def test_an_existing_finding_opens_on_its_own_entry(editor_client):
    finding = Finding.objects.get(study__key="fgc-study-b")
    html = editor_client.get(f"/editor/interventions/family-group-conferences/findings/"
                             f"{finding.pk}/").content.decode()
    assert re.search(r'value="counts"[^>]*checked', html)
    assert re.search(r'name="counts-ai" value="60', html)


@pytest.mark.parametrize("reported_as, measure, fields, extra", [
    ("counts", "RR", {"ai": 30, "n1i": 120, "ci": 45, "n2i": 118}, {}),
    ("means", "SMD", {"m1i": 12.1, "sd1i": 3.2, "n1i": 80, "m2i": 10.9, "sd2i": 3.4, "n2i": 82},
     {}),
    ("estimate_ci", "OR", {"estimate": 0.62, "ci_lower": 0.41, "ci_upper": 0.94,
                           "entered_as": "ratio"}, {}),
    ("estimate_ci", "HR", {"estimate": -0.4, "ci_lower": -0.7, "ci_upper": -0.1,
                           "entered_as": "log"}, {}),
    ("estimate_se", "MD", {"estimate": -1.5, "se": 0.6, "entered_as": "ratio"}, {}),
    ("counts", "RR", {"ai": 30, "n1i": 120, "ci": 45, "n2i": 118},
     {"icc": 0.05, "cluster_sizes1": "30, 30, 60", "cluster_sizes2": "40; 40 38"}),
    ("means", "SMD", {"m1i": 12.1, "sd1i": 3.2, "n1i": 80, "m2i": 10.9, "sd2i": 3.4, "n2i": 82},
     {"icc": 0.1, "cluster_size": 20, "cluster_cv": 0.3}),
])
def test_every_entry_saves_the_cores_effect(editor_client, reported_as, measure, fields, extra):
    before = list(Finding.objects.values_list("pk", flat=True))
    r = editor_client.post(NEW, _form(reported_as, measure, fields, **extra))
    assert r.status_code == 302, r.content.decode()[:3000]
    saved = _saved(before)
    assert saved.measure == measure
    reported = dict(fields)
    if measure == "MD":
        reported.pop("entered_as")      # the choice is about ratios only
    for k, v in extra.items():
        reported[k] = ([float(x) for x in re.split(r"[,; ]+", v)] if k.startswith("cluster_sizes")
                       else v)
    assert saved.reported.keys() == reported.keys()
    for k, v in reported.items():
        assert saved.reported[k] == (v if isinstance(v, str) else pytest.approx(v))
    core = effect_from_reported(measure, reported, reported_as=reported_as)
    assert (saved.yi, saved.vi) == pytest.approx((core.yi, core.vi), rel=1e-12)
    if extra:
        assert core.adjustment and saved.vi > core.unadjusted_vi
        assert saved.reported["icc"] == extra["icc"]


def test_the_old_metafor_names_still_work_without_an_entry(editor_client):
    before = list(Finding.objects.values_list("pk", flat=True))
    r = editor_client.post(NEW, {"study": "fgc-trial-2023", "outcome": "entry-to-care",
                                 "measure": "SMD", "ti": "2.1", "n1i": "50", "n2i": "50",
                                 "form_token": issue()})
    assert r.status_code == 302
    assert _saved(before).reported == {"ti": 2.1, "n1i": 50, "n2i": 50}


def test_errors_have_a_summary_and_aria_attributes(editor_client):
    r = editor_client.post(NEW, _form("counts", "RR", {"ai": 30, "n1i": 120, "ci": 45}))
    assert r.status_code == 200
    html = r.content.decode()
    summary = re.search(r'<div class="error-summary" role="alert" tabindex="-1".*?</div>', html,
                        re.S).group(0)
    assert 'href="#id_counts-n2i"' in summary and "Number in the comparison group" in summary
    field = re.search(r'<input[^>]*name="counts-n2i"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="id_counts-n2i-error"' in field
    assert 'id="id_counts-n2i-error"' in html
    ok = re.search(r'<input[^>]*name="counts-ai"[^>]*>', html).group(0)
    assert "aria-invalid" not in ok
    assert not Finding.objects.filter(timepoint_months=6).exists()


@pytest.mark.parametrize("extra, field", [
    ({"cluster_size": 20}, "icc"),
    ({"icc": 0.05}, "cluster_sizes1"),
    ({"icc": 0.05, "cluster_sizes1": "60, 60"}, "cluster_sizes2"),
    ({"icc": 0.05, "cluster_sizes1": "60, 50", "cluster_sizes2": "59, 59"}, "cluster_sizes1"),
    ({"icc": 0.05, "cluster_sizes1": "sixty", "cluster_sizes2": "59, 59"}, "cluster_sizes1"),
])
def test_missing_cluster_inputs_are_refused_on_their_field(editor_client, extra, field):
    r = editor_client.post(NEW, _form("counts", "RR", {"ai": 30, "n1i": 120, "ci": 45,
                                                       "n2i": 118}, **extra))
    assert r.status_code == 200
    html = r.content.decode()
    assert f'id="id_{field}-error"' in html and f'href="#id_{field}"' in html


def test_a_measure_the_entry_cannot_give_is_refused_on_the_measure(editor_client):
    r = editor_client.post(NEW, _form("counts", "SMD", {"ai": 30, "n1i": 120, "ci": 45,
                                                        "n2i": 118}))
    assert r.status_code == 200 and 'id="id_measure-error"' in r.content.decode()


def test_the_preview_endpoint_states_the_effect_in_words(client):
    r = client.get("/api/effect-size", {"measure": "RR", "reported_as": "estimate_ci",
                                        "estimate": "0.5", "ci_lower": "0.31", "ci_upper": "0.81",
                                        "entered_as": "ratio", "outcome": "entry-to-care"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["summary"] == "RR 0.50 (95% CI 0.31 to 0.81)"
    assert body["sentence"].startswith("Fewer children in the intervention group")
    assert "favours the intervention" in body["sentence"]
    assert body["yi"] == pytest.approx(math.log(0.5))
    r = client.get("/api/effect-size", {"measure": "RR", "reported_as": "counts", "ai": "30",
                                        "n1i": "120", "ci": "45", "n2i": "118", "icc": "0.05",
                                        "cluster_size": "20"})
    assert "Adjusted for clustering (design effect): the standard error grew by" in \
        r.json()["adjustment"]
    r = client.get("/api/effect-size", {"measure": "RR", "reported_as": "counts", "ai": "30",
                                        "n1i": "120", "ci": "45", "n2i": "118",
                                        "cluster_size": "20"})
    assert r.status_code == 400 and "icc" in r.json()["error"]["fields"]


def _cluster_finding(editor_client):
    before = list(Finding.objects.values_list("pk", flat=True))
    r = editor_client.post(NEW, _form("means", "SMD", {"m1i": 12.1, "sd1i": 3.2, "n1i": 80,
                                                       "m2i": 10.9, "sd2i": 3.4, "n2i": 82},
                                      icc=0.1, cluster_sizes1="20, 20, 40",
                                      cluster_sizes2="30, 30, 22"))
    assert r.status_code == 302, r.content.decode()[:3000]
    Intervention.objects.filter(slug="family-group-conferences").update(status="published")
    return _saved(before)


def test_cluster_inputs_round_trip_through_the_json_export(client, editor_client, admin):
    finding = _cluster_finding(editor_client)
    data = client.get("/export/store.json").json()
    row = next(f for f in data["findings"] if f["id"] == finding.pk)
    assert row["reported"]["cluster_sizes1"] == [20, 20, 40] and row["reported"]["icc"] == 0.1
    Finding.objects.filter(pk=finding.pk).update(yi=None, vi=None, reported={"yi": 1, "vi": 1})
    upload = SimpleUploadedFile("store.json", json.dumps(data).encode())
    client.force_login(admin)  # the intervention is published: only an administrator imports over it
    r = client.post("/editor/import/", {"kind": "store", "store-file": upload})
    assert r.status_code == 302, r.content.decode()[:2000]
    back = Finding.objects.get(pk=finding.pk)
    assert back.reported == finding.reported
    assert (back.yi, back.vi) == pytest.approx((finding.yi, finding.vi), rel=1e-12)


def test_cluster_inputs_round_trip_through_the_csv_zip(client, editor_client, admin):
    finding = _cluster_finding(editor_client)
    zipped = client.get("/export/store-csv.zip").content
    Finding.objects.filter(pk=finding.pk).update(yi=None, vi=None, reported={"yi": 1, "vi": 1})
    client.force_login(admin)  # the intervention is published: only an administrator imports over it
    r = client.post("/editor/import/", {
        "kind": "store", "store-file": SimpleUploadedFile("store-csv.zip", zipped)})
    assert r.status_code == 302, r.content.decode()[:2000]
    back = Finding.objects.get(pk=finding.pk)
    assert back.reported == finding.reported
    assert (back.yi, back.vi) == pytest.approx((finding.yi, finding.vi), rel=1e-12)


def test_a_findings_csv_takes_estimates_and_cluster_sizes(editor_client):
    csv_text = ("study,outcome,measure,timepoint_months,estimate,ci_lower,ci_upper,entered_as,"
                "icc,cluster_sizes\n"
                "fgc-trial-2023,entry-to-care,HR,30,0.7,0.5,0.98,ratio,0.05,30;30;60|40;40;38\n"
                "fgc-trial-2023,entry-to-care,RR,36,0.7,0.5,0.98,ratio,0.05,25\n")
    before = list(Finding.objects.values_list("pk", flat=True))
    r = editor_client.post("/editor/import/", {"kind": "findings", "findings-file":
                                               SimpleUploadedFile("f.csv", csv_text.encode())})
    assert r.status_code == 302, r.content.decode()[:2000]
    hr = Finding.objects.exclude(pk__in=before).get(measure="HR")
    assert hr.reported["cluster_sizes1"] == [30, 30, 60]
    core = effect_from_reported("HR", hr.reported)
    assert (hr.yi, hr.vi) == pytest.approx((core.yi, core.vi)) and core.adjustment
    rr = Finding.objects.exclude(pk__in=before).get(measure="RR")
    assert rr.reported["cluster_size"] == 25


# -- range checks on study fields: form, API, import ---------------------------------------------

def _study_form(**change):
    data = {"key": "range-study", "citation": "A study. 2020.", "year": "2020", "design": "rct",
            "source": "manual", "form_token": issue()}
    data.update({k: str(v) for k, v in change.items()})
    return data


@pytest.mark.parametrize("change, field, words", [
    ({"year": 99999}, "year", f"between 1,900 and {NEXT_YEAR:,}"),
    ({"year": 1850}, "year", f"between 1,900 and {NEXT_YEAR:,}"),
    ({"follow_up_months": -4}, "follow_up_months", "between 0 and 600 months"),
    ({"follow_up_months": 601}, "follow_up_months", "between 0 and 600 months"),
    ({"sample_size": 20_000_000}, "sample_size", "between 1 and 10,000,000"),
    ({"sample_size": 0}, "sample_size", "between 1 and 10,000,000"),
])
def test_the_study_form_refuses_values_out_of_range(editor_client, change, field, words):
    r = editor_client.post("/editor/interventions/family-group-conferences/studies/new/",
                           _study_form(**change))
    assert r.status_code == 200
    html = r.content.decode()
    message = re.search(rf'<p class="error" id="id_{field}-error">(.*?)</p>', html).group(1)
    assert words in message
    assert f'href="#id_{field}"' in html
    assert not Study.objects.filter(key="range-study").exists()


def test_the_study_form_accepts_next_year(editor_client):
    r = editor_client.post("/editor/interventions/family-group-conferences/studies/new/",
                           _study_form(year=NEXT_YEAR, follow_up_months=600, sample_size=1))
    assert r.status_code == 302
    assert Study.objects.get(key="range-study").year == NEXT_YEAR


def _api(client, user, method, url, body):
    client.force_login(user)
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("change, field, words", [
    ({"year": 99999}, "year", f"between 1,900 and {NEXT_YEAR:,}"),
    ({"follow_up_months": -4}, "follow_up_months", "between 0 and 600 months"),
    ({"sample_size": 20_000_000}, "sample_size", "between 1 and 10,000,000"),
])
def test_the_api_refuses_study_values_out_of_range(client, editor, change, field, words):
    r = _api(client, editor, "patch", "/api/studies/swis-2023", change)
    assert r.status_code == 400, r.content
    assert any(words in m for m in r.json()["error"]["fields"][field])


def test_the_api_refuses_a_time_point_out_of_range(client, editor):
    r = _api(client, editor, "post", "/api/findings", {
        "study": "swis-2023", "outcome": "section-47-enquiries", "measure": "IRR",
        "timepoint_months": 700, "reported": {"yi": 0.1, "vi": 0.01}})
    assert r.status_code == 400
    assert "between 0 and 600 months" in r.json()["error"]["fields"]["timepoint_months"][0]


@pytest.mark.parametrize("change, field, words", [
    ({"year": 99999}, "year", f"between 1,900 and {NEXT_YEAR:,}"),
    ({"follow_up_months": -4}, "follow_up_months", "between 0 and 600 months"),
])
def test_a_store_import_refuses_study_values_out_of_range(client, editor_client, change, field,
                                                          words):
    data = client.get("/export/store.json").json()
    study = next(s for s in data["studies"] if s["key"] == "swis-2023")
    study.update(change)
    r = editor_client.post("/editor/import/", {"kind": "store", "store-file": SimpleUploadedFile(
        "store.json", json.dumps(data).encode())})
    html = r.content.decode().replace("&#x27;", "'")
    assert r.status_code == 400
    assert f"column '{field}'" in html and words in html
    assert Study.objects.get(key="swis-2023").year == 2023


def test_a_csv_zip_import_refuses_a_year_out_of_range(client, editor_client):
    zipped = client.get("/export/store-csv.zip").content
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        tables = {n: zf.read(n).decode() for n in zf.namelist()}
    tables["studies.csv"] = tables["studies.csv"].replace(",2023,", ",99999,", 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in tables.items():
            zf.writestr(name, text)
    r = editor_client.post("/editor/import/", {"kind": "store", "store-file": SimpleUploadedFile(
        "store-csv.zip", buf.getvalue())})
    html = r.content.decode().replace("&#x27;", "'")
    assert r.status_code == 400 and "column 'year'" in html
    assert f"between 1,900 and {NEXT_YEAR:,}" in html


def test_a_findings_csv_refuses_a_time_point_out_of_range(editor_client):
    csv_text = ("study,outcome,measure,timepoint_months,ai,n1i,ci,n2i\n"
                "fgc-trial-2023,entry-to-care,RR,-4,10,100,20,100\n")
    r = editor_client.post("/editor/import/", {"kind": "findings", "findings-file":
                                               SimpleUploadedFile("f.csv", csv_text.encode())})
    html = r.content.decode().replace("&#x27;", "'")
    assert r.status_code == 400 and "column 'timepoint_months'" in html
    assert "between 0 and 600 months" in html


# -- aliases -------------------------------------------------------------------------------------

def test_the_intervention_form_edits_aliases(editor_client):
    Intervention.objects.filter(slug="family-group-conferences").update(aliases=["FGC"])
    url = "/editor/interventions/family-group-conferences/edit/"
    html = editor_client.get(url).content.decode()
    assert re.search(r'name="aliases" value="FGC"', html)
    intervention = Intervention.objects.get(slug="family-group-conferences")
    data = {"name": intervention.name, "slug": intervention.slug, "summary": intervention.summary,
            "aliases": "FGC,  family group conference , ", "population": "families",
            "setting": "", "where_studied": "", "form_token": issue()}
    r = editor_client.post(url, data)
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Intervention.objects.get(slug="family-group-conferences").aliases == [
        "FGC", "family group conference"]


def test_the_api_reads_and_writes_aliases(client, editor, admin):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="published")
    r = _api(client, editor, "patch", "/api/interventions/schwartz-rounds",
             {"aliases": ["Schwartz Center Rounds"]})
    assert r.status_code == 200, r.content
    # an editor's change to a published intervention waits in its draft for an administrator
    assert Intervention.objects.get(slug="schwartz-rounds").aliases != ["Schwartz Center Rounds"]
    Intervention.objects.filter(slug="schwartz-rounds").update(aliases=["Schwartz Center Rounds"])
    assert Intervention.objects.get(slug="schwartz-rounds").aliases == ["Schwartz Center Rounds"]
    detail = client.get("/api/interventions/schwartz-rounds").json()
    assert detail["aliases"] == ["Schwartz Center Rounds"]
    listed = client.get("/api/interventions").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert any(row.get("aliases") == ["Schwartz Center Rounds"] for row in rows)
    r = _api(client, editor, "patch", "/api/interventions/schwartz-rounds", {"aliases": "FGC"})
    assert r.status_code == 400 and "aliases" in r.json()["error"]["fields"]


def test_a_form_sent_back_for_another_field_still_previews_the_effect(editor_client):
    data = _form("estimate_ci", "RR", {"estimate": 0.5, "ci_lower": 0.31, "ci_upper": 0.81,
                                       "entered_as": "ratio"})
    data["study"] = ""
    html = editor_client.post(NEW, data).content.decode()
    assert 'href="#id_study"' in html
    assert "<strong>RR 0.50 (95% CI 0.31 to 0.81)</strong>" in html
    assert "Fewer children in the intervention group" in html


def test_an_edited_cluster_finding_shows_its_cluster_inputs(editor_client):
    finding = _cluster_finding(editor_client)
    html = editor_client.get(f"/editor/interventions/family-group-conferences/findings/"
                             f"{finding.pk}/").content.decode()
    assert re.search(r'value="means"[^>]*checked', html)
    assert re.search(r'name="cluster_sizes1" value="20, 20, 40"', html)
    assert re.search(r'name="icc" value="0.1"', html)
    # sent back unchanged, it saves the same effect
    data = _form("means", "SMD", {"m1i": 12.1, "sd1i": 3.2, "n1i": 80, "m2i": 10.9, "sd2i": 3.4,
                                  "n2i": 82}, icc=0.1, cluster_sizes1="20, 20, 40",
                 cluster_sizes2="30, 30, 22")
    r = editor_client.post(f"/editor/interventions/family-group-conferences/findings/"
                           f"{finding.pk}/", data)
    assert r.status_code == 302
    again = Finding.objects.get(pk=finding.pk)
    assert (again.yi, again.vi) == pytest.approx((finding.yi, finding.vi), rel=1e-12)


def test_the_api_documents_the_reported_statistics_from_the_registry(client):
    schema = client.get("/api/openapi.json").content.decode()
    for entry in REPORTED_AS.values():
        assert json.dumps(entry.label)[1:-1] in schema
    assert "cluster_sizes1" in schema and "entered_as" in schema


def test_the_import_page_lists_each_entrys_columns_from_the_registry(editor_client):
    html = editor_client.get("/editor/import/").content.decode().replace("&#x27;", "'")
    for entry in REPORTED_AS.values():
        if entry.key != "other":
            assert f"<dt>{entry.label}</dt>" in html
    assert "<code>cluster_sizes1</code>" in html and "<code>entered_as</code>" in html
