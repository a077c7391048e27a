"""Generic inverse-variance input: an estimate reported with its confidence interval or
standard error, as Cochrane's RevMan "generic inverse variance" outcome.

Adjusted odds ratios, hazard ratios and regression coefficients reach a review this way: no 2x2
table or means and SDs, only an estimate and its interval. On the analysis scale (the estimate
itself, or its logarithm for ratio measures, ``scale="log"``) the effect is
yi = estimate (or log estimate) and its standard error is

    se = (upper - lower) / (2 z),   z = Φ⁻¹(1 - (1 - level/100)/2)

(z = 1.959964 for a 95% interval), or the standard error given (on the analysis scale: the SE
of the log estimate when ``scale="log"``); vi = se².

References
----------
Higgins, J. P. T., Li, T., & Deeks, J. J. (Eds.) (2019). Choosing effect measures and computing
estimates of effect. In *Cochrane handbook for systematic reviews of interventions* (2nd ed.),
section 6.3 (obtaining standard errors from confidence intervals and P values). Wiley.
The Cochrane Collaboration. *Review Manager (RevMan)*: generic inverse variance outcomes.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

SCALES = ("identity", "log")


def critical_value(level: float) -> float:
    """The two-sided normal critical value of a ``level`` % confidence interval."""
    return NormalDist().inv_cdf(1 - (1 - level / 100) / 2)


def generic_inverse_variance(estimate, *, ci_lower=None, ci_upper=None, se=None,
                             scale: str = "identity", level: float = 95.0):
    """yi and vi from an estimate with its confidence interval (or standard error).

    Where both an interval and a standard error are given for a row, the interval is used
    (RevMan's order); rows with neither give NaN.
    """
    transform = np.log if scale == "log" else (lambda x: x)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = transform(np.asarray(estimate, dtype=float))
        sei = np.full(yi.shape, np.nan)
        if se is not None:
            sei = np.asarray(se, dtype=float) + 0.0
        if ci_lower is not None and ci_upper is not None:
            from_ci = (transform(np.asarray(ci_upper, dtype=float))
                       - transform(np.asarray(ci_lower, dtype=float))) / (2 * critical_value(level))
            sei = np.where(np.isnan(from_ci), sei, from_ci)
    return yi, sei**2


def asymmetric(estimate, ci_lower, ci_upper, *, scale: str, tolerance: float = 0.1) -> np.ndarray:
    """Rows whose interval is not symmetric around the estimate on the analysis scale (the two
    half-widths differ by more than ``tolerance`` of the interval's width): a ratio entered
    without ``scale="log"``, or a misprint."""
    transform = np.log if scale == "log" else (lambda x: x)
    with np.errstate(divide="ignore", invalid="ignore"):
        e, lo, hi = (transform(np.asarray(x, dtype=float)) for x in (estimate, ci_lower, ci_upper))
        return np.abs((hi - e) - (e - lo)) > tolerance * (hi - lo)
