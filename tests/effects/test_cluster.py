"""Cluster adjustment: Hedges (2007) for SMDs and the design effect for any measure, against
independent R implementations of the published equations (tests/reference/effects.json) and
their limiting cases.

Tolerance: rtol 1e-10 (closed forms evaluated in double precision on both sides).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import load_reference, vec
from whatworks.effects import (
    WhatWorksWarning,
    adjust_for_clustering,
    design_effect,
    escalc,
    hedges2007_smd,
    inflate_variance,
)
from whatworks.errors import InputError

CLUSTER = load_reference("effects.json")["cluster"]


def test_hedges_2007_matches_the_published_equations():
    ref = CLUSTER["hedges2007"]
    out = hedges2007_smd(vec(ref["d"]), n1i=vec(ref["n1i"]), n2i=vec(ref["n2i"]),
                         cluster_size=vec(ref["m"]), icc=vec(ref["icc"]))
    np.testing.assert_allclose(out.yi, vec(ref["yi"]), rtol=1e-10)
    np.testing.assert_allclose(out.vi, vec(ref["vi"]), rtol=1e-10)


def test_the_design_effect_inflates_the_variance():
    ref = CLUSTER["design_effect"]
    out = inflate_variance(vec(ref["vi_in"]), cluster_size=vec(ref["m"]), icc=ref["icc"])
    np.testing.assert_allclose(out, vec(ref["vi"]), rtol=1e-10)


def test_design_effect_is_one_plus_m_minus_one_times_icc():
    assert design_effect(21, 0.05) == pytest.approx(2.0)
    np.testing.assert_allclose(design_effect([1, 11], [0.3, 0.1]), [1.0, 2.0])


@given(st.floats(-3, 3), st.integers(10, 2000), st.integers(10, 2000), st.integers(1, 10))
def test_with_no_clustering_hedges_2007_gives_the_independent_groups_values(d, n1, n2, m):
    out = hedges2007_smd(d, n1i=n1, n2i=n2, cluster_size=m, icc=0.0)
    assert out.yi == pytest.approx(d)
    assert out.vi == pytest.approx(1 / n1 + 1 / n2 + d**2 / (2 * (n1 + n2 - 2)), rel=1e-12)


def test_with_clusters_of_one_the_icc_does_not_matter():
    a = hedges2007_smd(0.4, n1i=50, n2i=60, cluster_size=1, icc=0.0)
    b = hedges2007_smd(0.4, n1i=50, n2i=60, cluster_size=1, icc=0.3)
    assert (a.yi, a.vi) == pytest.approx((b.yi, b.vi))


def test_clustering_shrinks_the_estimate_and_widens_its_variance():
    plain = hedges2007_smd(0.4, n1i=200, n2i=200, cluster_size=20, icc=0.0)
    clustered = hedges2007_smd(0.4, n1i=200, n2i=200, cluster_size=20, icc=0.2)
    assert abs(clustered.yi) < abs(plain.yi)
    assert clustered.vi > 4 * plain.vi


@pytest.mark.parametrize("kwargs, message", [
    (dict(cluster_size=0, icc=0.1), "cluster size must be at least 1"),
    (dict(cluster_size=10, icc=1.5), "between 0 and 1"),
    (dict(cluster_size=80, icc=0.1), "larger than a group"),
])
def test_impossible_cluster_inputs_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        hedges2007_smd(0.3, n1i=50, n2i=50, **kwargs)


def test_adjusting_an_smd_frame_uses_hedges_2007_with_group_sizes():
    data = pd.DataFrame({"m1i": [10.0, 12.0], "m2i": [9.0, 11.5], "sd1i": [3.0, 4.0],
                         "sd2i": [3.2, 3.9], "n1i": [120, 80], "n2i": [110, 90],
                         "m": [20, 10], "icc": [0.1, 0.2]})
    es = escalc("SMD", data, m1i="m1i", m2i="m2i", sd1i="sd1i", sd2i="sd2i", n1i="n1i",
                n2i="n2i")
    out = adjust_for_clustering(es, cluster_size="m", icc="icc", n1i="n1i", n2i="n2i")
    direct = hedges2007_smd(es["yi"], n1i=data["n1i"], n2i=data["n2i"], cluster_size=data["m"],
                            icc=data["icc"])
    np.testing.assert_allclose(out["yi"], direct.yi)
    np.testing.assert_allclose(out["vi"], direct.vi)
    assert out.attrs["cluster"] == "Hedges (2007)"
    assert es["yi"].iloc[0] != out["yi"].iloc[0]  # the input frame is not modified


def test_adjusting_other_measures_inflates_the_variance_and_warns_about_missing_iccs():
    es = escalc("OR", ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11], di=[128, 274, 209])
    with pytest.warns(WhatWorksWarning, match="1 of 3 rows have no cluster size or ICC"):
        out = adjust_for_clustering(es, cluster_size=[10, 30, 20], icc=[0.05, 0.05, None])
    np.testing.assert_allclose(out["vi"], es["vi"] * [1.45, 2.45, 1.0])
    np.testing.assert_allclose(out["yi"], es["yi"])
    assert out.attrs["cluster"] == "design effect"


def test_adjusting_with_complete_inputs_gives_no_warning():
    es = escalc("RD", ai=[4], bi=[119], ci=[11], di=[128])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adjust_for_clustering(es, cluster_size=10, icc=0.1)


# --- unequal cluster sizes: calibration by simulation -----------------------------------------

def simulate_cohens_d(sizes1, sizes2, *, icc, delta, reps, rng):
    """Cohen's d as a trial that ignored clustering reports it, from ``reps`` simulated
    two-level trials (sigma_T = 1): cluster means and within-cluster sums of squares are drawn
    from their exact distributions, so each trial costs a few numbers per cluster."""
    group_means, group_ss = [], []
    for sizes, mu in ((np.asarray(sizes1, float), delta), (np.asarray(sizes2, float), 0.0)):
        shape = (reps, sizes.size)
        means = (mu + rng.normal(0, np.sqrt(icc), shape)
                 + rng.normal(0, np.sqrt((1 - icc) / sizes), shape))
        within = (1 - icc) * rng.chisquare(sizes - 1, shape)
        grand = means @ sizes / sizes.sum()
        group_means.append(grand)
        group_ss.append(within.sum(axis=1) + ((means - grand[:, None]) ** 2) @ sizes)
    total = np.sum(sizes1) + np.sum(sizes2)
    return (group_means[0] - group_means[1]) / np.sqrt((group_ss[0] + group_ss[1]) / (total - 2))


DESIGNS = {  # the two examples, and arms that differ in their clusters
    "clusters of 5 and 35": ([5, 35] * 4, [5, 35] * 4, 0.2),
    "two clusters of 90 among small ones": ([90] + [10] * 8, [90] + [10] * 8, 0.15),
    "arms with different clusters": ([3, 8, 15, 40, 60], [10] * 12, 0.1),
}


@pytest.mark.parametrize("design", list(DESIGNS))
def test_the_unequal_size_variance_is_calibrated_by_simulation(design):
    # Tolerance 5%: with 20,000 replicates the relative standard error of an empirical variance
    # is sqrt(2/20,000) = 1%, and the formula is a first-order (delta-method) approximation in
    # 1/S_T whose own error in these designs is at most about 3% (2.9% for the clusters of 90);
    # the seed is fixed, so the test is deterministic. The plain mean cluster size, which the
    # code used before, is 32% and 56% too small in the first two designs (checked below).
    sizes1, sizes2, icc = DESIGNS[design]
    rng = np.random.default_rng(20261130)
    reps = 20_000
    d = simulate_cohens_d(sizes1, sizes2, icc=icc, delta=0.4, reps=reps, rng=rng)
    out = hedges2007_smd(d, sizes1=np.tile(sizes1, (reps, 1)), sizes2=np.tile(sizes2, (reps, 1)),
                         icc=icc)
    empirical = np.var(out.yi, ddof=1)
    assert np.mean(out.vi) / empirical == pytest.approx(1, abs=0.05)
    # d_T estimates delta_T = 0.4 (mean within 3 Monte Carlo standard errors plus 1% bias)
    assert np.mean(out.yi) == pytest.approx(0.4, abs=3 * np.sqrt(empirical / reps) + 0.004)
    n1, n2 = sum(sizes1), sum(sizes2)
    mean_size = (n1 + n2) / (len(sizes1) + len(sizes2))
    plain = hedges2007_smd(d, n1i=n1, n2i=n2, cluster_size=mean_size, icc=icc)
    if design != "arms with different clusters":
        assert np.mean(plain.vi) / empirical < 0.75
    sizes = np.r_[sizes1, sizes2]
    with_cv = hedges2007_smd(d, n1i=n1, n2i=n2, cluster_size=mean_size, icc=icc,
                             cv=np.std(sizes) / np.mean(sizes))
    assert np.mean(with_cv.vi) / empirical == pytest.approx(1, abs=0.05)


@given(st.floats(-2, 2), st.lists(st.integers(2, 40), min_size=2, max_size=6),
       st.floats(0, 0.5))
def test_equal_sizes_given_as_lists_match_the_average_size_form(d, sizes, icc):
    m = sizes[0]
    equal = [m] * len(sizes)
    n = m * len(sizes)
    listed = hedges2007_smd(d, sizes1=equal, sizes2=equal, icc=icc)
    averaged = hedges2007_smd(d, n1i=n, n2i=n, cluster_size=m, icc=icc)
    np.testing.assert_allclose([listed.yi, listed.vi], [averaged.yi, averaged.vi], rtol=1e-12)
    with_zero_cv = hedges2007_smd(d, n1i=n, n2i=n, cluster_size=m, icc=icc, cv=0.0)
    np.testing.assert_allclose(with_zero_cv.vi, averaged.vi, rtol=1e-12)


def test_the_eldridge_design_effect_grows_with_the_spread_of_cluster_sizes():
    assert design_effect(20, 0.05, cv=0) == pytest.approx(1.95)
    assert design_effect(20, 0.05, cv=0.5) == pytest.approx(1 + (1.25 * 20 - 1) * 0.05)
    np.testing.assert_allclose(inflate_variance([0.1], cluster_size=20, icc=0.05, cv=0.5),
                               [0.1 * 2.2])


@pytest.mark.parametrize("kwargs, message", [
    (dict(n1i=50, n2i=50), "needs the group sizes and the clusters: give cluster_size"),
    (dict(cluster_size=5, n1i=50), "give n2i"),
    (dict(sizes1=[5, 5]), "cluster sizes of both arms"),
    (dict(sizes1=[5, 5], sizes2=[5, 5], cluster_size=5), "not both"),
    (dict(sizes1=[5, 0], sizes2=[5, 5]), "at least 1"),
    (dict(sizes1=[5, 5], sizes2=[5, 5], n1i=11), "add up to 10 but n1i is 11"),
    (dict(cluster_size=5, n1i=50, n2i=50, cv=-1), "cannot be negative"),
])
def test_missing_or_inconsistent_cluster_inputs_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        hedges2007_smd(0.3, icc=0.1, **kwargs)


def test_an_smd_frame_without_group_sizes_is_refused_not_only_inflated():
    es = escalc("SMD", m1i=[10.0], m2i=[9.0], sd1i=[3.0], sd2i=[3.2], n1i=[120], n2i=[110])
    with pytest.raises(InputError, match="Hedges .2007. needs the group sizes"):
        adjust_for_clustering(es, cluster_size=20, icc=0.1)
    out = adjust_for_clustering(es, cluster_size=20, icc=0.1, variance_only=True)
    np.testing.assert_allclose(out["vi"], es["vi"] * 2.9)
    assert out.attrs["cluster"] == "design effect"
