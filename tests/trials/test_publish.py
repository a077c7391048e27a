"""A trial record's results as Evidence Store study + finding inputs (whatworks.trials.publish)."""

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.errors import InputError
from whatworks.trials.publish import publication, record_sha256, trial_of_study_key
from whatworks.trials.record import load_record, record_from_dict

DEMO = Path(__file__).resolve().parents[2] / "src/whatworks/data/programme/swis-trial.json"
Z = 1.959963984540054


@pytest.fixture
def data():
    return json.loads(DEMO.read_text(encoding="utf-8"))


def test_the_demo_trial_publishes_a_cluster_rct_with_a_log_rate_ratio():
    pub = publication(load_record(DEMO))
    s = pub.study
    assert (s.key, s.design, s.source, s.unit_of_randomisation) == ("trial-swis-trial", "cluster-rct",
                                                                    "trial", "school")
    assert s.sample_size == 134000 + 133000  # pupils analysed in both arms
    assert s.risk_of_bias == ""  # not recorded: unclear
    assert s.illustrative  # the record lists illustrative parts
    assert pub.intervention == "social-workers-in-schools"
    (f,) = pub.findings
    assert (f.outcome, f.measure, f.timepoint_months, f.primary) == ("section-47-enquiries", "IRR", 24, True)
    # the published rate ratio 1.055 (0.955 to 1.166): log RR and vi from the CI on the log scale
    assert f.yi == pytest.approx(math.log(1.055), abs=1e-12)
    assert f.vi == pytest.approx(((math.log(1.166) - math.log(0.955)) / (2 * Z)) ** 2, rel=1e-9)
    assert f.vi == pytest.approx(0.002593, abs=5e-7)  # the value the store's curated SWIS finding holds
    assert f.reported == {"yi": f.yi, "vi": f.vi}
    assert pub.record_sha256 in f.notes and "swis-trial" in f.notes
    assert pub.provenance == {"source": "trial", "trial": "swis-trial", "record_sha256": pub.record_sha256}
    assert trial_of_study_key(s.key) == "swis-trial" and trial_of_study_key("swis-2023") is None


def test_a_gaussian_result_publishes_hedges_g_with_the_variance_from_its_ci(data):
    data["results"] = [{"outcome": "wellbeing", "family": "gaussian", "estimate": 1.2,
                        "effect_size": {"g": 0.12, "ci_lower": 0.02, "ci_upper": 0.22}}]
    data["evidence_store"].update(outcomes={"wellbeing": "wellbeing"}, risk_of_bias="some concerns")
    data["cluster"] = False
    (f,) = publication(record_from_dict(data)).findings
    assert (f.measure, f.yi) == ("SMD", 0.12)
    assert f.vi == pytest.approx((0.2 / (2 * Z)) ** 2, rel=1e-9)
    assert publication(record_from_dict(data)).study.design == "rct"
    assert publication(record_from_dict(data)).study.risk_of_bias == "some concerns"


def test_a_binomial_result_is_a_log_odds_ratio_and_null_leaves_a_result_out(data):
    data["results"].append({"outcome": "entered care", "family": "binomial",
                            "ratio": {"estimate": 0.8, "ci_lower": 0.64, "ci_upper": 1.0}})
    data["results"].append({"outcome": "attendance", "family": "gaussian"})
    data["evidence_store"]["outcomes"].update({"entered care": "entry-to-care", "attendance": None})
    pub = publication(record_from_dict(data), intervention="other-slug")
    assert [f.measure for f in pub.findings] == ["IRR", "OR"] and pub.left_out == ("attendance",)
    assert pub.findings[1].yi == pytest.approx(math.log(0.8))
    assert pub.intervention == "other-slug"  # the publisher's choice wins over the record's


def test_the_record_hash_changes_with_the_record(data):
    a = record_sha256(record_from_dict(data))
    data["results"][0]["ci_upper"] = 0.2
    assert record_sha256(record_from_dict(data)) != a
    assert record_sha256(data) == record_sha256(record_from_dict(data))


