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
