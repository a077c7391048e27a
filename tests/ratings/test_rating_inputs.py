"""Validation and conversion of what a rating is computed from."""

import math

import numpy as np
import pytest

from tests.ratings.builders import smd, study
from whatworks.errors import InputError, ParameterError
from whatworks.ratings import RatingInputs, StudyFacts, SynthesisNumbers
from whatworks.synthesis import meta_analysis


def test_study_direction_and_significance_come_from_the_estimate_and_interval():
    s = StudyFacts("A", "RCT", 120, "some concerns", estimate=-0.4, ci_lower=-0.7, ci_upper=-0.1)
    assert (s.direction, s.significant, s.design, s.risk_of_bias) == (
        "decrease", True, "rct", "moderate")
    assert StudyFacts("B", "rct", 10, "low", estimate=0.1, ci_lower=-0.2,
                      ci_upper=0.4).significant is False


@pytest.mark.parametrize("given,expected", [
    ("cluster RCT", "cluster-rct"), ("quasi-experimental", "qed"), ("Randomised controlled trial",
                                                                    "rct"),
    ("before_after", "pre-post")])
def test_design_names_are_normalised(given, expected):
    assert study(design=given).design == expected


@pytest.mark.parametrize("given,expected", [
    ("Low", "low"), ("serious", "high"), ("critical", "high"), ("unclear", "high")])
def test_risk_of_bias_is_normalised_conservatively(given, expected):
    assert study(rob=given).risk_of_bias == expected


@pytest.mark.parametrize("kwargs,error", [
    ({"design": "anecdote"}, ParameterError), ({"rob": "meh"}, ParameterError),
    ({"n": 0}, InputError), ({"n": 12.5}, InputError), ({"direction": "up"}, ParameterError),
])
def test_bad_study_facts_are_refused(kwargs, error):
    with pytest.raises(error):
        study(**kwargs)


def test_contradictory_study_facts_are_refused():
    with pytest.raises(InputError, match="contradicts"):
        StudyFacts("A", "rct", 10, "low", direction="increase", estimate=-0.2)
    with pytest.raises(InputError, match="contradicts"):
        StudyFacts("A", "rct", 10, "low", significant=True, estimate=0.1, ci_lower=-0.1,
                   ci_upper=0.3)
    with pytest.raises(InputError, match="ci_lower <= estimate"):
        StudyFacts("A", "rct", 10, "low", estimate=0.5, ci_lower=-0.1, ci_upper=0.3)
    with pytest.raises(InputError, match="direction"):
        StudyFacts("A", "rct", 10, "low")


def test_study_facts_from_an_effect_size_use_a_wald_interval():
    s = StudyFacts.from_effect("A", 0.3, 0.01, design="rct", n=400, risk_of_bias="low")
    assert s.ci_lower == pytest.approx(0.3 - 1.959963984540054 * 0.1)
    assert s.significant and s.direction == "increase"


def test_published_ratios_are_taken_onto_the_log_scale():
    syn = SynthesisNumbers.from_natural_scale("RR", 12, 0.60, 0.48, 0.76, pi_lower=0.3,
                                              pi_upper=1.2)
    assert syn.ratio is True
    assert (syn.estimate, syn.ci_lower, syn.pi_upper) == (math.log(0.6), math.log(0.48),
                                                          math.log(1.2))
    with pytest.raises(InputError, match="positive ratio"):
        SynthesisNumbers.from_natural_scale("OR", 3, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("kwargs,column", [
    ({"lo": 0.5}, "ci_lower"), ({"i2": 120.0}, "i2"), ({"tau2": -0.1}, "tau2"),
    ({"pi": (0.4, 0.2)}, "pi_lower"), ({"k": 0}, "k"), ({"estimate": float("nan")}, "estimate"),
])
def test_impossible_synthesis_numbers_are_refused_naming_the_field(kwargs, column):
    args = {"estimate": 0.3, "lo": 0.2, "hi": 0.4}
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(InputError) as caught:
        smd(args["estimate"], args["lo"], args["hi"], **kwargs)
    assert caught.value.column == column


def test_a_meta_regression_cannot_be_rated():
    fit = meta_analysis(np.array([0.1, 0.3, 0.5, 0.2]), np.array([0.01, 0.02, 0.02, 0.01]),
                        mods=np.array([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(ParameterError, match="intercept-only"):
        SynthesisNumbers.from_meta_analysis(fit, measure="SMD")


def test_rating_inputs_check_what_is_missing():
    with pytest.raises(InputError, match="without its studies"):
        RatingInputs("entry-to-care", (), smd(0.3, 0.2, 0.4))
    fit = meta_analysis(np.array([0.1, 0.3]), np.array([0.01, 0.02]))
    with pytest.raises(ParameterError, match="measure"):
        RatingInputs("entry-to-care", (study(),), fit)
    with pytest.raises(ParameterError, match="outcome"):
        RatingInputs("no-such-outcome")
    with pytest.raises(ParameterError, match="review_amstar2"):
        RatingInputs("entry-to-care", review_amstar2="excellent")
    with pytest.raises(ParameterError, match="smallest_important_effect"):
        RatingInputs("entry-to-care", (study(),), SynthesisNumbers.from_natural_scale(
            "RR", 2, 0.9, 0.8, 1.0), smallest_important_effect=0.9)


def test_rating_inputs_round_trip_through_plain_dicts():
    inputs = RatingInputs("entry-to-care", (study(direction="decrease"),),
                          SynthesisNumbers.from_natural_scale("RR", 2, 0.9, 0.8, 1.0),
                          review_amstar2="Critically low")
    assert inputs.review_amstar2 == "critically-low"
    assert RatingInputs.from_dict(inputs.to_dict()) == inputs
