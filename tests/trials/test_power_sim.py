"""Simulation-based power: it agrees with the formula where there is one, its analyses hold their level,
and it gives the same numbers on every compute backend."""

import pytest

from whatworks.trials.cluster import icc_cluster_trial
from whatworks.trials.design import DesignError, power
from whatworks.trials.power_sim import ClusterBinary, ClusterCounts, ThreeLevelContinuous, simulate_power

# Tolerance for a simulated proportion against its true value: 3.5 Monte Carlo SEs. A correct
# simulation falls outside with probability 5e-4 per check; the seeds are fixed, so the tests are
# deterministic, and a wrong variance term (e.g. dropping rho2/J) moves power by 10+ MCSEs here.
Z = 3.5


@pytest.mark.parametrize("kw", [
    dict(es=.3, rho2=.06, rho3=.18, n=10, J=2, K=60, p=.5),
    dict(es=.35, rho2=.1, rho3=.1, n=5, J=3, K=30, p=.4),
])
def test_simulated_power_of_a_three_level_trial_matches_the_powerup_formula(kw):
    res = simulate_power(ThreeLevelContinuous(**kw), replications=2000, seed=20201, backend="serial",
                         chunk=500, progress=False)
    formula = power("CRA3_3r", **kw).power
    assert abs(res.power - formula) < Z * res.power_mcse
    assert abs(res.bias) < Z * res.bias_mcse  # the difference of cluster means is unbiased
    assert abs(res.coverage - 0.95) < Z * 0.0049  # MCSE of a 0.95 proportion over 2000


NULL = dict(rate0=0.08, rate_ratio=1.0, exposure=400, blocks=6, clusters_per_block=8, k=0.3,
            size_cv=0.6, block_cv=0.3)


def test_the_cluster_level_analysis_holds_its_level_with_overdispersion_and_unequal_clusters():
    res = simulate_power(ClusterCounts(**NULL, analysis="cluster-level"), replications=2000, seed=7,
                         backend="serial", progress=False)
    mcse = (0.05 * 0.95 / res.replications) ** 0.5
    assert abs(res.power - 0.05) < Z * mcse
    assert abs(res.coverage - 0.95) < Z * mcse
    assert abs(res.bias) < Z * res.bias_mcse  # log((y+0.5)/e) shifts both arms alike under the null


def test_the_simulation_shows_the_robust_poisson_test_is_liberal_with_48_clusters():
    # The CR1 sandwich with 48 clusters of unequal size and 7 coefficients rejects a true null about
    # 6.5% of the time (4000-replication runs with two seeds gave 0.068 and 0.065): the simulation
    # exists to reveal exactly this. Pinned to [0.05, 0.09] so a change in either direction shows.
    res = simulate_power(ClusterCounts(**NULL), replications=2000, seed=7, backend="serial",
                         progress=False)
    assert res.failed == 0
    assert 0.05 < res.power < 0.09
    assert abs(res.bias) < Z * res.bias_mcse  # the Poisson GLM's log rate ratio is consistent


def test_counts_power_grows_with_the_effect_and_the_estimate_is_the_log_rate_ratio():
    common = dict(rate0=0.08, exposure=400, blocks=6, clusters_per_block=8, k=0.3, size_cv=0.6)
    small = simulate_power(ClusterCounts(rate_ratio=1.1, **common), replications=400, seed=3,
                           backend="serial", progress=False)
    big = simulate_power(ClusterCounts(rate_ratio=1.5, **common), replications=400, seed=3,
                         backend="serial", progress=False)
    assert big.power > small.power
    assert abs(big.bias) < Z * big.bias_mcse
    assert big.truth == pytest.approx(0.4054651081)


def test_small_sample_corrections_of_the_sandwich_bring_the_level_down():
    # Same simulated trials (same seed) under each correction. Seen with 4000 replications: CR1 0.068,
    # CR2 (Bell-McCaffrey) 0.063, MD (Mancl-DeRouen) 0.040: MD does not exceed the nominal level.
    runs = {se: simulate_power(ClusterCounts(**NULL, robust_se=se), replications=2000, seed=7,
                               backend="serial", progress=False) for se in ("CR1", "CR2", "MD")}
    mcse = (0.05 * 0.95 / 2000) ** 0.5
    assert runs["MD"].power < 0.05 + Z * mcse
    assert runs["MD"].power < runs["CR2"].power < runs["CR1"].power
    assert runs["MD"].coverage > runs["CR1"].coverage
    assert "(MD)" in runs["MD"].scenario


@pytest.mark.parametrize("analysis", ["logistic-robust", "cluster-level"])
def test_binary_analyses_hold_their_level_with_unequal_clusters(analysis):
    s = ClusterBinary(p0=.3, p1=.3, m=30, icc=.05, blocks=1, clusters_per_block=64, size_cv=.6,
                      analysis=analysis)
    res = simulate_power(s, replications=2000, seed=4, backend="serial", progress=False)
    mcse = (0.05 * 0.95 / res.replications) ** 0.5
    assert abs(res.power - 0.05) < Z * mcse
    assert abs(res.coverage - 0.95) < Z * mcse
    assert abs(res.bias) < Z * res.bias_mcse


def test_binary_power_with_unequal_clusters_agrees_with_the_eldridge_design_effect():
    # The design-effect formula is a normal approximation, so allow 0.02 beyond the Monte Carlo error
    # (seen: simulated 0.833 +- 0.008 against 0.838 with 32 clusters of mean 30, CV 0.6, ICC 0.05).
    s = ClusterBinary(p0=.3, p1=.2, m=30, icc=.05, blocks=1, clusters_per_block=64, size_cv=.6)
    res = simulate_power(s, replications=2000, seed=4, backend="serial", progress=False)
    formula = icc_cluster_trial("binary", p0=.3, p1=.2, m=30, icc=.05, cv=.6, clusters=32).power
    assert abs(res.power - formula) < Z * res.power_mcse + 0.02
    assert res.failed == 0 and abs(res.bias) < Z * res.bias_mcse


def test_the_result_is_the_same_on_every_backend():
    s = ThreeLevelContinuous(es=.3, rho2=.1, rho3=.1, n=4, J=2, K=20)
    a = simulate_power(s, replications=60, seed=5, chunk=20, backend="serial", progress=False)
    b = simulate_power(s, replications=60, seed=5, chunk=20, backend="processes", workers=2,
                       progress=False)
    assert a.to_dict() | {"compute": None} == b.to_dict() | {"compute": None}
    assert b.compute["backend"] == "processes"


@pytest.mark.parametrize("scenario, message", [
    (ThreeLevelContinuous(es=.3, rho2=.6, rho3=.6, n=4, J=2, K=20), "summing to at most 1"),
    (ThreeLevelContinuous(es=.3, rho2=.1, rho3=.1, n=4, J=2, K=2), "no df"),
    (ClusterCounts(rate0=.1, rate_ratio=1.2, exposure=10, blocks=2, clusters_per_block=4,
                   analysis="negbin"), "analysis='negbin' is not known"),
    (ClusterCounts(rate0=.1, rate_ratio=1.2, exposure=10, blocks=2, clusters_per_block=1),
     "leaves an arm empty"),
    (ClusterBinary(p0=.3, p1=.2, m=10, icc=.1, blocks=2, clusters_per_block=4, robust_se="HC3"),
     "robust_se='HC3' is not known; expected one of: CR1, CR2, MD"),
])
def test_bad_scenarios_are_refused_with_the_reason(scenario, message):
    with pytest.raises(DesignError) as info:
        simulate_power(scenario, replications=10, seed=1, backend="serial")
    assert message in str(info.value)
