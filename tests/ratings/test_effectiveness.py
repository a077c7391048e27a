"""Every branch of the effectiveness rules, on hand-constructed inputs (scheme whatworks-2026 1.0)."""

import math

import numpy as np
import pytest

from tests.ratings.builders import meta_inputs, rate, smd, studies, study
from whatworks.ratings import SCHEME_V1, RatingInputs, StudyFacts, SynthesisNumbers
from whatworks.synthesis import meta_analysis

# --- meta-analysis path ------------------------------------------------------------------------


def test_it_rates_consistently_positive_when_ci_and_prediction_interval_exclude_no_effect():
    r = rate(meta_inputs(smd(0.30, 0.20, 0.40, pi=(0.05, 0.55), i2=40.0)))
    assert (r.effectiveness, r.effectiveness_code, r.path) == (2, "consistently-positive",
                                                              "meta-analysis")


def test_it_rates_tends_positive_when_the_prediction_interval_crosses_no_effect():
    r = rate(meta_inputs(smd(0.30, 0.20, 0.40, pi=(-0.10, 0.70), i2=70.0)))
    assert (r.effectiveness, r.effectiveness_code) == (1, "tends-positive")


def test_it_rates_consistently_positive_with_many_studies_and_most_of_the_predictive_mass_better():
    # se = 0.1/1.96, tau2 = 0.03: P(new effect > 0) = Phi(0.30 / sqrt(se^2 + 0.03)) = 0.952 >= 0.90
    syn = smd(0.30, 0.20, 0.40, k=12, tau2=0.03, i2=85.0)
    lo, hi = syn.prediction_interval()
    assert lo < 0 < hi
    assert rate(meta_inputs(syn)).effectiveness == 2


def test_the_probability_rule_needs_at_least_ten_studies():
    assert rate(meta_inputs(smd(0.30, 0.20, 0.40, k=9, tau2=0.03))).effectiveness == 1


def test_the_probability_rule_needs_a_ninety_percent_chance():
    # tau2 = 0.09: P = Phi(0.30 / sqrt(0.0026 + 0.09)) = 0.838 < 0.90
    assert rate(meta_inputs(smd(0.30, 0.20, 0.40, k=12, tau2=0.09))).effectiveness == 1


def test_a_common_effect_model_without_prediction_interval_reaches_at_most_tends_positive():
    r = rate(meta_inputs(smd(0.30, 0.20, 0.40)))
    assert r.effectiveness == 1
    assert "without a prediction interval" in r.explanation


def test_the_prediction_interval_is_computed_from_tau2_when_not_given():
    syn = smd(0.30, 0.20, 0.40, tau2=0.0)
    assert syn.prediction_interval() == pytest.approx((0.20, 0.40))
    assert rate(meta_inputs(syn)).effectiveness == 2


@pytest.mark.parametrize("pi,level", [((-0.55, -0.05), -2), ((-0.70, 0.10), -1)])
def test_negative_ratings_mirror_the_positive_ones(pi, level):
    r = rate(meta_inputs(smd(-0.30, -0.40, -0.20, pi=pi)))
    assert r.effectiveness == level
    assert r.effectiveness_code == {-2: "consistently-negative", -1: "tends-negative"}[level]


def test_a_precise_null_with_moderate_or_better_strength_is_evidence_of_no_effect():
    r = rate(meta_inputs(smd(0.02, -0.05, 0.09, pi=(-0.06, 0.10), i2=0.0)))
    assert (r.effectiveness, r.effectiveness_code) == (0, "no-effect")
    assert r.effectiveness_label == "Evidence of no effect"


def test_a_precise_null_from_weak_evidence_is_only_unclear():
    syn = smd(0.02, -0.05, 0.09, pi=(-0.06, 0.10), i2=0.0)
    inputs = RatingInputs("family-functioning", studies(5, rob="high"), syn,
                          review_amstar2="critically-low")
    r = rate(inputs)
    assert r.strength < 2
    assert (r.effectiveness, r.effectiveness_code) == (0, "unclear-or-mixed")
    assert "is below moderate" in r.explanation


def test_an_imprecise_null_is_unclear_not_evidence_of_no_effect():
    r = rate(meta_inputs(smd(0.05, -0.15, 0.25, pi=(-0.3, 0.4))))
    assert (r.effectiveness, r.effectiveness_code) == (0, "unclear-or-mixed")
    assert "does not rule out" in r.explanation


def test_no_effect_needs_a_smallest_important_effect_for_the_measure():
    syn = smd(0.1, -0.5, 0.7, measure="MD")
    assert rate(meta_inputs(syn)).effectiveness_code == "unclear-or-mixed"
    given = rate(meta_inputs(syn, smallest_important_effect=2.0))
    assert given.effectiveness_code == "no-effect"


def test_a_smallest_important_ratio_can_be_set_per_outcome():
    syn = SynthesisNumbers.from_natural_scale("RR", 6, 1.0, 0.85, 1.15)
    assert rate(meta_inputs(syn, outcome="entry-to-care")).effectiveness_code == "unclear-or-mixed"
    wider = rate(meta_inputs(syn, outcome="entry-to-care", smallest_important_effect=1.25))
    assert wider.effectiveness_code == "no-effect"


@pytest.mark.parametrize("outcome,expected", [("entry-to-care", 2), ("reunification", -2)])
def test_the_better_direction_comes_from_the_outcome(outcome, expected):
    # The same relative risk of 0.60 is a benefit for entry to care (decrease is better) and a harm
    # for reunification (increase is better).
    syn = SynthesisNumbers.from_natural_scale("RR", 8, 0.60, 0.48, 0.76, pi_lower=0.40,
                                              pi_upper=0.90)
    assert rate(meta_inputs(syn, outcome=outcome)).effectiveness == expected


