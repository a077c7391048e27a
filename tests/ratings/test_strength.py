"""Every step of the strength-of-evidence rules (GRADE-like start and downgrades)."""

import pytest

from tests.ratings.builders import meta_inputs, rate, smd, studies, study
from whatworks.ratings import SCHEME_V1, RatingInputs


def neutral(label, *, n=500, design="rct", rob="low"):
    """A study that found no significant effect (so it cannot make the evidence inconsistent)."""
    return study(label, n=n, design=design, rob=rob, direction="increase", significant=False)


def strength(*facts, **kw):
    return rate(RatingInputs("family-functioning", facts, **kw)).strength


@pytest.mark.parametrize("designs,ns,expected", [
    (("rct", "rct"), (500, 500), 4),
    (("cluster-rct", "rct"), (500, 500), 4),
    (("qed", "qed"), (500, 500), 2),
    (("rct", "qed"), (500, 500), 4),    # randomised designs hold at least half the participants
    (("rct", "qed"), (400, 600), 2),    # they do not: start from the quasi-experiments
])
def test_it_starts_from_the_design_that_covers_half_the_participants(designs, ns, expected):
    facts = [neutral(f"S{i}", n=n, design=d) for i, (d, n) in enumerate(zip(designs, ns, strict=True))]
    assert strength(*facts) == expected


def test_designs_that_are_not_rated_are_left_out_and_said_so():
    r = rate(RatingInputs("family-functioning", [neutral("A"), neutral("B"),
                                                 neutral("C", n=10_000, design="pre-post")]))
    assert r.strength == 4
    assert "1 study of another design not rated" in r.strength_explanation


@pytest.mark.parametrize("robs,ns,expected", [
    (("low", "low"), (300, 300), 4),
    (("high", "low"), (300, 300), 4),              # half at high risk is not more than half
    (("high", "low"), (400, 200), 2),              # two thirds at high risk: down 2
    (("moderate", "low"), (400, 200), 3),          # two thirds not at low risk: down 1
    (("high", "moderate", "low"), (200, 200, 200), 3),
])
def test_risk_of_bias_is_weighted_by_participants(robs, ns, expected):
    facts = [neutral(f"S{i}", n=n, rob=r) for i, (r, n) in enumerate(zip(robs, ns, strict=True))]
    assert strength(*facts) == expected


@pytest.mark.parametrize("amstar,expected", [
    (None, 4), ("high", 4), ("moderate", 4), ("low", 3), ("critically low", 2)])
def test_the_source_reviews_amstar2_rating_downgrades(amstar, expected):
    assert strength(neutral("A"), neutral("B"), review_amstar2=amstar) == expected


@pytest.mark.parametrize("syn,expected", [
    (smd(0.3, 0.2, 0.4, pi=(0.05, 0.55), i2=60.0), 3),    # substantial I²: down 1
    (smd(0.3, 0.2, 0.4, pi=(-0.10, 0.70), i2=80.0), 2),   # considerable, direction varies: down 2
    (smd(0.3, 0.2, 0.4, pi=(0.02, 0.58), i2=80.0), 3),    # considerable, direction holds: down 1
    (smd(0.3, 0.2, 0.4, pi=(-0.05, 0.65), i2=20.0), 3),   # CI excludes no effect, PI does not
    (smd(0.02, -0.05, 0.09, pi=(-0.1, 0.14), i2=20.0), 4),  # a null whose PI includes no effect
    (smd(0.3, 0.2, 0.4, i2=80.0), 2),                      # common effect: no PI, considerable I²
])
def test_inconsistency_follows_i2_and_the_prediction_interval(syn, expected):
    assert rate(meta_inputs(syn)).strength == expected


def test_significant_effects_in_opposite_directions_are_inconsistent_without_a_meta_analysis():
    up = study("A", n=500, direction="increase", significant=True)
    down = study("B", n=500, direction="decrease", significant=True)
    r = rate(RatingInputs("family-functioning", [up, down]))
    assert r.strength == 3
    assert "opposite directions" in r.strength_explanation


@pytest.mark.parametrize("n,expected", [(40, 2), (150, 3), (200, 4)])
def test_small_total_samples_are_imprecise(n, expected):
    assert strength(neutral("A", n=n), neutral("B", n=n)) == expected


def test_a_pooled_interval_spanning_important_benefit_and_harm_is_imprecise():
    r = rate(meta_inputs(smd(0.0, -0.3, 0.3, pi=(-0.35, 0.35), i2=0.0)))
    assert r.strength == 3
    assert "both an important benefit and an important harm" in r.strength_explanation


def test_the_pooled_number_of_participants_is_used_when_given():
    syn = smd(0.3, 0.2, 0.4, pi=(0.1, 0.5), i2=0.0, n_participants=90)
    assert rate(meta_inputs(syn)).strength == 2


def test_a_single_study_is_downgraded_once():
    assert strength(neutral("A", n=5000)) == 3


def test_suspected_publication_bias_is_downgraded_once():
    assert strength(neutral("A"), neutral("B"), publication_bias=True) == 3


def test_strength_never_falls_below_no_or_very_low():
    r = rate(RatingInputs("family-functioning", [neutral("A", rob="high")],
                          review_amstar2="critically-low", publication_bias=True))
    assert (r.strength, r.strength_code) == (0, "very-low")


def test_starting_levels_are_scheme_parameters():
    facts = [neutral("A", design="qed"), neutral("B", design="qed")]
    assert strength(*facts) == 2
    generous = SCHEME_V1.revise("1.0-qed3", changes="QEDs start at moderate to high",
                                   design_start={"rct": 4, "cluster-rct": 4, "qed": 3})
    assert rate(RatingInputs("family-functioning", facts), generous).strength == 3


def test_the_steps_are_kept_in_order():
    r = rate(RatingInputs("family-functioning", studies(1, n=150, rob="moderate",
                                                         direction="increase", significant=False),
                          review_amstar2="low"))
    assert r.strength_steps == (
        "starts at high (100% of the 150 families were in randomised controlled trials)",
        "down 1 for risk of bias (100% of families in studies at moderate or high risk)",
        "down 1 for the source review (AMSTAR 2: low)",
        "down 1 for imprecision (150 families in all, fewer than 400)",
        "down 1 for resting on a single study",
    )
    assert r.strength == 0
