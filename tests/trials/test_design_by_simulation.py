"""The PowerUp! formulas checked by simulation, independently of their transcription into R.

For balanced designs without covariates the analysis named by each design is an exact t test, so the
simulated rejection rate must match the noncentral-t power. Tolerance: 3.5 Monte Carlo SEs (a correct
formula falls outside with probability 5e-4; seeds are fixed so the tests are deterministic); a wrong
variance term moves power by far more here (e.g. dropping omega2 in BIRA2_1r: 0.34 -> 0.51, MCSE
0.0075). Degrees of freedom matter only when they are few: BIRA2_1c and BIRA2_1f (70 vs 60 df) differ
by 0.001, which these checks cannot see; the df formulas are checked against R only.
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
