"""Analysing an uploaded outcome file on a trial's page: the columns from the header, the family, the
core's intention-to-treat model; the treatment from the stored allocation when the trial was randomised
here (mismatches reported); the result stored with its input's SHA-256 and shown in the report; bad
files refused with one message and nothing saved."""

import hashlib
import io
import math

import numpy as np
import pandas as pd
import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from whatworks.trials.analyse import analyse
from whatworks.web.trials.models import Trial, TrialAllocation, TrialAnalysisRecord, TrialUpload

pytestmark = pytest.mark.django_db
URL = "/trials/t2/analyse/"


def outcomes(n_la=4, per_la=4, pupils=12, seed=3) -> pd.DataFrame:
    """Pupils in schools in local authorities; schools alternately treated; a continuous score, a
    binary outcome and a count with exposure."""
    rng = np.random.default_rng(seed)
    rows = []
    for la in range(n_la):
        for s in range(per_la):
            school, treated, u = f"S{la}{s}", (la + s) % 2, rng.normal(0, .4)
            for p in range(pupils):
                x = rng.normal()
                rows.append({"pupil": f"{school}-{p}", "school": school, "la": f"LA{la}",
                             "arm": "treatment" if treated else "control", "baseline": round(x, 3),
                             "score": round(10 + .4 * treated + u + .5 * x + rng.normal(), 3),
                             "left": int(rng.random() < 1 / (1 + math.exp(-(u + .3 * treated)))),
                             "months": int(rng.integers(6, 24)),
                             "enquiries": int(rng.poisson(math.exp(-1 + u + .2 * treated)) * 1)})
    return pd.DataFrame(rows)


DATA = outcomes()
CSV = DATA.to_csv(index=False)


@pytest.fixture
def trial(db):
    return Trial.objects.create(slug="t2", title="Trial two", record={"id": "t2", "title": "Trial two"})


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def upload(c, text=CSV, name="outcomes.csv"):
    f = io.BytesIO(text.encode())
    f.name = name
    r = c.post(URL, {"step": "upload", "file": f})
    assert r.status_code == 302, r.content.decode()[:2000]
    return int(r["Location"].split("upload=")[1])


def run(c, up, **fields):
    data = {"step": "analyse", "upload": up, "outcome": "score", "treatment_from": "file",
            "treatment": "arm", "cluster": "school", "family": "gaussian", **fields}
    return c.post(URL, data)


def test_only_editors_and_admins_analyse(client, trial, outsider, editor, admin):
    assert client.get(URL).status_code == 302
    assert _client(outsider).get(URL).status_code == 403
    assert _client(editor).get(URL).status_code == 200
    assert _client(admin).get(URL).status_code == 200


def test_a_gaussian_analysis_is_the_cores_stored_with_its_inputs_hash(trial, editor, client):
    c = _client(editor)
    up = upload(c)
    f = c.get(f"{URL}?upload={up}").context["form"]
    assert [v for v, _ in f.fields["outcome"].choices][1:] == list(DATA.columns)
    r = run(c, up, covariates=["baseline"], block="la", outcome_name="attainment", primary="on")
    assert r.status_code == 302, r.content.decode()[:3000]
    rec = TrialAnalysisRecord.objects.get()
    expected = analyse(pd.read_csv(io.StringIO(CSV)), outcome="score", treatment="arm", cluster="school",
                       block="la", covariates=["baseline"], family="gaussian")
    assert rec.results["estimate"] == pytest.approx(expected.estimate, rel=1e-9)
    assert rec.results["effect_size"]["g"] == pytest.approx(expected.effect_size["g"], rel=1e-9)
    assert rec.inputs_sha256 == hashlib.sha256(CSV.encode()).hexdigest()
    assert rec.options["covariates"] == ["baseline"] and rec.options["family"] == "gaussian"
    assert set(rec.software) >= {"whatworks", "numpy"}
    html = client.get(r["Location"]).content.decode()  # readers see the analysis
    assert "a linear mixed model (REML) of &#x27;score&#x27; on treatment" in html
    assert "with a random intercept for each &#x27;school&#x27;, fixed effects for &#x27;la&#x27;" in html
    assert "Hedges' g" in html and f"{expected.effect_size['g']:.3f}" in html
    assert f"{expected.icc:.3f}" in html and rec.inputs_sha256 in html
    page = client.get("/trials/t2/").content.decode()
    assert "attainment (primary)" in page


