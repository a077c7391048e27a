"""Editors' pages by persona: anonymous readers are sent to sign in, outsiders get 403, editors edit
drafts and findings, admins publish; imports are all-or-nothing with row-level messages."""

import pytest

from whatworks.web.store import drafts
from whatworks.web.store.models import Finding, Intervention, Rating, RatingChange, SlugRedirect
from whatworks.web.store.once import issue

pytestmark = pytest.mark.django_db

EDITOR_PAGES = ["/editor/", "/editor/interventions/new/",
                "/editor/interventions/family-group-conferences/",
                "/editor/interventions/family-group-conferences/findings/new/", "/editor/import/"]


@pytest.mark.parametrize("path", EDITOR_PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, path):
    r = client.get(path)
    assert r.status_code == 302 and r["Location"].startswith("/accounts/sign-in/")


@pytest.mark.parametrize("path", EDITOR_PAGES)
def test_outsiders_are_forbidden(client, outsider, path):
    client.force_login(outsider)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", EDITOR_PAGES)
def test_editors_reach_every_editor_page(editor_client, path):
    assert editor_client.get(path).status_code == 200


def _finding_form(**stats):
    data = {"study": "fgc-trial-2023", "outcome": "entry-to-care", "measure": "RR",
            "timepoint_months": "24"}
    data.update({k: str(v) for k, v in stats.items()})
    data["form_token"] = issue()
    return data


def test_an_editor_adds_a_finding_and_the_synthesis_rating_and_history_change(editor_client):
    url = "/editor/interventions/family-group-conferences/findings/new/"
    before = Rating.objects.get(intervention__slug="family-group-conferences")
    changes = RatingChange.objects.count()
    # a large harmful result at 12 months from a new study moves the pooled estimate
    from whatworks.web.store.models import Study

    Study.objects.create(key="fgc-harm", citation="Illustrative harm study. 2024.", year=2024,
                         design="rct", sample_size=2000, risk_of_bias="low",
                         intervention=Intervention.objects.get(slug="family-group-conferences"))
    r = editor_client.post(url, {**_finding_form(ai=900, n1i=1000, ci=300, n2i=1000),
                                 "study": "fgc-harm", "timepoint_months": "12"})
    assert r.status_code == 302, r.content.decode()[:2000]
    # the intervention is published: the change waits in the draft until an administrator publishes
    assert Rating.objects.get(intervention__slug="family-group-conferences").inputs == before.inputs
    drafts.publish(Intervention.objects.get(slug="family-group-conferences"), user=_admin())
    after = Rating.objects.get(intervention__slug="family-group-conferences")
    assert after.inputs != before.inputs
    assert after.explanation != before.explanation
    if after.effectiveness_label != before.effectiveness_label:
        assert RatingChange.objects.count() == changes + 1


def test_impossible_values_are_refused_with_a_message_on_the_field(editor_client):
    url = "/editor/interventions/family-group-conferences/findings/new/"
    n = Finding.objects.count()
    r = editor_client.post(url, _finding_form(ai=50, n1i=20, ci=3, n2i=20))
    assert r.status_code == 200
    html = r.content.decode()
    assert 'class="error"' in html
    assert Finding.objects.count() == n


def _admin():
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("admin-for-test")
    user.groups.add(Group.objects.get_or_create(name="admins")[0])
    return user


def test_only_admins_publish(client, editor, admin):
    Intervention.objects.filter(slug="family-group-conferences").update(status="draft")
    url = "/editor/interventions/family-group-conferences/publish/"
    client.force_login(editor)
    assert client.post(url, {"form_token": issue()}).status_code == 403
    client.force_login(admin)
    assert client.post(url, {"form_token": issue()}).status_code == 302
    assert Intervention.objects.get(slug="family-group-conferences").status == "published"