@pytest.mark.parametrize("edit, column", [
    (lambda d: d.pop("evidence_store"), "evidence_store.outcomes"),
    (lambda d: d["evidence_store"]["outcomes"].clear(), "evidence_store.outcomes"),
    (lambda d: d["evidence_store"].update(outcomes={"other": "x"}), "evidence_store.outcomes"),
    (lambda d: d["evidence_store"].update(outcomes={"section 47 enquiries": None}),
     "evidence_store.outcomes"),
    (lambda d: d.pop("results"), "results"),
    (lambda d: d["results"][0].pop("family"), "results[0].family"),
    (lambda d: d["results"][0].pop("ratio"), "results[0].ratio"),
    (lambda d: d["results"][0]["ratio"].pop("ci_upper"), "results[0].ratio.ci_upper"),
    (lambda d: d["results"][0]["ratio"].update(ci_lower=-1), "results[0].ratio"),
    (lambda d: d["results"][0]["ratio"].update(ci_lower=1.1), "results[0].ratio"),
    (lambda d: d["results"][0].update(family="gaussian"), "results[0].effect_size"),
    (lambda d: d["flow"]["arms"]["control"]["analysed"].pop("individuals"),
     "flow.arms.control.analysed.individuals"),
    (lambda d: d["evidence_store"].update(risk_of_bias="dubious"), "evidence_store.risk_of_bias"),
    (lambda d: d["evidence_store"].update(timepoint_months="soon"), "evidence_store.timepoint_months"),
    (lambda d: d["evidence_store"].update(year=1492), "evidence_store.year"),
])
def test_a_missing_or_bad_piece_is_named(data, edit, column):
    edit(data)
    with pytest.raises(InputError) as e:
        publication(record_from_dict(data, source="swis-trial.json"))
    assert e.value.column == column and "swis-trial.json" in str(e.value)


def test_two_results_on_one_outcome_and_time_point_are_refused(data):
    data["results"].append(copy.deepcopy(data["results"][0]) | {"outcome": "s47 again"})
    data["evidence_store"]["outcomes"]["s47 again"] = "section-47-enquiries"
    with pytest.raises(InputError, match="same time point"):
        publication(record_from_dict(data))
    data["results"][1]["timepoint_months"] = 36
    assert [f.timepoint_months for f in publication(record_from_dict(data)).findings] == [24, 36]


@settings(max_examples=60, deadline=None)
@given(est=st.floats(0.05, 20), lo=st.floats(0.01, 0.99), hi=st.floats(1.01, 5))
def test_a_ratio_always_gives_its_log_and_the_variance_of_its_ci(est, lo, hi):
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    data["results"][0]["ratio"] = {"estimate": est, "ci_lower": est * lo, "ci_upper": est * hi}
    (f,) = publication(record_from_dict(data)).findings
    assert f.yi == pytest.approx(math.log(est), abs=1e-9)
    assert f.vi == pytest.approx(((math.log(hi) - math.log(lo)) / (2 * Z)) ** 2, rel=1e-6)
    assert isinstance(f.vi, float) and f.vi > 0


# -- is the trial's study already in the store? -----------------------------------------------------

from whatworks.trials.publish import (  # noqa: E402
    SAME_VI_REL,
    SAME_YI,
    DuplicateStudyError,
    StoredFinding,
    StoredStudy,
    existing_study,
    match_findings,
)

CURATED = StoredStudy(key="swis-westlake2023", citation="Westlake D, et al. (2023). Social Workers in "
                      "Schools: trial evaluation report.", year=2023,
                      intervention="social-workers-in-schools",
                      findings=(StoredFinding("section-47-enquiries", 23, "IRR", 0.053541, 0.002593,
                                              "Published result"),))


def _pub(data, **store):
    data = copy.deepcopy(data)
    data["evidence_store"].update(store)
    return publication(record_from_dict(data))


def test_it_refuses_a_second_copy_of_a_trial_with_the_same_effect_and_offers_the_update(data):
    with pytest.raises(DuplicateStudyError) as e:
        existing_study(_pub(data), [CURATED])
    assert e.value.key == "swis-westlake2023"
    assert "update the existing study" in str(e.value) and '"study": "swis-westlake2023"' in str(e.value)


def test_the_same_effect_under_another_intervention_is_not_a_duplicate(data):
    other = StoredStudy(**{**CURATED.__dict__, "intervention": "schwartz-rounds"})
    assert existing_study(_pub(data), [other]) is None


@settings(max_examples=60, deadline=None)
@given(dy=st.floats(-0.01, 0.01), rel=st.floats(-0.5, 0.5))
def test_a_duplicate_is_flagged_exactly_when_the_effect_agrees_within_the_stated_tolerance(dy, rel):
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    pub = publication(record_from_dict(data))
    fi = pub.findings[0]
    yi, vi = fi.yi + dy, fi.vi * (1 + rel)
    stored = StoredStudy(**{**CURATED.__dict__, "findings": (
        StoredFinding("section-47-enquiries", 23, "IRR", yi, vi),)})
    same = abs(yi - fi.yi) <= SAME_YI and abs(vi - fi.vi) <= SAME_VI_REL * fi.vi
    try:
        existing_study(pub, [stored])
        flagged = False
    except DuplicateStudyError:
        flagged = True
    assert flagged == same


