"""whatworks.trials.cluster against the equations written independently in R
(tests/reference/make_trial_cluster.R)."""

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatworks.trials.cluster import design_effect, hayes_bennett, icc_cluster_trial
from whatworks.trials.design import DesignError

REF = json.loads((Path(__file__).parent.parent / "reference" / "trial_cluster.json").read_text())
# Closed forms with normal quantiles on both sides (R's qnorm/pnorm, scipy's): agreement to ~1e-12;
# 1e-9 leaves room without hiding a wrong term (any wrong term moves the results by > 1e-4).
TOL = 1e-9


@pytest.mark.parametrize("case", REF["hayes_bennett"], ids=lambda c: c["id"])
def test_hayes_bennett_matches_r(case):
    a = dict(case["args"])
    res = hayes_bennett(a.pop("outcome"), control=a.pop("a"), intervention=a.pop("b", None), **a)
    want = case["result"]
    if "intervention" in want:  # the detectable value: two root finders at 1e-14
        assert res.detectable == pytest.approx(want["intervention"], rel=TOL)
        assert res.power == pytest.approx(case["args"].get("power") or 0.8, abs=TOL)
        return
    assert res.power == pytest.approx(want["power"], abs=TOL)
    if "clusters_exact" in want:
        assert res.clusters_exact == pytest.approx(want["clusters_exact"], rel=TOL)
        assert res.clusters_per_arm == want["clusters_per_arm"]


@pytest.mark.parametrize("case", REF["icc"], ids=lambda c: c["id"])
def test_the_design_effect_method_matches_r(case):
    a = dict(case["args"])
    res = icc_cluster_trial(a.pop("outcome"), **a)
    want = case["result"]
    assert res.power == pytest.approx(want["power"], abs=TOL)
    assert res.design_effect == pytest.approx(want["design_effect"], rel=TOL)
    if "clusters_exact" in want:
        assert res.clusters_exact == pytest.approx(want["clusters_exact"], rel=TOL)
        assert res.clusters_per_arm == want["clusters_per_arm"]


@pytest.mark.parametrize("case", REF["design_effect"])
def test_design_effect_matches_r(case):
    assert design_effect(m=case["m"], icc=case["icc"], cv=case["cv"]) == pytest.approx(case["value"],
                                                                                        rel=TOL)


@settings(max_examples=50, deadline=None)
@given(p0=st.floats(0.05, 0.5), drop=st.floats(0.2, 0.6), m=st.integers(5, 200),
       k=st.floats(0.0, 0.6), power=st.floats(0.5, 0.95))
def test_clusters_found_give_at_least_the_power_asked_and_one_fewer_does_not(p0, drop, m, k, power):
    p1 = p0 * (1 - drop)
    res = hayes_bennett("proportion", control=p0, intervention=p1, size=m, k=k, power=power)
    assert res.power >= power - 1e-9
    if res.clusters_per_arm - 1 > 1:
        fewer = hayes_bennett("proportion", control=p0, intervention=p1, size=m, k=k,
                              clusters=res.clusters_per_arm - 1)
        assert fewer.power < power


@settings(max_examples=50, deadline=None)
@given(m=st.floats(2, 500), icc=st.floats(0, 1), cv=st.floats(0, 2))
def test_unequal_clusters_never_lower_the_design_effect(m, icc, cv):
    assert design_effect(m=m, icc=icc, cv=cv) >= design_effect(m=m, icc=icc) - 1e-12


def test_attrition_needs_more_clusters_and_dropout_more_recruited():
    base = icc_cluster_trial("binary", p0=.3, p1=.2, m=30, icc=.05)
    lossy = icc_cluster_trial("binary", p0=.3, p1=.2, m=30, icc=.05, attrition=.3, cluster_attrition=.2)
    assert lossy.clusters_per_arm > base.clusters_per_arm
    assert lossy.clusters_recruited_per_arm == math.ceil(lossy.clusters_per_arm / 0.8)
    assert lossy.size_analysed == pytest.approx(21)


@pytest.mark.parametrize("call, message", [
    (lambda: hayes_bennett("ratio", control=.1, intervention=.2, size=10, k=.2), "expected one of: rate"),
    (lambda: hayes_bennett("rate", control=.1, intervention=.1, size=10, k=.2), "no effect to detect"),
    (lambda: hayes_bennett("mean", control=1, intervention=2, size=10, k=.2), "needs sd"),
    (lambda: hayes_bennett("rate", control=.1, intervention=.2, size=10, k=.2, clusters=1), "too few"),
    (lambda: hayes_bennett("rate", control=.1, intervention=.2, size=10, k=.2, clusters=9, power=.8),
     "not both"),
    (lambda: icc_cluster_trial("binary", p0=1.2, p1=.2, m=10, icc=.1), "p0=1.2 is out of range"),
    (lambda: icc_cluster_trial("binary", p0=.3, p1=.2, m=10, icc=.1, attrition=1), "attrition=1"),
])
def test_bad_input_says_what_is_wrong(call, message):
    with pytest.raises(DesignError) as info:
        call()
    assert message in str(info.value)


@settings(max_examples=50, deadline=None)
@given(p0=st.floats(0.05, 0.6), drop=st.floats(0.15, 0.6), m=st.floats(2, 300), icc=st.floats(0.001, 0.3),
       cv=st.floats(0, 1.5), attrition=st.floats(0, 0.5), power=st.floats(0.5, 0.95))
def test_design_effect_clusters_reach_the_power_asked_and_one_fewer_does_not(p0, drop, m, icc, cv,
                                                                             attrition, power):
    kw = dict(p0=p0, p1=p0 * (1 - drop), m=m, icc=icc, cv=cv, attrition=attrition)
    res = icc_cluster_trial("binary", power=power, **kw)
    assert res.power >= power - 1e-9
    assert icc_cluster_trial("binary", clusters=res.clusters_per_arm, **kw).power == pytest.approx(res.power)
    if res.clusters_per_arm > 1:
        assert icc_cluster_trial("binary", clusters=res.clusters_per_arm - 1, **kw).power < power


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.005, 0.5), k=st.floats(0, 0.4), y=st.floats(100, 10_000), c=st.integers(4, 300),
       power=st.floats(0.5, 0.95))
def test_the_detectable_rate_has_the_power_asked_and_needs_those_clusters(a, k, y, c, power):
    try:
        res = hayes_bennett("rate", control=a, intervention=None, size=y, k=k, clusters=c, power=power)
    except DesignError as exc:  # k caps the precision: then nothing is detectable, and it says so
        assert "no rate above" in str(exc)
        return
    b = res.detectable
    assert b > a
    assert res.power == pytest.approx(power, abs=1e-9)
    back = hayes_bennett("rate", control=a, intervention=b, size=y, k=k, power=power)
    assert back.clusters_exact == pytest.approx(c, rel=1e-8)
