"""The nearest level on the Foundations, CEBC and Title IV-E scales (approximate by design)."""

import math

import pytest

from tests.ratings.builders import rate, study
from whatworks.errors import ParameterError
from whatworks.ratings import RatingInputs, StudyFacts, crosswalk
from whatworks.ratings.crosswalk import CAVEAT, cebc_level, foundations_level, title_iv_e_level


def benefit(label, *, n=300, design="rct", rob="low", months=None):
    return study(label, n=n, design=design, rob=rob, direction="decrease", significant=True,
                 follow_up_months=months)


def rated(*facts, **kw):
    return rate(RatingInputs("entry-to-care", facts, **kw))


def null(label):
    half = math.log(1.05)
    return StudyFacts(label, "rct", 1000, "low", estimate=0.0, ci_lower=-half, ci_upper=half)


CASES = {
    # name: (facts, (effectiveness, strength), (Foundations, CEBC, Title IV-E))
    "two rigorous RCTs, one followed a year": (
        (benefit("A", months=12), benefit("B")), (2, 4), ("4+", "1", "well-supported")),
    "two rigorous RCTs and a null, one followed a year": (
        (benefit("A", months=12), benefit("B"), study("C", direction="increase", significant=False)),
        (1, 4), ("4", "1", "well-supported")),
    "one rigorous RCT followed six months": (
        (benefit("A", n=1000, months=6),), (1, 3), ("3+", "2", "supported")),
    "two quasi-experiments": (
        (benefit("A", n=500, design="qed"), benefit("B", n=500, design="qed")), (2, 2),
        ("3", "3", "promising")),
    "one quasi-experiment": ((benefit("A", n=1000, design="qed"),), (1, 1), ("2", "3", "promising")),
    "two RCTs at high risk of bias": (
        (benefit("A", rob="high"), benefit("B", rob="high")), (2, 2),
        ("2+", "3", "does-not-meet")),
    "one small RCT at high risk of bias": (
        (benefit("A", n=50, rob="high"),), (1, 0), ("NL2", "3", "does-not-meet")),
    "two rigorous RCTs showing harm": (
        (study("A", direction="increase"), study("B", direction="increase")), (-2, 4),
        ("NE", "5", "does-not-meet")),
    "a weak null": (
        (study("A", design="qed", rob="high", direction="increase", significant=False),), (0, 0),
        ("NL2", "NR", "does-not-meet")),
    "nothing rigorous": ((study("A", design="pre-post", direction="decrease"),), (None, 0),
                         ("NL2", "NR", "does-not-meet")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_it_finds_the_nearest_level_on_each_scale(name):
    facts, (effectiveness, strength), expected = CASES[name]
    r = rated(*facts)
    assert (r.effectiveness, r.strength) == (effectiveness, strength)
    assert (foundations_level(r).level, cebc_level(r).level, title_iv_e_level(r).level) == expected


def test_precise_nulls_from_two_rigorous_trials_fail_to_demonstrate_effect():
    r = rated(null("A"), null("B"), measure="RR")
    assert r.effectiveness_code == "no-effect"
    assert [e.level for e in crosswalk(r).entries] == ["NE", "4", "does-not-meet"]


def test_every_entry_is_justified_and_carries_the_caveat():
    walk = crosswalk(rated(benefit("A", months=12), benefit("B")))
    assert [e.clearinghouse for e in walk.entries] == ["foundations", "cebc", "title-iv-e"]
    for e in walk.entries:
        assert e.justification and e.caveat == CAVEAT
    assert "Approximate" in CAVEAT and "not that clearinghouse's own rating" in CAVEAT
    assert list(walk.to_frame().columns) == ["clearinghouse", "clearinghouse_name", "level", "label",
                                             "justification", "caveat"]
    assert "(approximate)" in repr(walk)


def test_one_clearinghouse_can_be_asked_for_and_unknown_ones_are_refused():
    r = rated(benefit("A"))
    assert [e.clearinghouse for e in crosswalk(r, ("cebc",)).entries] == ["cebc"]
    with pytest.raises(ParameterError, match="clearinghouses"):
        crosswalk(r, ("whatworks",))
    with pytest.raises(ParameterError, match="rating"):
        crosswalk({"effectiveness": 1})
