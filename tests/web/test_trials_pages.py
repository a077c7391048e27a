"""The trials pages: the programme and its projects with their green/amber/red judgements, the trial
registry with the flow diagram and report, the power calculator; editors create records."""

import json
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme"


@pytest.fixture
def demo(db):
    from whatworks.web.trials.demo import load_trials_demo

    load_trials_demo()


def test_the_programme_shows_which_pilots_earned_a_large_trial(client, demo):
    html = client.get("/trials/programme/").content.decode()
    assert "Social workers in schools" in html and "Lambeth, Southampton, Stockport" in html
    assert "Darlington, Hillingdon, Wigan" in html and "£1,200,000" in html and "illustrative" in html
    assert html.count("<strong>yes</strong>") == 1
    assert "2 projects with 6 local authorities, £2,400,000 in all (split between projects" in html
    assert 'href="/trials/programme/social-workers-in-schools/"' in html


def test_the_programme_page_is_linked_from_every_page(client, demo):
    assert 'href="/trials/programme/"' in client.get("/").content.decode()


def test_an_empty_programme_says_how_to_load_the_demo(client):
    assert "load_trials_demo" in client.get("/trials/programme/").content.decode()


def test_a_project_page_shows_its_criteria_judged_with_the_rule_and_its_decisions(client, demo):
    html = client.get("/trials/programme/social-workers-in-schools/").content.decode()
    assert "green if share of target schools recruited is at least 90 %; amber from 70 up to 90 %" in html
    assert 'class="rag rag-amber">amber</span>' in html  # the pilot stage (fidelity 70: amber)
    assert 'class="rag rag-red">red</span>' in html  # the trial's +5.5% against a reduction
    assert "programme board (illustrative)" in html and "31 March 2020" in html
    assert 'href="/trials/swis-trial/"' in html
    assert "record result" not in html  # readers see no editing links
    assert client.get("/trials/programme/no-such/").status_code == 404


def test_the_trial_page_draws_the_flow_diagram_and_the_checklist(client, demo):
    html = client.get("/trials/swis-trial/").content.decode()
    assert "n = 268 schools; n = 267,000 pupils" in html and "<svg" in html
    assert "CONSORT 2025 checklist with the cluster extension" in html
    registry = client.get("/trials/").content.decode()
    assert "Social workers in schools: a cluster randomised trial" in registry
    assert "28 of 58" in registry  # CONSORT items the demo record answers


def test_the_report_carries_the_analysis_plan_hash_from_the_stored_plan(client, demo):
    import hashlib

    r = client.get("/trials/swis-trial/report.html")
    expected = hashlib.sha256((DEMO / "swis-sap.md").read_bytes()).hexdigest()
    assert r.status_code == 200 and expected in r.content.decode()
    assert "matches the hash recorded" in r.content.decode()


CALC = {"design": "CRA2_2r", "solve_for": "mdes", "power": "0.8", "alpha": "0.05", "tails": "two",
        "rho2": "0.2", "n": "60", "J": "40", "r21": "0.5", "r22": "0.5", "g2": "1"}


def test_the_power_calculator_solves_for_the_mdes_and_draws_the_curve(client):
    html = client.get("/trials/power/", CALC).content.decode()
    assert "CRA2_2r: MDES = 0.2972 (SE" in html
    assert "/trials/power/curve.svg?" in html
    svg = client.get("/trials/power/curve.svg", CALC)
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content


def test_the_power_calculator_solves_for_the_sample_size(client):
    q = {**CALC, "solve_for": "J", "es": "0.25", "n": "4", "J": "", "r21": "", "r22": "", "g2": ""}
    html = client.get("/trials/power/", q).content.decode()
    assert "J = 203" in html


def test_the_power_calculator_explains_a_parameter_the_design_does_not_take(client):
    html = client.get("/trials/power/", {**CALC, "rho3": "0.1"}).content.decode()
    assert "CRA2_2r does not take rho3" in html
    assert client.get("/trials/power/").status_code == 200


@pytest.mark.parametrize("url", ["/trials/programme/new/", "/trials/new/",
                                 "/trials/programme/devolved-budgets/decisions/new/"])
def test_only_editors_create_records(client, outsider, demo, url):
    assert client.get(url).status_code == 302  # to sign in
    client.force_login(outsider)
    assert client.get(url).status_code == 403


