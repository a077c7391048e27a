"""Correlation coefficients: raw (COR), bias-corrected (UCOR), Fisher's z (ZCOR), and partial
correlations from regression t statistics (PCOR, ZPCOR).

Tested against metafor 3.8 ``escalc`` on ``dat.mcdaniel1994`` and ``dat.aloe2013``:
``tests/reference/make_effects.R``.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def hyp2f1(a: float, b: float, c, z) -> np.ndarray:
    """Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 <= z <= 1, vectorised over c and z.

    scipy's ``hyp2f1`` is accurate for small c but returns NaN for large c with z near 1
    (large samples with small correlations), so for c >= 25 the defining power series is summed
    directly; there its terms fall off faster than k^-(c - a - b) and a few dozen suffice.
    """
    c, z = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(z, dtype=float))
    out = np.asarray(special.hyp2f1(a, b, c, z), dtype=float).copy()
    big = (c >= 25) & np.isfinite(c) & np.isfinite(z)
    if big.any():
        cb, zb = c[big], z[big]
        term, total = np.ones_like(zb), np.ones_like(zb)
        for k in range(100_000):
            term = term * (a + k) * (b + k) / ((cb + k) * (k + 1)) * zb
            total += term
            if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
                break
        out[big] = total
    return out


def _weighted_mean(values, weights):
    ok = np.isfinite(values) & np.isfinite(weights)
    return np.sum(weights[ok] * values[ok]) / np.sum(weights[ok]) if ok.any() else np.nan


def _large_sample_variance(r, ni, vtype):
    """(1 - r²)²/(n - 1), with r the weighted mean correlation when ``vtype="AV"``."""
    if vtype == "AV":
        r = _weighted_mean(r, ni)
    return (1 - r**2) ** 2 / (ni - 1)


def correlation(ri, ni, *, vtype: str = "LS"):
    """Raw correlation r with variance (1 - r²)²/(n - 1).

    ``vtype="AV"`` plugs in the sample-size weighted mean correlation instead of each r.

    References
    ----------
    Borenstein, M. (2009). Effect sizes for continuous data. In *The handbook of research
    synthesis and meta-analysis* (2nd ed., pp. 221-235), equation 12.27.
    Tested against metafor 3.8 ``escalc(measure="COR")``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(ri, dtype=float), _large_sample_variance(ri, ni, vtype)


def unbiased_correlation(ri, ni, *, vtype: str = "LS"):
    """Olkin-Pratt unbiased correlation r·₂F₁(½, ½; (n-2)/2; 1 - r²).

    Variance: ``"LS"`` (1 - u²)²/(n - 1) with u the corrected value; ``"AV"`` the same with the
    weighted mean of u; ``"UB"`` the exact unbiased variance estimate
    u² - 1 + (n-3)/(n-2)·(1 - r²)·₂F₁(1, 1; n/2; 1 - r²) (Hedges 1989, exact form).
    As in metafor 3.8, studies with n <= 4 get ``NaN``.

    References
    ----------
    Olkin, I., & Pratt, J. W. (1958). Unbiased estimation of certain correlation coefficients.
    *Annals of Mathematical Statistics*, 29(1), 201-211, equation 2.3.
    Hedges, L. V. (1989). An unbiased correction for sampling error in validity generalization
    studies. *Journal of Applied Psychology*, 74(3), 469-477.
    Tested against metafor 3.8 ``escalc(measure="UCOR")``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        u = ri * hyp2f1(0.5, 0.5, (ni - 2) / 2, 1 - ri**2)
        u = np.where(ni > 4, u, np.nan)
        if vtype == "UB":
            vi = u**2 - 1 + (ni - 3) / (ni - 2) * (1 - ri**2) * hyp2f1(
                1, 1, ni / 2, 1 - ri**2)
        else:
            vi = _large_sample_variance(u, ni, vtype)
    return u, vi


def fisher_z(ri, ni):
    """Fisher's r-to-z transformation atanh(r) with variance 1/(n - 3).

    References
    ----------
    Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced from
    a small sample. *Metron*, 1, 1-32. Tested against metafor 3.8 ``escalc(measure="ZCOR")``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arctanh(ri), 1 / (ni - 3)


def partial_correlation(ti, ni, mi):
    """Partial correlation from the t statistic of a regression coefficient.

    With df = n - m - 1 (m predictors, counting the one of interest):
    r = t / sqrt(t² + df), variance (1 - r²)²/df. The sign of r is the sign of t.

    References
    ----------
    Aloe, A. M., & Thompson, C. G. (2013). The synthesis of partial effect sizes. *Journal of
    the Society for Social Work and Research*, 4(4), 390-405.
    Tested against metafor 3.8 ``escalc(measure="PCOR")``.
    """
    df = ni - mi - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ti / np.sqrt(ti**2 + df)
        return r, (1 - r**2) ** 2 / df


def fisher_z_partial_correlation(ti, ni, mi):
    """Fisher's z of the partial correlation, atanh(r), with variance 1/(n - m - 1).

    The variance is metafor 3.8's. The textbook large-sample variance of z for a partial
    correlation controlling for m - 1 covariates is 1/(n - m - 2); the two differ by one
    degree of freedom (see ``docs/methods/effects.md``).

    References
    ----------
    Aloe, A. M., & Thompson, C. G. (2013), as for :func:`partial_correlation`.
    Tested against metafor 3.8 ``escalc(measure="ZPCOR")``.
    """
    r, _ = partial_correlation(ti, ni, mi)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arctanh(r), 1 / (ni - mi - 1)
