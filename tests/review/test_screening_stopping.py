"""The stopping statistics against scipy's hypergeometric, hand-worked numbers and simulation."""

from math import comb, floor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from whatworks.errors import ParameterError
from whatworks.review.screening.stopping import (
    AllOf,
    AnyOf,
    ConsecutiveIrrelevantRule,
    MinimumScreenedRule,
    RandomSampleRule,
    RankedQuasiSampleRule,
    estimate_recall,
    first_stop,
    k_target,
    recall_p_value,
    safe_phase2_rule,
)


def test_k_target_is_the_fewest_missing_relevant_records_that_break_the_target():
    # 95 found, all before the sample: recall < 95% needs more than 95/0.95 - 95 = 5 in the urn
    assert k_target(95, 95, 0.95) == 6
    assert 95 / (95 + 6) < 0.95 <= 95 / (95 + 5)
    # 20 found: 20/0.95 - 20 = 1.05 -> at least 2 missing
    assert k_target(20, 20, 0.95) == 2
    # 3 of the found ones were in the sample: the urn (sample included) needs floor(40/0.9 - 37) + 1
    assert k_target(40, 37, 0.9) == floor(40 / 0.9 - 37) + 1


def test_p_value_by_hand_for_a_run_of_irrelevant_records():
    # 20 relevant found, then 200 irrelevant in a row, N = 1000: the urn before the run holds 980
    # records; H0 needs 2 relevant in it; P(no relevant in 200 draws) = C(778, 200)/C(980, 200)
    # = (780 * 779) / (980 * 979).
    p = recall_p_value(urn=980, sample=200, relevant_in_sample=0, found_before_sample=20)
    # the tail is summed from log-factorials (lgamma): ~1e-11 relative at this size
    assert p == pytest.approx(780 * 779 / (980 * 979), rel=1e-10)
    assert p == pytest.approx(comb(978, 200) / comb(980, 200), rel=1e-10)


@given(urn=st.integers(10, 3000), frac=st.floats(0.01, 1.0), k=st.integers(0, 30), r_al=st.integers(0, 300),
       target=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=150, deadline=None)
def test_p_value_matches_scipy_hypergeometric(urn, frac, k, r_al, target):
    n = max(1, int(frac * urn))
    k = min(k, n)
    K = floor((r_al + k) / target - r_al + 1e-9) + 1
    p = recall_p_value(urn=urn, sample=n, relevant_in_sample=k, found_before_sample=r_al, target=target)
    if K > urn - (n - k):
        assert p == 0.0  # the sample could not have been drawn under H0
    else:
        assert p == pytest.approx(hypergeom.cdf(k, urn, K, n), rel=1e-10, abs=1e-300)
    assert 0 <= p <= 1


