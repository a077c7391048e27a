"""The PowerUp! formulas checked by simulation, independently of their transcription into R.

Every design but BIRA2_1f is simulated here from individual-level data (IRA through the t test of
pwr; CRA3_3r in test_power_sim.py); BIRA2_1f differs from BIRA2_1c only in its df.

For balanced designs without covariates the analysis named by each design is an exact t test, so the
simulated rejection rate must match the noncentral-t power. Tolerance: 3.5 Monte Carlo SEs (a correct
formula falls outside with probability 5e-4; seeds are fixed so the tests are deterministic). Most
wrong variance terms move power by more (dropping omega2 in BIRA2_1r: 0.34 -> 0.51, MCSE 0.0075;
omega3 in BCRA4_2r: 0.870 -> 0.907), but not all (omega2 in BIRA4_1r: 0.697 -> 0.714, within the
tolerance), so these checks complement the R table rather than replace it. Degrees of freedom
matter only when they are few: BIRA2_1c and BIRA2_1f (70 vs 60 df) differ by 0.001, which these
checks cannot see; the df formulas are checked against R only.
"""

import numpy as np
import pytest
from scipy import stats

from whatworks.trials.design import power

R = 4000
Z = 3.5


def rejection_rate(est, se, df, alpha=0.05):
    return float(np.mean(np.abs(est / se) > stats.t.ppf(1 - alpha / 2, df)))


def check(rate, formula):
    mcse = (formula * (1 - formula) / R) ** 0.5
    assert abs(rate - formula) < Z * mcse, (rate, formula, mcse)


def test_bira2_1r_random_block_effects():
    # individuals randomised within J blocks; the impact varies across blocks with variance
    # omega2 * rho2; analysis: the t test of the J block-specific impacts (df J - 1)
    rng = np.random.default_rng(1)
    es, rho2, omega2, n, J = 0.25, 0.2, 0.5, 20, 12
    half = n // 2
    u = np.sqrt(rho2) * rng.standard_normal((R, J, 1))
    tau = es + np.sqrt(omega2 * rho2) * rng.standard_normal((R, J))
    e = np.sqrt(1 - rho2) * rng.standard_normal((R, J, n))
    y = u + e
    y[:, :, :half] += tau[..., None]
    impacts = y[:, :, :half].mean(axis=2) - y[:, :, half:].mean(axis=2)
    est = impacts.mean(axis=1)
    se = impacts.std(axis=1, ddof=1) / np.sqrt(J)
    rate = rejection_rate(est, se, J - 1)
    check(rate, power("BIRA2_1r", es=es, rho2=rho2, omega2=omega2, n=n, J=J).power)


