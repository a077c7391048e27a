"""Entering a finding as a study reports it (whatworks.effects.entry): every entry gives the
effect the rest of whatworks.effects gives for the same numbers, cluster inputs are all required,
and the preview's words keep their promises.

Tolerance: rtol 1e-12 where the same closed form is evaluated on both sides; the published
example (an RR of 0.50 with 95% CI 0.31 to 0.81) is checked to its printed two decimals.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from whatworks.effects import (
    MEASURES,
    adjust_for_clustering,
    escalc,
    hedges2007_smd,
    inflate_variance,
)
from whatworks.effects.entry import (
    CLUSTER_FIELDS,
    ENTRY_MEASURES,
    FIELDS,
    REPORTED_AS,
    effect_from_reported,
    preview,
    reported_as_of,
)
from whatworks.effects.generic import critical_value
from whatworks.errors import InputError

COUNTS = {"ai": 12, "n1i": 100, "ci": 24, "n2i": 100}
MEANS = {"m1i": 10.2, "sd1i": 2.1, "n1i": 60, "m2i": 9.4, "sd2i": 2.3, "n2i": 58}


def _escalc(measure, **kw):
    out = escalc(measure, **{k: [v] for k, v in kw.items()})
    return float(out["yi"].iloc[0]), float(out["vi"].iloc[0])


def test_the_registry_offers_only_measures_it_knows_and_plain_labels():
    for entry in REPORTED_AS.values():
        for code in entry.measures:
            assert code in ENTRY_MEASURES
        for field in entry.fields:
            assert field.label != field.name and " " in field.label
    for code in ENTRY_MEASURES:
        assert code == "HR" or code in MEASURES
    assert FIELDS["ai"].label == "Children in the intervention group with the outcome"
    assert FIELDS["ci_lower"].label == "Lower limit of the 95% CI"


@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_a_2x2_table_gives_what_escalc_gives(measure):
    got = effect_from_reported(measure, COUNTS, reported_as="counts")
    assert (got.yi, got.vi) == pytest.approx(_escalc(measure, **COUNTS), rel=1e-12)
    assert got.reported_as == "counts" and got.adjustment is None


def test_the_four_cells_are_read_as_a_2x2_table_too():
    cells = {"ai": 12, "bi": 88, "ci": 24, "di": 76}
    assert reported_as_of("RR", cells) == "counts"
    got = effect_from_reported("RR", cells)
    assert (got.yi, got.vi) == pytest.approx(_escalc("RR", **COUNTS), rel=1e-12)


@pytest.mark.parametrize("measure", ["SMD", "MD"])
def test_means_and_sds_give_what_escalc_gives(measure):
    got = effect_from_reported(measure, MEANS, reported_as="means")
    assert (got.yi, got.vi) == pytest.approx(_escalc(measure, **MEANS), rel=1e-12)


def test_an_adjusted_ratio_with_its_ci_is_the_published_example():
    # Cochrane Handbook 6.3.2: the SE of a log ratio is (log upper - log lower) / 3.92
    got = effect_from_reported("RR", {"estimate": 0.5, "ci_lower": 0.31, "ci_upper": 0.81,
                                      "entered_as": "ratio"}, reported_as="estimate_ci")
    se = (math.log(0.81) - math.log(0.31)) / (2 * critical_value(95))
    assert got.yi == pytest.approx(math.log(0.5), rel=1e-12)
    assert got.vi == pytest.approx(se**2, rel=1e-12)
    assert preview(got).summary == "RR 0.50 (95% CI 0.31 to 0.81)"


def test_a_ratio_written_as_its_logarithm_gives_the_same_effect():
    as_ratio = effect_from_reported("HR", {"estimate": 0.7, "se": 0.12, "entered_as": "ratio"},
                                    reported_as="estimate_se")
    as_log = effect_from_reported("HR", {"estimate": math.log(0.7), "se": 0.12,
                                         "entered_as": "log"}, reported_as="estimate_se")
    assert (as_ratio.yi, as_ratio.vi) == pytest.approx((as_log.yi, as_log.vi), rel=1e-12)
    assert as_ratio.vi == pytest.approx(0.12**2, rel=1e-12)
    assert _escalc("GEN", estimate=math.log(0.7), se=0.12) == pytest.approx(
        (as_log.yi, as_log.vi), rel=1e-12)


def test_a_difference_with_its_ci_is_on_the_difference_scale():
    got = effect_from_reported("MD", {"estimate": -2.0, "ci_lower": -3.5, "ci_upper": -0.5},
                               reported_as="estimate_ci")
    assert got.yi == -2.0
    assert got.vi == pytest.approx((3.0 / (2 * critical_value(95)))**2, rel=1e-12)


def test_a_ratio_estimate_is_never_guessed_to_be_a_ratio_or_a_logarithm():
    with pytest.raises(InputError) as err:
        effect_from_reported("OR", {"estimate": 0.3, "ci_lower": 0.1, "ci_upper": 0.5})
    assert err.value.column == "entered_as"
    got = effect_from_reported("OR", {"estimate": 0.3, "ci_lower": 0.1, "ci_upper": 0.5,
                                      "entered_as": "log"})
    assert got.yi == 0.3


@given(n1=st.integers(2, 500), n2=st.integers(2, 500), data=st.data(),
       measure=st.sampled_from(["RR", "OR", "RD"]),
       direction=st.sampled_from(["increase", "decrease"]))
def test_the_sentence_of_a_2x2_table_says_which_group_had_more(n1, n2, data, measure, direction):
    a = data.draw(st.integers(1, n1 - 1))
    c = data.draw(st.integers(1, n2 - 1))
    entered = effect_from_reported(measure, {"ai": a, "n1i": n1, "ci": c, "n2i": n2},
                                   reported_as="counts")
    words = preview(entered, outcome="Entry to care", direction=direction)
    risk1, risk2 = a / n1, c / n2
    if math.isclose(risk1, risk2, rel_tol=1e-12):
        return
    assert words.sentence.startswith("More" if risk1 > risk2 else "Fewer")
    better = (risk1 > risk2) == (direction == "increase")
    assert ("favours the intervention" if better else "favours the comparison group") in \
        words.sentence


def test_a_hazard_ratio_needs_an_estimate():
    with pytest.raises(InputError) as err:
        effect_from_reported("HR", COUNTS)
    assert err.value.column == "estimate"


def test_an_entry_refuses_a_measure_it_cannot_give():
    with pytest.raises(InputError) as err:
        effect_from_reported("SMD", COUNTS, reported_as="counts")
    assert err.value.column == "measure" and "risk ratio" in err.value.message


def test_a_missing_field_is_named_by_its_label():
    with pytest.raises(InputError) as err:
        effect_from_reported("RR", {"ai": 12, "n1i": 100, "ci": 24}, reported_as="counts")
    assert err.value.column == "n2i" and "Number in the comparison group" in err.value.message


def test_a_ratio_estimate_needs_to_say_how_it_is_written():
    with pytest.raises(InputError) as err:
        effect_from_reported("OR", {"estimate": 0.5, "se": 0.2}, reported_as="estimate_se")
    assert err.value.column == "entered_as"


def test_cluster_sizes_per_arm_adjust_a_risk_ratio_by_the_design_effect():
    sizes1, sizes2 = [10, 20, 30, 40], [50, 50]
    got = effect_from_reported("RR", {**COUNTS, "icc": 0.05, "cluster_sizes1": sizes1,
                                      "cluster_sizes2": sizes2}, reported_as="counts")
    yi, vi = _escalc("RR", **COUNTS)
    both = np.r_[sizes1, sizes2]
    expected = inflate_variance(vi, cluster_size=both.mean(), icc=0.05,
                                cv=both.std() / both.mean())
    assert got.yi == pytest.approx(yi, rel=1e-12)
    assert got.vi == pytest.approx(float(expected), rel=1e-12)
    assert got.adjustment == "design effect" and got.unadjusted_vi == pytest.approx(vi)
    assert got.se_growth == pytest.approx(math.sqrt(got.vi / vi))


def test_cluster_sizes_per_arm_adjust_an_smd_by_hedges_2007():
    sizes1, sizes2 = [12, 18, 30], [20, 20, 18]
    got = effect_from_reported("SMD", {**MEANS, "icc": 0.1, "cluster_sizes1": sizes1,
                                       "cluster_sizes2": sizes2}, reported_as="means")
    yi, _ = _escalc("SMD", **MEANS)
    expected = hedges2007_smd(yi, sizes1=sizes1, sizes2=sizes2, icc=0.1)
    assert (got.yi, got.vi) == pytest.approx((float(expected.yi), float(expected.vi)), rel=1e-12)
    assert got.adjustment == "Hedges (2007)"


def test_a_mean_cluster_size_with_its_cv_matches_adjust_for_clustering():
    frame = escalc("SMD", **{k: [v] for k, v in MEANS.items()})
    expected = adjust_for_clustering(frame, icc=[0.08], cluster_size=[15], cv=[0.4],
                                     n1i=[60], n2i=[58])
    got = effect_from_reported("SMD", {**MEANS, "icc": 0.08, "cluster_size": 15,
                                       "cluster_cv": 0.4}, reported_as="means")
    assert (got.yi, got.vi) == pytest.approx(
        (float(expected["yi"].iloc[0]), float(expected["vi"].iloc[0])), rel=1e-12)


def test_an_estimate_with_its_ci_is_adjusted_for_clustering_too():
    got = effect_from_reported("OR", {"estimate": 0.6, "ci_lower": 0.4, "ci_upper": 0.9,
                                      "entered_as": "ratio", "icc": 0.02, "cluster_size": 25},
                               reported_as="estimate_ci")
    plain = effect_from_reported("OR", {"estimate": 0.6, "ci_lower": 0.4, "ci_upper": 0.9,
                                        "entered_as": "ratio"}, reported_as="estimate_ci")
    assert got.vi == pytest.approx(plain.vi * (1 + 24 * 0.02), rel=1e-12)
    assert "the standard error grew by 22%" in preview(got).adjustment


@pytest.mark.parametrize("extra, column", [
    ({"cluster_size": 20}, "icc"),
    ({"icc": 0.05}, "cluster_sizes1"),
    ({"icc": 0.05, "cluster_sizes1": [50, 50]}, "cluster_sizes2"),
    ({"icc": 0.05, "cluster_sizes1": [50, 40], "cluster_sizes2": [50, 50]}, "cluster_sizes1"),
    ({"icc": 0.05, "cluster_sizes1": "50, x", "cluster_sizes2": [50, 50]}, "cluster_sizes1"),
    ({"icc": 1.5, "cluster_size": 20}, "icc"),
    ({"icc": 0.05, "cluster_size": 20, "cluster_sizes1": [50, 50],
      "cluster_sizes2": [50, 50]}, "cluster_size"),
    ({"icc": 0.05, "cluster_sizes1": [50, 50], "cluster_sizes2": [50, 50], "cluster_cv": 0.2},
     "cluster_cv"),
])
def test_missing_or_impossible_cluster_inputs_name_the_field(extra, column):
    with pytest.raises(InputError) as err:
        effect_from_reported("RR", {**COUNTS, **extra}, reported_as="counts")
    assert err.value.column == column, err.value.message


def test_an_smd_from_an_estimate_needs_group_sizes_for_a_mean_cluster_size():
    with pytest.raises(InputError) as err:
        effect_from_reported("SMD", {"estimate": 0.3, "se": 0.1, "icc": 0.1, "cluster_size": 20},
                             reported_as="estimate_se")
    assert err.value.column == "n1i" and "variance_only" not in err.value.message


_NUMBER = re.compile(r"−?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _numbers(summary):
    return [float(x.replace("−", "-")) for x in _NUMBER.findall(summary.split(" ", 1)[1])]


@given(yi=st.floats(-3, 3, allow_nan=False), se=st.floats(0.01, 2),
       measure=st.sampled_from(sorted(ENTRY_MEASURES)),
       direction=st.sampled_from(["increase", "decrease"]))
def test_the_preview_says_what_the_numbers_say(yi, se, measure, direction):
    from whatworks.effects.entry import Entered

    entered = Entered(measure=measure, reported_as="effect", yi=yi, vi=se**2)
    words = preview(entered, outcome="Entry to care", direction=direction)
    spec = ENTRY_MEASURES[measure]
    assert words.summary.startswith(spec.abbreviation + " ")
    estimate, lower, upper = _numbers(words.summary)[0], *_numbers(words.summary)[-2:]
    assert lower <= estimate <= upper                         # the CI printed holds the estimate
    if spec.ratio:
        assert estimate > 0 or math.exp(yi) < 0.005
    first = words.sentence.split(" ", 1)[0].lower()
    if yi > 0:
        assert first == ("more" if spec.counts else "higher")
    elif yi < 0:
        assert first == ("fewer" if spec.counts else "lower")
    else:
        assert first == "no"
    if yi != 0:
        favours_intervention = (yi > 0) == (direction == "increase")
        assert ("favours the intervention" in words.sentence) == favours_intervention
        assert ("favours the comparison group" in words.sentence) == (not favours_intervention)
        z = critical_value(95)
        assert ("includes no difference" in words.sentence) == (yi - z * se <= 0 <= yi + z * se)


def test_every_cluster_field_and_entry_field_has_a_hint_or_label_in_words():
    for field in CLUSTER_FIELDS.values():
        assert not field.required and field.label[0].isupper()
