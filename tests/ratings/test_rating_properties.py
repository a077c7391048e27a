"""Properties the rating rules must have for any inputs (hypothesis)."""

import dataclasses
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ratings.builders import rate
from whatworks.ratings import Outcome, Rating, RatingInputs, StudyFacts, SynthesisNumbers

MIRROR = {"consistently-positive": "consistently-negative", "tends-positive": "tends-negative",
          "no-effect": "no-effect", "unclear-or-mixed": "unclear-or-mixed",
          "no-evidence": "no-evidence"}
MIRROR.update({v: k for k, v in MIRROR.items()})

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def study_facts(draw, label="S"):
    design = draw(st.sampled_from(["rct", "cluster-rct", "qed", "pre-post"]))
    n = draw(st.integers(1, 5000))
    rob = draw(st.sampled_from(["low", "moderate", "high"]))
    if draw(st.booleans()):
        est = draw(st.floats(-1, 1, **finite))
        lo = est - draw(st.floats(0, 1, **finite))
        hi = est + draw(st.floats(0, 1, **finite))
        return StudyFacts(label, design, n, rob, estimate=est, ci_lower=lo, ci_upper=hi)
    direction = draw(st.sampled_from(["increase", "decrease", "none"]))
    significant = None if direction == "none" else draw(st.sampled_from([True, False, None]))
    return StudyFacts(label, design, n, rob, direction=direction, significant=significant)


@st.composite
def syntheses(draw):
    est = draw(st.floats(-1, 1, **finite))
    se = draw(st.floats(0.01, 0.5, **finite))
    lo, hi = est - 1.96 * se, est + 1.96 * se
    tau2 = draw(st.one_of(st.none(), st.floats(0, 0.5, **finite)))
    pi = None
    if draw(st.booleans()):
        pi = (lo - draw(st.floats(0, 1, **finite)), hi + draw(st.floats(0, 1, **finite)))
    measure = draw(st.sampled_from(["SMD", "RR", "MD", "OR"]))
    return SynthesisNumbers(measure=measure, k=draw(st.integers(1, 30)), estimate=est,
                            ci_lower=lo, ci_upper=hi, pi_lower=pi and pi[0],
                            pi_upper=pi and pi[1], se=draw(st.sampled_from([None, se])),
                            tau2=tau2, i2=draw(st.one_of(st.none(), st.floats(0, 100, **finite))))


@st.composite
def rating_inputs(draw, meta=None):
    k = draw(st.integers(0, 6))
    facts = tuple(draw(study_facts(f"S{i}")) for i in range(k))
    synthesis = None
    if facts and (meta if meta is not None else draw(st.booleans())):
        synthesis = draw(syntheses())
    outcome = Outcome("test-outcome", "Test outcome", "", draw(st.sampled_from(
        ["increase", "decrease"])), ())
    return RatingInputs(outcome, facts, synthesis, measure=draw(st.sampled_from([None, "SMD", "RR"]))
                        if synthesis is None else None,
                        review_amstar2=draw(st.sampled_from([None, "high", "low", "critically-low"])),
                        publication_bias=draw(st.booleans()))


def flip_study(s: StudyFacts) -> StudyFacts:
    if s.estimate is not None:
        return dataclasses.replace(s, estimate=-s.estimate, ci_lower=-s.ci_upper,
                                   ci_upper=-s.ci_lower, direction=None, significant=None)
    other = {"increase": "decrease", "decrease": "increase", "none": "none"}[s.direction]
    return dataclasses.replace(s, direction=other)


def flip(inputs: RatingInputs) -> RatingInputs:
    s = inputs.synthesis
    if s is not None:
        s = dataclasses.replace(
            s, estimate=-s.estimate, ci_lower=-s.ci_upper, ci_upper=-s.ci_lower,
            pi_lower=None if s.pi_upper is None else -s.pi_upper,
            pi_upper=None if s.pi_lower is None else -s.pi_lower)
    return dataclasses.replace(inputs, studies=tuple(flip_study(x) for x in inputs.studies),
                               synthesis=s)


def levels(r: Rating):
    return r.effectiveness, r.effectiveness_code, r.strength


@settings(max_examples=300, deadline=None)
@given(inputs=rating_inputs())
def test_effectiveness_is_antisymmetric_under_flipping_every_effect(inputs):
    a, b = rate(inputs), rate(flip(inputs))
    assert b.effectiveness == (None if a.effectiveness is None else -a.effectiveness)
    assert b.effectiveness_code == MIRROR[a.effectiveness_code]
    assert b.strength == a.strength


@settings(max_examples=200, deadline=None)
@given(inputs=rating_inputs())
def test_reversing_the_better_direction_is_the_same_as_flipping_the_effects(inputs):
    o = inputs.outcome
    reversed_outcome = dataclasses.replace(
        o, direction="decrease" if o.direction == "increase" else "increase")
    a = rate(dataclasses.replace(inputs, outcome=reversed_outcome))
    b = rate(flip(inputs))
    assert levels(a) == levels(b)


@settings(max_examples=200, deadline=None)
@given(inputs=rating_inputs(meta=False), n=st.integers(1, 5000),
       direction=st.sampled_from(["increase", "decrease", "none"]))
def test_adding_a_low_risk_randomised_null_study_never_lowers_strength_without_a_meta_analysis(
        inputs, n, direction):
    # True of these rules: its design starts at the top, it lowers the share at risk of bias, adds
    # participants and studies, and, not being significant, cannot create inconsistency.
    extra = StudyFacts("new", "rct", n, "low", direction=direction, significant=False)
    more = dataclasses.replace(inputs, studies=inputs.studies + (extra,))
    assert rate(more).strength >= rate(inputs).strength


@settings(max_examples=200, deadline=None)
@given(inputs=rating_inputs(meta=True), shift=st.floats(0, 1, **finite))
def test_moving_the_pooled_effect_towards_better_never_lowers_effectiveness(inputs, shift):
    s = inputs.synthesis
    if s is None:
        return
    d = shift if inputs.outcome.direction == "increase" else -shift
    moved = dataclasses.replace(
        s, estimate=s.estimate + d, ci_lower=s.ci_lower + d, ci_upper=s.ci_upper + d,
        pi_lower=None if s.pi_lower is None else s.pi_lower + d,
        pi_upper=None if s.pi_upper is None else s.pi_upper + d)
    before, after = rate(inputs), rate(dataclasses.replace(inputs, synthesis=moved))
    if before.effectiveness is not None:
        assert after.effectiveness >= before.effectiveness


@settings(max_examples=150, deadline=None)
@given(inputs=rating_inputs())
def test_every_rating_is_on_the_scales_and_survives_json(inputs):
    r = rate(inputs)
    assert r.effectiveness in (None, -2, -1, 0, 1, 2)
    assert r.strength in range(5)
    assert (r.effectiveness is None) == (r.effectiveness_code == "no-evidence")
    assert Rating.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert r.recomputed("whatworks-2026@1.0") == r