def test_bcra3_2f_clusters_within_fixed_blocks():
    # J clusters of n in each of K blocks, half the clusters treated in each block; fixed block and
    # block-by-treatment effects; analysis on cluster means with the pooled within-cell variance
    rng = np.random.default_rng(2)
    es, rho2, n, J, K = 0.3, 0.15, 10, 6, 8
    half = J // 2
    block = 3 * rng.standard_normal((R, K, 1))  # fixed blocks: any size, absorbed
    means = (block + np.sqrt(rho2) * rng.standard_normal((R, K, J))
             + np.sqrt((1 - rho2) / n) * rng.standard_normal((R, K, J)))
    means[:, :, :half] += es
    t, c = means[:, :, :half], means[:, :, half:]
    est = (t.mean(axis=2) - c.mean(axis=2)).mean(axis=1)
    ss = ((t - t.mean(axis=2, keepdims=True)) ** 2).sum(axis=(1, 2)) + \
        ((c - c.mean(axis=2, keepdims=True)) ** 2).sum(axis=(1, 2))
    df = K * (J - 2)
    s2 = ss / df
    se = np.sqrt(s2 * (1 / half + 1 / (J - half)) / K)
    rate = rejection_rate(est, se, df)
    check(rate, power("BCRA3_2f", es=es, rho2=rho2, n=n, J=J, K=K).power)


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_cra2_2r_with_unequal_arms(p):
    rng = np.random.default_rng(3)
    es, rho2, n, J = 0.4, 0.1, 15, 40
    j1 = round(p * J)
    means = (np.sqrt(rho2) * rng.standard_normal((R, J))
             + np.sqrt((1 - rho2) / n) * rng.standard_normal((R, J)))
    means[:, :j1] += es
    t, c = means[:, :j1], means[:, j1:]
    est = t.mean(axis=1) - c.mean(axis=1)
    s2 = (((t - t.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
          + ((c - c.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)) / (J - 2)
    se = np.sqrt(s2 * (1 / j1 + 1 / (J - j1)))
    check(rejection_rate(est, se, J - 2), power("CRA2_2r", es=es, rho2=rho2, n=n, J=J, p=p).power)


def test_bira2_1c_constant_effects_within_blocks():
    # individuals randomised within blocks, a constant effect: OLS with block fixed effects,
    # df = J(n - 1) - 1
    rng = np.random.default_rng(4)
    es, n, J = 0.3, 8, 10
    half = n // 2
    y = 2 * rng.standard_normal((R, J, 1)) + rng.standard_normal((R, J, n))
    y[:, :, :half] += es
    d = y[:, :, :half].mean(axis=2) - y[:, :, half:].mean(axis=2)
    est = d.mean(axis=1)
    # residuals of the model with block and treatment effects (balanced: closed form)
    fitted = y.mean(axis=2, keepdims=True) + np.where(np.arange(n) < half, 0.5, -0.5) * est[:, None, None]
    df = J * (n - 1) - 1
    s2 = ((y - fitted) ** 2).sum(axis=(1, 2)) / df
    se = np.sqrt(s2 * (1 / (half * J) + 1 / ((n - half) * J)))
    check(rejection_rate(est, se, df), power("BIRA2_1c", es=es, n=n, J=J).power)


def norm(rng, *shape):
    return rng.standard_normal((R, *shape))


def test_bcra3_2r_clusters_within_random_blocks():
    # K random blocks with impact variance omega3 * rho3; J clusters of n per block, half treated;
    # analysis: the t test of the K block impacts (df K - 1)
    rng = np.random.default_rng(5)
    es, rho2, rho3, omega3, n, J, K = 0.3, 0.1, 0.15, 0.4, 8, 6, 15
    sigma = np.sqrt(1 - rho2 - rho3)
    tau = es + np.sqrt(omega3 * rho3) * norm(rng, K, 1, 1)
    y = (np.sqrt(rho3) * norm(rng, K, 1, 1) + np.sqrt(rho2) * norm(rng, K, J, 1)
         + sigma * norm(rng, K, J, n))
    y[:, :, : J // 2, :] += tau
    means = y.mean(axis=3)
    impacts = means[:, :, : J // 2].mean(axis=2) - means[:, :, J // 2:].mean(axis=2)
    est, se = impacts.mean(axis=1), impacts.std(axis=1, ddof=1) / np.sqrt(K)
    check(rejection_rate(est, se, K - 1),
          power("BCRA3_2r", es=es, rho2=rho2, rho3=rho3, omega3=omega3, n=n, J=J, K=K).power)


def test_bira3_1r_individuals_within_random_level2_and_level3_blocks():
    rng = np.random.default_rng(6)
    es, rho2, rho3, omega2, omega3, n, J, K = 0.25, 0.1, 0.1, 0.5, 0.3, 10, 3, 14
    sigma = np.sqrt(1 - rho2 - rho3)
    tau = (es + np.sqrt(omega3 * rho3) * norm(rng, K, 1, 1)
           + np.sqrt(omega2 * rho2) * norm(rng, K, J, 1))
    y = (np.sqrt(rho3) * norm(rng, K, 1, 1) + np.sqrt(rho2) * norm(rng, K, J, 1)
         + sigma * norm(rng, K, J, n))
    y[..., : n // 2] += tau
    impacts2 = y[..., : n // 2].mean(axis=3) - y[..., n // 2:].mean(axis=3)
    impacts3 = impacts2.mean(axis=2)
    est, se = impacts3.mean(axis=1), impacts3.std(axis=1, ddof=1) / np.sqrt(K)
    check(rejection_rate(est, se, K - 1),
          power("BIRA3_1r", es=es, rho2=rho2, rho3=rho3, omega2=omega2, omega3=omega3, n=n, J=J,
                K=K).power)


def test_cra4_4r_top_level_units_randomised():
    rng = np.random.default_rng(7)
    es, rho2, rho3, rho4, n, J, K, L = 0.35, 0.08, 0.06, 0.1, 5, 2, 3, 30
    sigma = np.sqrt(1 - rho2 - rho3 - rho4)
    y = (np.sqrt(rho4) * norm(rng, L, 1, 1, 1) + np.sqrt(rho3) * norm(rng, L, K, 1, 1)
         + np.sqrt(rho2) * norm(rng, L, K, J, 1) + sigma * norm(rng, L, K, J, n))
    y[:, : L // 2] += es
    m = y.mean(axis=(2, 3, 4))
    t, c = m[:, : L // 2], m[:, L // 2:]
    s2 = (t.var(axis=1, ddof=1) * (L // 2 - 1) + c.var(axis=1, ddof=1) * (L - L // 2 - 1)) / (L - 2)
    se = np.sqrt(s2 * (1 / (L // 2) + 1 / (L - L // 2)))
    check(rejection_rate(t.mean(axis=1) - c.mean(axis=1), se, L - 2),
          power("CRA4_4r", es=es, rho2=rho2, rho3=rho3, rho4=rho4, n=n, J=J, K=K, L=L).power)


def test_bcra4_3r_level3_units_within_random_level4_blocks():
    rng = np.random.default_rng(8)
    es, rho2, rho3, rho4, omega4, n, J, K, L = 0.3, 0.08, 0.1, 0.1, 0.5, 5, 2, 4, 16
    sigma = np.sqrt(1 - rho2 - rho3 - rho4)
    tau = es + np.sqrt(omega4 * rho4) * norm(rng, L, 1, 1, 1)
    y = (np.sqrt(rho4) * norm(rng, L, 1, 1, 1) + np.sqrt(rho3) * norm(rng, L, K, 1, 1)
         + np.sqrt(rho2) * norm(rng, L, K, J, 1) + sigma * norm(rng, L, K, J, n))
    y[:, :, : K // 2] += tau
    m3 = y.mean(axis=(3, 4))
    impacts = m3[:, :, : K // 2].mean(axis=2) - m3[:, :, K // 2:].mean(axis=2)
    est, se = impacts.mean(axis=1), impacts.std(axis=1, ddof=1) / np.sqrt(L)
    check(rejection_rate(est, se, L - 1),
          power("BCRA4_3r", es=es, rho2=rho2, rho3=rho3, rho4=rho4, omega4=omega4, n=n, J=J, K=K,
                L=L).power)


def test_bcra4_2r_level2_units_within_random_level3_and_level4_blocks():
    rng = np.random.default_rng(9)
    es, rho2, rho3, rho4, omega3, omega4, n, J, K, L = 0.3, 0.1, 0.08, 0.06, 0.5, 0.4, 6, 4, 3, 14
    sigma = np.sqrt(1 - rho2 - rho3 - rho4)
    tau = (es + np.sqrt(omega4 * rho4) * norm(rng, L, 1, 1, 1)
           + np.sqrt(omega3 * rho3) * norm(rng, L, K, 1, 1))
    y = (np.sqrt(rho4) * norm(rng, L, 1, 1, 1) + np.sqrt(rho3) * norm(rng, L, K, 1, 1)
         + np.sqrt(rho2) * norm(rng, L, K, J, 1) + sigma * norm(rng, L, K, J, n))
    y[:, :, :, : J // 2] += tau
    m2 = y.mean(axis=4)
    impacts = (m2[..., : J // 2].mean(axis=3) - m2[..., J // 2:].mean(axis=3)).mean(axis=2)
    est, se = impacts.mean(axis=1), impacts.std(axis=1, ddof=1) / np.sqrt(L)
    check(rejection_rate(est, se, L - 1),
          power("BCRA4_2r", es=es, rho2=rho2, rho3=rho3, rho4=rho4, omega3=omega3, omega4=omega4,
                n=n, J=J, K=K, L=L).power)


def test_bira4_1r_individuals_within_random_blocks_at_three_levels():
    rng = np.random.default_rng(10)
    es, rho2, rho3, rho4 = 0.25, 0.08, 0.08, 0.08
    omega2, omega3, omega4, n, J, K, L = 0.4, 0.4, 0.4, 6, 2, 3, 15
    sigma = np.sqrt(1 - rho2 - rho3 - rho4)
    tau = (es + np.sqrt(omega4 * rho4) * norm(rng, L, 1, 1, 1)
           + np.sqrt(omega3 * rho3) * norm(rng, L, K, 1, 1) + np.sqrt(omega2 * rho2) * norm(rng, L, K, J, 1))
    y = (np.sqrt(rho4) * norm(rng, L, 1, 1, 1) + np.sqrt(rho3) * norm(rng, L, K, 1, 1)
         + np.sqrt(rho2) * norm(rng, L, K, J, 1) + sigma * norm(rng, L, K, J, n))
    y[..., : n // 2] += tau
    impacts = (y[..., : n // 2].mean(axis=4) - y[..., n // 2:].mean(axis=4)).mean(axis=(2, 3))
    est, se = impacts.mean(axis=1), impacts.std(axis=1, ddof=1) / np.sqrt(L)
    check(rejection_rate(est, se, L - 1),
          power("BIRA4_1r", es=es, rho2=rho2, rho3=rho3, rho4=rho4, omega2=omega2, omega3=omega3,
                omega4=omega4, n=n, J=J, K=K, L=L).power)


def test_bcra4_3f_level3_units_within_fixed_level4_blocks():
    rng = np.random.default_rng(11)
    es, rho2, rho3, n, J, K, L = 0.3, 0.1, 0.12, 5, 3, 6, 6
    sigma = np.sqrt(1 - rho2 - rho3)
    m3 = (3 * norm(rng, L, 1) + np.sqrt(rho3) * norm(rng, L, K)
          + (np.sqrt(rho2) * norm(rng, L, K, J) + sigma * norm(rng, L, K, J, n).mean(axis=4)).mean(axis=3))
    m3[:, :, : K // 2] += es
    t, c = m3[:, :, : K // 2], m3[:, :, K // 2:]
    est = (t.mean(axis=2) - c.mean(axis=2)).mean(axis=1)
    ss = ((t - t.mean(axis=2, keepdims=True)) ** 2).sum(axis=(1, 2)) + \
        ((c - c.mean(axis=2, keepdims=True)) ** 2).sum(axis=(1, 2))
    df = L * (K - 2)
    se = np.sqrt(ss / df * (1 / (K // 2) + 1 / (K - K // 2)) / L)
    check(rejection_rate(est, se, df),
          power("BCRA4_3f", es=es, rho2=rho2, rho3=rho3, n=n, J=J, K=K, L=L).power)


def test_ira_is_the_two_sample_t_test_of_pwr():
    from whatworks.trials.ttest import t_test_power

    for d, n in ((0.3, 50), (0.5, 20), (0.2, 400)):
        assert power("IRA", es=d, n=2 * n).power == pytest.approx(t_test_power(d=d, n=n).power, abs=1e-12)