def test_an_editor_adds_a_project_criterion_result_and_decision(editor_client):
    r = editor_client.post("/trials/programme/new/", {"slug": "fgc", "name": "Family group conferences",
                                                      "partners_text": "Leeds, Camden", "stage": "pilot",
                                                      "budget_gbp": "50000"})
    assert r.status_code == 302
    r = editor_client.post("/trials/programme/fgc/criteria/new/", {
        "measure": "referrals", "label": "referral rate", "stage": "pilot", "direction": "higher",
        "green": "50", "red": "80"})
    assert "red threshold must be" in r.content.decode()  # the core's rule, on the form
    r = editor_client.post("/trials/programme/fgc/criteria/new/", {
        "measure": "referrals", "label": "referral rate", "stage": "pilot", "direction": "higher",
        "green": "80", "red": "50", "unit": "%"})
    assert r.status_code == 302
    from whatworks.web.trials.models import Criterion

    pk = Criterion.objects.get(measure="referrals").pk
    assert editor_client.post(f"/trials/programme/fgc/criteria/{pk}/result/",
                              {"value": "65", "source": "pilot report"}).status_code == 302
    r = editor_client.post("/trials/programme/fgc/decisions/new/", {
        "outcome": "modify", "from_stage": "pilot", "to_stage": "pilot", "decided_by": "the board",
        "decided_on": "2026-01-15", "reason": "recruit more families"})
    assert r.status_code == 302
    r = editor_client.post("/trials/programme/fgc/evaluations/new/", {
        "key": "fgc-pilot", "title": "Pilot evaluation", "stage": "pilot", "status": "reported"})
    assert r.status_code == 302
    r = editor_client.post("/trials/programme/fgc/edit/", {
        "slug": "fgc", "name": "Family group conferences", "partners_text": "Leeds, Camden, Kent",
        "stage": "pilot", "budget_gbp": "60000"})
    assert r.status_code == 302
    html = editor_client.get("/trials/programme/fgc/").content.decode()
    assert "Leeds, Camden, Kent" in html and "Pilot evaluation" in html
    assert 'rag rag-amber">amber' in html and "recruit more families" in html
    assert "record result" in html
    r = editor_client.post("/trials/programme/fgc/decisions/new/", {
        "outcome": "progress", "from_stage": "pilot", "to_stage": "efficacy", "decided_by": "the board",
        "decided_on": "2026-06-01"}, follow=True)
    assert "The project is now at the efficacy trial stage." in r.content.decode()
    from whatworks.web.trials.models import Project

    assert Project.objects.get(slug="fgc").stage == "efficacy"


def test_an_editor_adds_a_trial_record_checked_by_the_core(editor_client, demo):
    record = json.loads((DEMO / "swis-trial.json").read_text())
    bad = {**record, "flow": {"arms": {"intervention": {"allocated": 3}}}}
    r = editor_client.post("/trials/new/", {"slug": "t2", "title": "Trial two", "status": "planned",
                                            "record_json": json.dumps(bad)})
    assert "arm &#x27;control&#x27; needs its &#x27;allocated&#x27; counts" in r.content.decode()
    r = editor_client.post("/trials/new/", {"slug": "power", "title": "x", "status": "planned",
                                            "record_json": "{}"})
    assert "reserved" in r.content.decode()
    del record["analysis_plan"]
    r = editor_client.post("/trials/new/", {"slug": "t2", "title": "Trial two", "status": "planned",
                                            "record_json": json.dumps(record)})
    assert r.status_code == 302 and r["Location"] == "/trials/t2/"
    assert "n = 268 schools" in editor_client.get("/trials/t2/").content.decode()


def test_forms_need_the_csrf_token(editor):
    c = Client(enforce_csrf_checks=True)
    c.force_login(editor)
    assert c.post("/trials/programme/new/", {"slug": "x"}).status_code == 403


def test_the_report_is_also_a_pdf_or_says_why_not(client, demo):
    r = client.get("/trials/swis-trial/report.pdf")
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        assert r.status_code == 409 and b"pip install weasyprint" in r.content
    else:
        assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_a_criterion_linked_to_a_trial_is_judged_when_the_result_arrives(editor_client, demo):
    from whatworks.web.trials.models import Trial

    html = editor_client.get("/trials/programme/social-workers-in-schools/").content.decode()
    assert "swis-trial: section 47 enquiries, ratio.estimate as a % change" in html  # 5.5 from 1.055
    r = editor_client.post("/trials/programme/devolved-budgets/criteria/new/", {
        "measure": "care_entry", "label": "change in entries to care", "stage": "pilot", "direction": "lower",
        "green": "-5", "red": "0", "unit": "%", "link_trial": "db-trial", "link_outcome": "entries to care",
        "link_field": "ratio.estimate", "link_scale": "percent-change"})
    assert r.status_code == 302
    html = editor_client.get("/trials/programme/devolved-budgets/").content.decode()
    assert "waiting for db-trial: entries to care" in html and 'rag rag-pending">pending' in html
    result = {"outcome": "entries to care", "ratio": {"estimate": 0.9}}
    Trial.objects.create(slug="db-trial", title="Devolved budgets trial",
                         record={"id": "db-trial", "title": "t", "results": [result]})
    html = editor_client.get("/trials/programme/devolved-budgets/").content.decode()
    assert "waiting for" not in html
    assert ">-10" in html  # 0.9 is a 10% fall: green
    assert 'rag rag-green">green' in html