def test_the_evaluator_chooses_the_confidence_level_stored_and_shown_with_the_result(trial, editor,
                                                                                  client):
    c = _client(editor)
    up = upload(c)
    assert c.get(f"{URL}?upload={up}").context["form"]["level"].initial == 95
    r = run(c, up, level="90")
    assert r.status_code == 302, r.content.decode()[:3000]
    rec = TrialAnalysisRecord.objects.get()
    expected = analyse(pd.read_csv(io.StringIO(CSV)), outcome="score", treatment="arm",
                       cluster="school", family="gaussian", level=90)
    assert rec.options["level"] == 90 and rec.results["level"] == 90
    assert rec.results["ci_lower"] == pytest.approx(expected.ci_lower, rel=1e-9)
    html = client.get(r["Location"]).content.decode()
    assert "90% confidence interval (Wald)" in html and "95%" not in html
    assert "with a Wald 90% interval" in html
    page = client.get("/trials/t2/").content.decode()
    assert "(90% CI " in page
    report = client.get("/trials/t2/report.html")
    assert report.status_code == 200 and "90% CI</th>" in report.content.decode()


def test_a_confidence_level_left_blank_is_95_and_one_out_of_range_is_refused(trial, editor):
    c = _client(editor)
    up = upload(c)
    for bad in ("100", "40", "ninety"):
        r = run(c, up, level=bad)
        assert r.status_code == 400 and not TrialAnalysisRecord.objects.exists()
        assert "level" in r.context["form"].errors
    assert run(c, up, level="").status_code == 302
    assert TrialAnalysisRecord.objects.get().options["level"] == 95


@pytest.mark.parametrize("family,outcome,extra,measure", [
    ("binomial", "left", {}, "odds ratio"),
    ("poisson", "enquiries", {"exposure": "months"}, "rate ratio"),
])
def test_binary_and_count_outcomes_report_their_ratio(trial, editor, family, outcome, extra, measure):
    c = _client(editor)
    r = run(c, upload(c), family=family, outcome=outcome, **extra)
    assert r.status_code == 302, r.content.decode()[:3000]
    rec = TrialAnalysisRecord.objects.get()
    expected = analyse(DATA, outcome=outcome, treatment="arm", cluster="school", family=family,
                       exposure=extra.get("exposure"))
    assert rec.results["ratio"]["estimate"] == pytest.approx(expected.ratio["estimate"], rel=1e-6)
    html = c.get(r["Location"]).content.decode()
    assert measure.capitalize() in html and f"{expected.ratio['estimate']:.3f}" in html
    if extra:
        assert "with log(&#x27;months&#x27;) as offset" in html


@pytest.mark.parametrize("change,fields,message", [
    (None, {"outcome": "grade"}, "Outcome column: Select a valid choice. grade is not one of the"),
    (lambda d: d.assign(score=d["score"].astype(object).where(d.index != 4, "n/a")), {},
     "outcomes.csv, row 5, column &#x27;score&#x27;: &#x27;n/a&#x27; is not a number"),
    (lambda d: d.assign(arm="treatment"), {},
     "column &#x27;arm&#x27;: has 1 distinct values (treatment); the treatment column needs exactly two"),
    (lambda d: d.assign(school="S00"), {}, "column &#x27;school&#x27;: has fewer than two clusters"),
    (None, {"family": "gaussian", "exposure": "months"}, "exposure=&#x27;months&#x27; is not allowed"),
    (None, {"family": "binomial", "outcome": "score"}, "a binary outcome must be 0 or 1"),
])
def test_bad_files_and_choices_get_one_message_and_nothing_is_saved(trial, editor, change, fields,
                                                                     message):
    c = _client(editor)
    text = CSV if change is None else change(DATA.copy()).to_csv(index=False)
    r = run(c, upload(c, text), **fields)
    html = r.content.decode()
    assert r.status_code == 400 and "There is a problem" in html and message in html, html[-4000:]
    assert "Traceback" not in html and not TrialAnalysisRecord.objects.exists()


def test_a_file_with_a_ragged_row_is_refused_at_upload_naming_the_row(trial, editor):
    c = _client(editor)
    f = io.BytesIO(b"school,arm,score\nS1,control,1\nS2,treatment,2,9\n")
    f.name = "outcomes.csv"
    r = c.post(URL, {"step": "upload", "file": f})
    html = r.content.decode()
    assert r.status_code == 400 and "outcomes.csv, row 2: has 4 fields but the header has 3" in html
    assert not TrialUpload.objects.exists()


def test_the_web_analysis_is_limited_in_rows(trial, editor, settings):
    settings.WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS = 50
    c = _client(editor)
    r = run(c, upload(c))
    assert r.status_code == 400 and "WHATWORKS_TRIAL_ANALYSIS_MAX_ROWS" in r.content.decode()
    assert not TrialAnalysisRecord.objects.exists()