def test_renaming_a_slug_keeps_the_old_url(editor_client):
    Intervention.objects.filter(slug="schwartz-rounds").update(status="draft")  # edited directly
    i = Intervention.objects.get(slug="schwartz-rounds")
    r = editor_client.post("/editor/interventions/schwartz-rounds/edit/", {
        "name": "Schwartz Rounds", "slug": "schwartz-rounds-for-staff", "summary": i.summary,
        "form_token": issue()})
    assert r.status_code == 302
    assert SlugRedirect.objects.filter(old_slug="schwartz-rounds").exists()


def test_a_bad_findings_import_writes_nothing_and_names_the_row(editor_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    n = Finding.objects.count()
    csv_text = ("study,outcome,measure,timepoint_months,ai,n1i,ci,n2i\n"
                "fgc-trial-2023,entry-to-care,RR,6,100,700,120,700\n"
                "fgc-study-b,entry-to-care,RR,6,oops,200,80,200\n")
    upload = SimpleUploadedFile("new.csv", csv_text.encode())
    r = editor_client.post("/editor/import/", {"kind": "findings", "findings-file": upload})
    html = r.content.decode()
    assert "new.csv, row 2, column &#x27;ai&#x27;" in html or "new.csv, row 2, column 'ai'" in html
    assert "nothing was imported" in html
    assert Finding.objects.count() == n


def test_a_good_findings_import_adds_every_row(editor_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    n = Finding.objects.count()
    csv_text = ("study,outcome,measure,timepoint_months,ai,n1i,ci,n2i\n"
                "fgc-trial-2023,entry-to-care,RR,6,100,700,120,700\n"
                "fgc-study-b,entry-to-care,RR,6,50,200,70,200\n")
    upload = SimpleUploadedFile("new.csv", csv_text.encode())
    Intervention.objects.filter(slug="family-group-conferences").update(status="draft")
    r = editor_client.post("/editor/import/", {"kind": "findings", "findings-file": upload})
    assert r.status_code == 302
    assert Finding.objects.count() == n + 2


def test_the_store_exports_and_imports_round_trip(client, admin_client_):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    data = client.get("/export/store.json").json()
    assert {"interventions", "studies", "findings", "ratings", "outcomes"} <= data.keys()
    assert {i["slug"] for i in data["interventions"]} == {
        "family-group-conferences", "social-workers-in-schools", "schwartz-rounds"}
    data["interventions"][0]["summary"] = "Changed by import."
    upload = SimpleUploadedFile("store.json", json.dumps(data).encode())
    r = admin_client_.post("/editor/import/", {"kind": "store", "store-file": upload})
    assert r.status_code == 302
    assert Intervention.objects.get(slug=data["interventions"][0]["slug"]).summary == \
        "Changed by import."
    zipped = client.get("/export/store-csv.zip")
    assert zipped.status_code == 200 and zipped.content[:2] == b"PK"


def test_csrf_is_enforced_on_editor_forms(editor):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(editor)
    r = c.post("/editor/interventions/new/", {"name": "X", "slug": "x", "summary": "s",
                                              "form_token": issue()})
    assert r.status_code == 403
    assert not Intervention.objects.filter(slug="x").exists()


def test_the_store_round_trips_through_the_csv_zip(client, admin_client_):
    import io
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    zipped = client.get("/export/store-csv.zip").content
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert {"interventions.csv", "studies.csv", "findings.csv", "outcomes.csv"} <= set(
            zf.namelist())
        tables = {n: zf.read(n).decode() for n in zf.namelist()}
    tables["interventions.csv"] = tables["interventions.csv"].replace(
        "Reflective forums for staff.", "Reflective forums (edited in CSV).")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in tables.items():
            zf.writestr(name, text)
    n = Finding.objects.count()
    upload = SimpleUploadedFile("store-csv.zip", buf.getvalue())
    r = admin_client_.post("/editor/import/", {"kind": "store", "store-file": upload})
    assert r.status_code == 302
    assert Intervention.objects.get(slug="schwartz-rounds").summary == \
        "Reflective forums (edited in CSV)."
    assert Finding.objects.count() == n


def test_a_bad_cell_in_the_csv_zip_names_table_row_and_column_and_writes_nothing(
        client, editor_client):
    import io
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    zipped = client.get("/export/store-csv.zip").content
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        tables = {n: zf.read(n).decode() for n in zf.namelist()}
    lines = tables["studies.csv"].splitlines()
    header = lines[0].split(",")
    cells = next(__import__("csv").reader([lines[2]]))
    cells[header.index("year")] = "last year"
    out = io.StringIO()
    __import__("csv").writer(out).writerow(cells)
    lines[2] = out.getvalue().strip()
    tables["studies.csv"] = "\n".join(lines) + "\n"
    tables["interventions.csv"] = tables["interventions.csv"].replace(
        "Reflective forums for staff.", "Should not be saved.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in tables.items():
            zf.writestr(name, text)
    r = editor_client.post("/editor/import/", {"kind": "store", "store-file": SimpleUploadedFile(
        "store-csv.zip", buf.getvalue())})
    html = r.content.decode()
    assert "studies.csv, row 2, column &#x27;year&#x27;" in html
    assert Intervention.objects.get(slug="schwartz-rounds").summary == "Reflective forums for staff."


def test_a_cohort_study_is_listed_but_does_not_break_the_rating(editor_client):
    from whatworks.web.store.models import Study

    Study.objects.create(key="fgc-cohort", citation="Illustrative cohort. 2019.", year=2019,
                         design="cohort", sample_size=500, risk_of_bias="high",
                         intervention=Intervention.objects.get(slug="family-group-conferences"))
    r = editor_client.post("/editor/interventions/family-group-conferences/findings/new/",
                           {**_finding_form(ai=40, n1i=250, ci=50, n2i=250), "study": "fgc-cohort"})
    assert r.status_code == 302
    drafts.publish(Intervention.objects.get(slug="family-group-conferences"), user=_admin())
    rating = Rating.objects.get(intervention__slug="family-group-conferences",
                                outcome__slug="entry-to-care")
    assert "cohort" not in rating.effectiveness_label.lower()


def test_the_intervention_page_lists_each_finding_in_words_as_the_finding_forms_preview(
        editor_client):
    from whatworks.effects.entry import effect_from_reported, preview
    from whatworks.web.store.models import Finding

    html = editor_client.get("/editor/interventions/family-group-conferences/").content.decode()
    findings = Finding.objects.filter(intervention__slug="family-group-conferences")
    assert findings.exists()
    for f in findings:
        entered = effect_from_reported(f.measure, f.reported)
        words = preview(entered, outcome="entry to care", direction="decrease")
        assert words.in_words.startswith("Risk ratio ") and "% CI " in words.in_words
        assert words.in_words in html
        assert words.sentence.replace("'", "&#x27;") in html
        assert f"{f.yi:.4f}" not in html and f"{f.vi:.5f}" not in html  # no analysis-scale numbers
    assert "<th scope=\"col\">Measure</th>" not in html


def test_a_finding_in_words_names_the_measure_and_reads_ratios_on_their_natural_scale():
    import math

    from whatworks.effects.entry import Entered, measure_name, preview

    se = (math.log(0.81) - math.log(0.31)) / (2 * 1.959963984540054)
    p = preview(Entered("RR", "ci", math.log(0.5), se ** 2))
    assert p.in_words == "Risk ratio 0.50 (95% CI 0.31 to 0.81)" and p.summary.startswith("RR 0.50")
    assert measure_name("PETO") == "Odds ratio by Peto's method"  # shown exponentiated, so not "log"
    assert measure_name("ROM") == "Ratio of means" and measure_name("PHI") == "Phi coefficient"
    assert measure_name("IRLN") == "Log incidence rate"  # shown on its log scale: says so