def test_with_fewer_than_two_pooled_studies_it_falls_back_to_vote_counting():
    syn = smd(0.30, 0.20, 0.40, k=1)
    r = rate(RatingInputs("family-functioning", [study()], syn))
    assert r.path == "vote-count"


def test_it_accepts_a_fitted_meta_analysis_with_its_measure():
    yi = np.array([0.35, 0.20, 0.42, 0.28, 0.31])
    vi = np.array([0.010, 0.012, 0.015, 0.009, 0.011])
    fit = meta_analysis(yi, vi, method="REML")
    r = rate(RatingInputs("family-functioning", studies(5), fit, measure="SMD"))
    used = r.inputs["synthesis"]
    assert used["estimate"] == fit.estimate and used["pi_lower"] == fit.pi_lower
    assert used["measure"] == "SMD" and used["method"] == "REML"
    assert r.path == "meta-analysis"


def test_a_common_effect_meta_analysis_carries_no_prediction_interval():
    yi = np.array([0.35, 0.20, 0.42, 0.28, 0.31])
    vi = np.array([0.010, 0.012, 0.015, 0.009, 0.011])
    fit = meta_analysis(yi, vi, method="FE")
    r = rate(RatingInputs("family-functioning", studies(5), fit, measure="SMD"))
    assert r.inputs["synthesis"]["pi_lower"] is None and r.inputs["synthesis"]["tau2"] is None
    assert r.effectiveness == 1


def test_nothing_rigorous_is_no_evidence():
    r = rate(RatingInputs("entry-to-care", [study(design="pre-post", direction="decrease")]))
    assert (r.effectiveness, r.effectiveness_code, r.path) == (None, "no-evidence", "none")
    assert (r.strength, r.strength_label) == (0, "No or very low")


def test_no_studies_at_all_is_no_evidence_and_differs_from_evidence_of_no_effect():
    r = rate(RatingInputs("entry-to-care"))
    assert r.effectiveness is None and r.effectiveness_label == "No evidence"
    assert r.effectiveness_code != "no-effect"


# --- vote counting: a majority of both the studies and the participants -------------------------

def decrease(label, n, significant=True, **kw):
    return study(label, n=n, direction="decrease", significant=significant, **kw)


def neither(label, n):
    return study(label, n=n, direction="increase", significant=False)


def vote(*facts, scheme=None, **kw):
    return rate(RatingInputs("entry-to-care", facts, **kw), scheme)


def test_a_majority_of_both_studies_and_participants_tends_positive():
    r = vote(decrease("A", 300), decrease("B", 300), neither("C", 300))
    assert (r.effectiveness, r.path) == (1, "vote-count")


def test_a_majority_of_studies_without_a_majority_of_participants_is_not_enough():
    r = vote(decrease("A", 100), decrease("B", 100), neither("C", 1000))
    assert (r.effectiveness, r.effectiveness_code) == (0, "unclear-or-mixed")


def test_a_majority_of_participants_without_a_majority_of_studies_is_not_enough():
    r = vote(decrease("A", 1000), neither("B", 100), neither("C", 100))
    assert r.effectiveness == 0


@pytest.mark.parametrize("facts", [
    (decrease("A", 300), decrease("B", 300), neither("C", 300), neither("D", 300)),
    (decrease("A", 500), decrease("B", 500), neither("C", 100), neither("D", 100)),  # half the studies
    (decrease("A", 300), decrease("B", 200), decrease("C", 100), neither("D", 600)),  # half the people
])
def test_exactly_half_is_not_a_majority(facts):
    assert vote(*facts).effectiveness == 0


def test_every_study_showing_a_benefit_is_consistently_positive():
    assert vote(decrease("A", 300), decrease("B", 200), decrease("C", 100)).effectiveness == 2


def test_a_single_study_showing_a_benefit_only_tends_positive():
    assert vote(decrease("A", 3000)).effectiveness == 1


@pytest.mark.parametrize("facts,expected", [
    ((study("A", direction="increase"), study("B", direction="increase"), neither("C", 300)), -1),
    ((study("A", direction="increase"), study("B", direction="increase")), -2),
])
def test_harm_mirrors_benefit_in_vote_counting(facts, expected):
    assert vote(*facts).effectiveness == expected


def test_the_vote_basis_is_a_scheme_parameter():
    facts = (decrease("A", 300, False), decrease("B", 300, False), decrease("C", 300, False))
    assert vote(*facts).effectiveness == 0
    by_direction = SCHEME_V1.revise("1.0-direction", changes="count directions",
                                       vote_basis="direction")
    r = vote(*facts, scheme=by_direction)
    assert r.effectiveness == 2 and r.scheme_version == "1.0-direction"


def test_unknown_significance_counts_as_showing_neither():
    assert vote(decrease("A", 300, None), decrease("B", 300, None)).effectiveness == 0


def test_a_majority_of_precise_nulls_is_evidence_of_no_effect():
    half = math.log(1.05)
    precise = [StudyFacts(f"P{i}", "rct", 1000, "low", estimate=0.0, ci_lower=-half, ci_upper=half)
               for i in range(2)]
    r = vote(*precise, decrease("A", 100), measure="RR")
    assert (r.effectiveness, r.effectiveness_code) == (0, "no-effect")


def test_a_precise_null_never_counts_as_a_benefit_under_the_direction_basis():
    half = math.log(1.05)
    precise = StudyFacts("P", "rct", 5000, "low", estimate=-0.01, ci_lower=-0.01 - half,
                         ci_upper=-0.01 + half)
    by_direction = SCHEME_V1.revise("1.0-direction", changes="count directions",
                                       vote_basis="direction")
    r = vote(precise, measure="RR", scheme=by_direction)
    assert r.effectiveness_code == "no-effect"