def _randomise_schools(c, schools):
    units = pd.DataFrame({"school": schools}).to_csv(index=False)
    f = io.BytesIO(units.encode())
    f.name = "schools.csv"
    r = c.post("/trials/t2/randomise/", {"step": "upload", "file": f})
    up = int(r["Location"].split("upload=")[1])
    data = {"step": "preview", "upload": up, "method": "complete", "seed": 11, "unit": "school",
            "arms": "control treatment", "metric": "l2", "cutoff": "0.1", "max_enumerate": "100000",
            "n_candidates": "50000", "samearmhi": "0.75", "samearmlo": "0.25", "p_best": "0.8"}
    r = c.post("/trials/t2/randomise/", data)
    r = c.post("/trials/t2/randomise/", {**data, "step": "confirm",
                                         "fingerprint": r.context["preview"].fingerprint})
    assert r.status_code == 302
    return {row["unit"]: row["arm"] for row in TrialAllocation.objects.get().rows}


def test_the_treatment_is_taken_from_the_stored_allocation_and_mismatches_are_reported(trial, editor):
    c = _client(editor)
    schools = sorted(DATA["school"].unique())
    arm = _randomise_schools(c, schools[1:] + ["S99"])  # S00 never allocated; S99 has no pupils
    r = run(c, upload(c), treatment_from="allocation", match_by="school", match_key="unit")
    assert r.status_code == 302, r.content.decode()[-3000:]
    rec = TrialAnalysisRecord.objects.get()
    d = DATA[DATA["school"] != "S00"].assign(allocated=lambda x: x["school"].map(arm))
    expected = analyse(d, outcome="score", treatment="allocated", treated="treatment",
                       cluster="school", family="gaussian")
    assert rec.results["estimate"] == pytest.approx(expected.estimate, rel=1e-9)
    assert rec.join["n_unknown_rows"] == 12 and rec.join["unknown_ids"] == ["S00"]
    assert rec.join["allocated_without_rows"] == ["S99"]
    assert rec.join["n_treatment_disagrees"] == int((d["arm"] != d["allocated"]).sum())
    html = c.get(f"/trials/t2/analyses/{rec.pk}/").content.decode()
    assert "12 rows have an id that was not allocated and were left out (e.g. S00)" in html
    assert "1 allocated units have no row in the file (e.g. S99)" in html
    assert "the arm from the stored allocation" in html


def test_the_report_shows_the_allocation_its_verification_and_the_analysis(trial, editor, client):
    c = _client(editor)
    _randomise_schools(c, sorted(DATA["school"].unique()))
    run(c, upload(c), outcome_name="attainment", primary="on", treatment_from="allocation",
        match_by="school", match_key="unit")
    rec = TrialAnalysisRecord.objects.get()
    html = client.get("/trials/t2/report.html").content.decode()
    assert "<td>complete</td>" in html and "<code>11</code>" in html
    assert "audit log verified" in html and "intact: 18 entries, 16 allocations" in html
    assert "attainment (primary)" in html and f"{rec.results['estimate']:.4f}"[:5] in html
    assert rec.inputs_sha256 in html
    assert "The record has no results yet" not in html


def test_a_later_analysis_of_the_same_outcome_replaces_it_in_the_report(trial, editor, client):
    from whatworks.web.trials import core

    c = _client(editor)
    up = upload(c)
    run(c, up, outcome_name="attainment")
    run(c, up, outcome_name="attainment", covariates=["baseline"])
    results = core.to_record(Trial.objects.get()).get("results")
    assert len(results) == 1
    assert results[0]["estimate"] == TrialAnalysisRecord.objects.first().results["estimate"]


def test_publishing_reads_the_stored_analysis_as_the_records_result(trial, editor):
    from whatworks.web.trials.publish import prepare

    Trial.objects.filter(pk=trial.pk).update(record={
        "id": "t2", "title": "Trial two",
        "flow": {"arms": {"intervention": {"analysed": {"individuals": 96}},
                          "control": {"analysed": {"individuals": 96}}}},
        "evidence_store": {"outcomes": {"attainment": "attainment"}}})
    c = _client(editor)
    run(c, upload(c), outcome_name="attainment", primary="on")
    es = TrialAnalysisRecord.objects.get().results["effect_size"]
    (finding,) = prepare(Trial.objects.get()).findings
    assert finding.measure == "SMD" and finding.yi == pytest.approx(es["g"], rel=1e-12)