@given(urn=st.integers(1, 200_000), K_frac=st.floats(0, 1), n_frac=st.floats(0, 1), k_frac=st.floats(0, 1),
       upper=st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_hypergeometric_tails_match_scipy_up_to_large_urns(urn, K_frac, n_frac, k_frac, upper):
    # our own tail sum (scipy.stats is not imported at run time: its import costs about a second)
    from whatworks.review.screening.stopping import _hypergeom_tail, _log_factorials

    K, n = round(K_frac * urn), max(1, round(n_frac * urn))
    lo_support, hi_support = max(0, n - (urn - K)), min(n, K)
    k = lo_support + round(k_frac * (hi_support - lo_support))
    lo, hi = (k, n) if upper else (0, k)
    ours = _hypergeom_tail(*(np.array([v]) for v in (lo, hi, urn, K, n)), _log_factorials(urn))[0]
    ref = hypergeom.sf(k - 1, urn, K, n) if upper else hypergeom.cdf(k, urn, K, n)
    # log-factorials of numbers up to 200,000 (about 2.2e6) carry ~5e-10 absolute error each
    assert ours == pytest.approx(ref, rel=2e-8, abs=1e-290)


def test_the_random_sample_test_keeps_its_error_rate_by_simulation():
    # Recall just below 95%: 90 found, urn of 1500 holds K = k_target(90, 90) = 5 relevant (recall
    # 90/95 = 94.7%). Draw random samples of 600: the test must reject (wrongly) in at most 5% of
    # runs. 4000 runs: Monte Carlo sd of a 5% rate is 0.0034, so allow 0.05 + 3 sd = 0.06.
    rng = np.random.default_rng(11)
    K = k_target(90, 90, 0.95)
    urn = np.zeros(1500, dtype=int)
    urn[:K] = 1
    rule = RandomSampleRule(0.95, 0.95)
    rejected = 0
    for _ in range(4000):
        sample = rng.choice(urn, 600, replace=False)
        k = int(sample.sum())
        p = recall_p_value(urn=1500, sample=600, relevant_in_sample=k, found_before_sample=90)
        rejected += p < 0.05
    assert rejected / 4000 <= 0.06
    # ... and with no relevant record in a sample of 600 of the 700 left it rejects:
    # p = C(695, 600) / C(700, 600) = (100 * 99 * 98 * 97 * 96) / (700 * ... * 696), far below 0.05
    d = rule.check(np.r_[np.ones(90), np.zeros(1000), np.zeros(600)], 1790, switch_at=1090)
    assert d.statistic["p"] == pytest.approx(comb(695, 600) / comb(700, 600), rel=1e-9)
    assert d.stop and d.statistic["relevant_in_sample"] == 0


@given(st.lists(st.integers(0, 1), min_size=1, max_size=120), st.integers(0, 400), st.integers(0, 2))
@settings(max_examples=120, deadline=None)
def test_min_p_over_candidate_windows_equals_min_over_all_windows(y, extra, n_prior):
    y = np.array(y)
    n_prior = min(n_prior, len(y) - 1)
    rule = RankedQuasiSampleRule()
    n_records = len(y) + extra
    full = rule.p_values(y, n_records, n_prior=n_prior)
    p, _ = rule.min_p(y, n_records, n_prior=n_prior)
    assert p == pytest.approx(full.min() if len(full) else 1.0, abs=1e-12)


@given(st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_vectorised_first_stop_equals_checking_each_step(seed):
    rng = np.random.default_rng(seed)
    n_records = int(rng.integers(60, 300))
    m = int(rng.integers(2, n_records))
    y = (rng.random(m) < np.linspace(0.7, 0.0, m)).astype(int)
    rule = RankedQuasiSampleRule(0.95, 0.95)
    fast = rule.first_stop(y, n_records, n_prior=1)
    slow, decision = first_stop(rule, y, n_records, n_prior=1, start=2)
    assert fast == (slow if decision.stop else None)


def test_ranked_rule_stops_on_a_long_run_of_irrelevant_records_and_says_why():
    # 20 found, N = 1600: H0 needs 2 relevant among the 1580 left; a run of n irrelevant records
    # has p = (1580 - n)(1579 - n) / (1580 * 1579), below 0.05 from n = 1228 on.
    y = np.r_[np.ones(20), np.zeros(1500)]
    rule = RankedQuasiSampleRule(0.95, 0.95)
    at = rule.first_stop(y, 1600)
    n = np.arange(1, 1501)
    assert at == 20 + int(n[(1580 - n) * (1579 - n) / (1580 * 1579) < 0.05][0])
    d = rule.check(y[:at], 1600)
    assert d.stop and "p = " in d.reason and d.statistic["p"] < 0.05
    assert not rule.check(y[:at - 1], 1600).stop
    assert "Callaghan" in rule.describe()


def test_recall_estimate_covers_the_truth_in_random_order_screening():
    # Random order: the last window is a true random sample, so the exact interval should cover the
    # true recall in at least 95% of runs (conservative: discreteness). 300 runs, sd of a 95% rate
    # ~0.013: require >= 0.92.
    rng = np.random.default_rng(5)
    y = np.zeros(2000, dtype=int)
    y[:60] = 1
    covered = 0
    for _ in range(300):
        seq = rng.permutation(y)[:800]
        est = estimate_recall(seq, 2000)
        truth = seq.sum() / 60
        covered += est.recall_lower <= truth <= est.recall_upper
    assert covered / 300 >= 0.92


def test_recall_estimate_reports_unseen_relevant_records():
    est = estimate_recall(np.r_[np.ones(30), np.zeros(170)], 2000)
    assert est.found == 30 and est.unseen_relevant == 0 and est.unseen_relevant_upper > 0
    assert est.recall_lower < est.recall <= 1


def test_rules_combine_and_describe_themselves():
    y = np.r_[np.ones(5), np.zeros(60)]
    run = ConsecutiveIrrelevantRule(50)
    share = MinimumScreenedRule(0.5)
    assert run.check(y, 100).stop and not share.check(y, 200).stop
    assert (run | share).check(y, 200).stop
    assert not (run & share).check(y, 200).stop
    assert isinstance(run | share, AnyOf) and isinstance(run & share, AllOf)
    assert "50 consecutive" in (run & share).describe()


def test_safe_phase2_rule_needs_all_its_conditions():
    # random phase: 2 relevant in 20 -> 10% of 1000 = 100 relevant estimated -> 200 to screen
    rule = safe_phase2_rule(n_random=20, relevant_in_random=2, n_records=1000)
    y = np.r_[np.ones(30), np.zeros(100)]  # 130 screened, 100 irrelevant in a row
    assert not rule.check(y, 1000).stop
    assert rule.check(np.r_[y, np.zeros(70)], 1000).stop


def test_bad_parameters_are_refused():
    with pytest.raises(ParameterError, match="target"):
        RankedQuasiSampleRule(target=1.5)
    with pytest.raises(ParameterError, match="switch_at"):
        RandomSampleRule().check([1, 0], 10)


def test_the_hypergeometric_median_bound_the_fast_first_stop_relies_on_holds():
    # RankedQuasiSampleRule.first_stop skips pairs with k >= ceil(mean): P(X <= ceil(mean)) must be
    # at least 1/2 (so never below 1 - confidence); checked exhaustively for urns up to 90.
    from scipy.stats import hypergeom

    worst = 1.0
    for urn in range(1, 91):
        K, n = np.meshgrid(np.arange(0, urn + 1), np.arange(1, urn + 1), indexing="ij")
        K, n = K.ravel(), n.ravel()
        p = hypergeom.cdf(np.ceil(n * K / urn), urn, K, n)
        worst = min(worst, float(p.min()))
    assert worst >= 0.5


@given(st.integers(0, 10_000), st.sampled_from([0.8, 0.95]), st.sampled_from([0.9, 0.95, 0.99]))
@settings(max_examples=40, deadline=None)
def test_fast_first_stop_equals_the_p_value_of_every_window_at_every_step(seed, target, confidence):
    rng = np.random.default_rng(seed)
    n_records = int(rng.integers(40, 400))
    m = int(rng.integers(2, n_records))
    y = (rng.random(m) < np.linspace(rng.uniform(0.2, 0.9), 0.0, m)).astype(int)
    n_prior = int(rng.integers(0, min(3, m)))
    rule = RankedQuasiSampleRule(target, confidence)
    expected = None
    for step in range(n_prior + 1, m + 1):
        p = rule.p_values(y[:step], n_records, n_prior=n_prior)
        if len(p) and p.min() < 1 - confidence:
            expected = step
            break
    assert rule.first_stop(y, n_records, n_prior=n_prior) == expected
