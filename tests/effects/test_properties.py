"""Numerical invariants of the effect sizes (hypothesis property tests)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from whatworks.effects import escalc
from whatworks.effects.continuous import hedges_correction

counts = st.integers(min_value=0, max_value=500)
sizes = st.integers(min_value=2, max_value=3000)


@given(counts, counts, counts, counts, st.sampled_from(["OR", "RR", "RD", "PETO"]))
def test_swapping_the_groups_flips_the_sign_and_keeps_the_variance(a, b, c, d, measure):
    if a + b == 0 or c + d == 0:
        return
    one = escalc(measure, ai=[a], bi=[b], ci=[c], di=[d], to="all")
    two = escalc(measure, ai=[c], bi=[d], ci=[a], di=[b], to="all")
    assert two["yi"].iloc[0] == pytest.approx(-one["yi"].iloc[0], abs=1e-12)
    assert two["vi"].iloc[0] == pytest.approx(one["vi"].iloc[0], rel=1e-12)


@given(st.floats(-8, 8), sizes, sizes)
def test_a_p_value_or_an_f_statistic_gives_the_same_smd_as_its_t_statistic(t, n1, n2):
    df = n1 + n2 - 2
    p = 2 * stats.t.sf(abs(t), df)
    if p < 1e-12 or t == 0:  # the p-value no longer pins t down in double precision
        return
    from_t = escalc("SMD", ti=[t], n1i=[n1], n2i=[n2])
    from_p = escalc("SMD", pi=[np.sign(t) * p], n1i=[n1], n2i=[n2])
    from_f = escalc("SMD", fi=[t * t], sign=[np.sign(t)], n1i=[n1], n2i=[n2])
    for other in (from_p, from_f):
        assert other["yi"].iloc[0] == pytest.approx(from_t["yi"].iloc[0], rel=1e-7)
        assert other["vi"].iloc[0] == pytest.approx(from_t["vi"].iloc[0], rel=1e-7)


@given(st.floats(min_value=2, max_value=1e7))
def test_the_exact_hedges_correction_lies_below_one_and_near_the_usual_approximation(m):
    c = float(hedges_correction(m))
    assert 0 < c < 1
    assert c == pytest.approx(1 - 3 / (4 * m - 1), rel=0.06 / m**2 + 1e-12)


@given(st.floats(-5, 5), st.floats(0.2, 5), sizes, sizes)
def test_md_variances_agree_when_the_groups_have_equal_sds_and_sizes(diff, sd, n, _):
    args = dict(m1i=[diff], m2i=[0.0], sd1i=[sd], sd2i=[sd], n1i=[n], n2i=[n])
    ls, ho = escalc("MD", **args), escalc("MD", vtype="HO", **args)
    assert ls["vi"].iloc[0] == pytest.approx(ho["vi"].iloc[0], rel=1e-12)


@given(st.floats(-0.999, 0.999), st.integers(5, 100_000))
def test_the_bias_corrected_correlation_moves_away_from_zero_but_not_past_one(r, n):
    u = escalc("UCOR", ri=[r], ni=[n])["yi"].iloc[0]
    assert abs(u) >= abs(r) - 1e-15
    assert abs(u) <= 1 + 1e-12
    assert np.sign(u) == np.sign(r)