def test_an_analysis_past_the_time_limit_is_stopped_and_nothing_is_saved(trial, editor, settings,
                                                                          monkeypatch):
    import time

    from whatworks.trials import analyse as core

    settings.WHATWORKS_TRIAL_ANALYSIS_TIMEOUT = 1
    monkeypatch.setattr(core, "analyse", lambda *a, **k: time.sleep(30))
    c = _client(editor)
    started = time.monotonic()
    r = run(c, upload(c))
    assert time.monotonic() - started < 10
    html = r.content.decode()
    assert r.status_code == 400 and "took longer than 1 s and was stopped" in html
    assert "WHATWORKS_TRIAL_ANALYSIS_TIMEOUT" in html and not TrialAnalysisRecord.objects.exists()


def test_the_analysis_child_leaves_the_requests_database_connection_working(trial, editor):
    c = _client(editor)
    for _ in range(3):
        assert run(c, upload(c)).status_code == 302
    assert TrialAnalysisRecord.objects.count() == 3 and Trial.objects.get().slug == "t2"


def test_numeric_ids_are_stored_and_matched_exactly_as_written(trial, editor):
    c = _client(editor)
    codes = {s: f"0{100 + i}" for i, s in enumerate(sorted(DATA["school"].unique()))}
    arm = _randomise_schools(c, list(codes.values()))
    assert set(arm) == set(codes.values())  # '0100' stays '0100' (never '100.0' or '100')
    data = DATA.assign(school=DATA["school"].map(codes))
    r = run(c, upload(c, data.to_csv(index=False)), treatment_from="allocation", match_by="school")
    html = r.content.decode()
    assert r.status_code == 302, html[html.find("error-summary"):][:1500]
    join = TrialAnalysisRecord.objects.get().join
    assert join["matched_rows"] == len(DATA) and join["n_unknown_rows"] == 0


def test_cluster_ids_that_are_equal_as_numbers_stay_different_clusters(trial, editor):
    c = _client(editor)
    schools = sorted(DATA["school"].unique())
    codes = {s: ("0" if i % 2 else "") + str(i // 2) for i, s in enumerate(schools)}  # 0, 00, 1, 01
    r = run(c, upload(c, DATA.assign(school=DATA["school"].map(codes)).to_csv(index=False)))
    assert r.status_code == 302, r.content.decode()[:2000]
    assert TrialAnalysisRecord.objects.get().results["n_clusters"] == len(schools)


def test_an_outcome_file_whose_ids_are_spelt_otherwise_is_refused_clearly(trial, editor):
    c = _client(editor)
    codes = {s: 100 + i for i, s in enumerate(sorted(DATA["school"].unique()))}
    _randomise_schools(c, list(codes.values()))
    data = DATA.assign(school=DATA["school"].map(lambda s: f"{codes[s]}.0"))
    r = run(c, upload(c, data.to_csv(index=False)), treatment_from="allocation", match_by="school")
    html = r.content.decode()
    assert r.status_code == 400 and not TrialAnalysisRecord.objects.exists()
    assert "ids are matched exactly as written" in html
    assert "&#x27;100.0&#x27;" in html and "&#x27;100&#x27;" in html


names = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


@given(family=st.sampled_from(["gaussian", "binomial", "poisson", "negbin"]), outcome=names,
       cluster=names, block=st.none() | names, covariates=st.lists(names, max_size=3, unique=True),
       exposure=st.none() | names, joined=st.booleans(), n=st.integers(4, 10_000),
       excluded=st.integers(0, 50))
def test_the_model_in_words_says_exactly_what_was_fitted(family, outcome, cluster, block, covariates,
                                                         exposure, joined, n, excluded):
    from types import SimpleNamespace

    from whatworks.web.trials.allocation import model_in_words

    opts = {"family": family, "outcome": outcome, "treatment": "allocated_arm" if joined else "arm",
            "cluster": cluster, "block": block, "covariates": covariates, "exposure": exposure,
            "joined": joined}
    text = model_in_words(opts, SimpleNamespace(n=n, n_clusters=3, n_excluded=excluded, level=95.0))
    assert f"of '{outcome}' on treatment" in text
    assert f"with a random intercept for each '{cluster}'" in text
    assert ("fixed effects for" in text) == bool(block)
    assert ("adjusted for" in text) == bool(covariates)
    assert all(f"'{c}'" in text for c in covariates)
    assert ("as offset" in text) == bool(exposure)
    assert ("the arm from the stored allocation" in text) == joined
    assert f"{n} units in 3 clusters" in text
    assert ("left out" in text) == (excluded > 0)
    scale = {"gaussian": "a mean difference", "binomial": "a log odds ratio"}.get(family,
                                                                                "a log rate ratio")
    assert f"the estimate is {scale}" in text