def test_a_registration_id_or_doi_in_the_citation_is_the_same_trial_whatever_the_punctuation(data):
    cited = StoredStudy(key="x", citation="Smith (2021). ISRCTN 1234-5678. doi:10.1000/ABC.1", year=2021,
                        intervention="other")
    with pytest.raises(DuplicateStudyError, match="registration ISRCTN12345678"):
        existing_study(_pub(data, registration="ISRCTN12345678"), [cited])
    with pytest.raises(DuplicateStudyError, match="doi"):
        existing_study(_pub(data, doi="10.1000/abc.1"), [cited])
    assert existing_study(_pub(data, registration="ISRCTN87654321"), [cited]) is None


def test_the_title_and_year_in_a_citation_is_the_same_trial(data):
    cited = StoredStudy(key="y", citation="Social workers in schools: a cluster randomised trial in "
                        "secondary schools. Report, 2023.", year=2023, intervention="other")
    with pytest.raises(DuplicateStudyError, match="title and year 2023"):
        existing_study(_pub(data, year=2023), [cited])
    assert existing_study(_pub(data, year=2022), [cited]) is None


def test_the_publisher_decides_update_or_another_study(data):
    found = existing_study(_pub(data, study="swis-westlake2023"), [CURATED])
    assert (found.key, found.rule) == ("swis-westlake2023", "named")
    assert existing_study(_pub(data), [CURATED], update="swis-westlake2023").rule == "named"
    assert existing_study(_pub(data, not_same_as=["swis-westlake2023"]), [CURATED]) is None
    with pytest.raises(InputError, match="no Evidence Store study 'nope'"):
        existing_study(_pub(data), [CURATED], update="nope")
    with pytest.raises(InputError, match="evidence_store.study"):
        _pub(data, study=3)


def test_its_own_key_and_its_earlier_findings_find_the_trials_study(data):
    pub = _pub(data)
    own = StoredStudy(key="trial-swis-trial", citation="", year=None,
                      intervention="social-workers-in-schools")
    assert existing_study(pub, [own, CURATED]).rule == "own key"
    linked = StoredStudy(**{**CURATED.__dict__, "findings": (
        StoredFinding("section-47-enquiries", 24, "IRR", 0.05, 0.002, pub.findings[0].notes),)})
    assert existing_study(pub, [linked]).rule == "published before"


def test_updating_a_curated_study_takes_its_only_finding_on_the_outcome(data):
    pub = _pub(data)
    named = existing_study(pub, [CURATED], update="swis-westlake2023")
    other = StoredFinding("entry-to-care", 23, "OR", 0.1, 0.01)
    assert match_findings(pub, named, [other, CURATED.findings[0]]) == ({0: 1}, [])
    # under its own key only the same time point matches; stale findings it published are removed
    own = existing_study(pub, [StoredStudy("trial-swis-trial", "", None, "x")])
    stale = StoredFinding("entry-to-care", 24, "OR", 0.1, 0.01, pub.findings[0].notes)
    assert match_findings(pub, own, [CURATED.findings[0], stale]) == ({}, [1])


@settings(max_examples=40, deadline=None)
@given(level=st.floats(50, 99.9), est=st.floats(0.3, 3), se=st.floats(0.01, 1))
def test_a_ratio_at_any_confidence_level_publishes_the_variance_of_its_se(level, est, se):
    from statistics import NormalDist

    data = json.loads(DEMO.read_text(encoding="utf-8"))
    z = NormalDist().inv_cdf(1 - (1 - level / 100) / 2)
    lo, hi = math.exp(math.log(est) - z * se), math.exp(math.log(est) + z * se)
    data["results"] = [{"outcome": "section 47 enquiries", "family": "poisson", "level": level,
                        "ratio": {"estimate": est, "ci_lower": lo, "ci_upper": hi}}]
    (f,) = publication(record_from_dict(data)).findings
    assert f.vi == pytest.approx(se ** 2, rel=1e-6)
    assert f"({level:g}% CI " in f.notes


def test_a_result_with_a_bad_confidence_level_is_refused_naming_it(data):
    data["results"][0]["level"] = 195
    with pytest.raises(InputError, match=r"results\[0\]\.level"):
        record_from_dict(data)
