"""Power, sample size and effect size of the t test, as R's ``pwr.t.test``.

References
----------
Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed. Erlbaum.
Champely S (2020). pwr: basic functions for power analysis. R package 1.3 (the reference
    implementation tested against, ``tests/reference/make_trial_design.R``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._results import Result, fmt
from ..errors import ParameterError
from .design import DesignError, _check_test, _number_any

__all__ = ["ALTERNATIVES", "T_TEST_TYPES", "TTestPowerResult", "t_test_power"]


T_TEST_TYPES = ("two.sample", "one.sample", "paired")
ALTERNATIVES = ("two.sided", "less", "greater")


@dataclass(frozen=True, repr=False)
class TTestPowerResult(Result):
    """Cohen's d, n per group (or pairs), power and alpha of a t test (as ``pwr.t.test``)."""

    d: float
    n: float
    power: float
    alpha: float
    type: str
    alternative: str

    def summary_text(self) -> str:
        unit = "per group" if self.type == "two.sample" else ("pairs" if self.type == "paired" else "")
        return (f"{self.type} t test ({self.alternative}): d = {fmt(self.d)}, n = {fmt(self.n)} {unit}, "
                f"power = {fmt(self.power)}, alpha = {self.alpha:g}")


def _t_power(d: float, n: float, alpha: float, tsample: int, alternative: str) -> float:
    from scipy import stats

    nu = (n - 1) * tsample
    ncp = math.sqrt(n / tsample) * d
    if alternative == "two.sided":
        ncp = abs(ncp)
        qu = stats.t.isf(alpha / 2, nu)
        return float(stats.nct.sf(qu, nu, ncp) + stats.nct.cdf(-qu, nu, ncp))
    if alternative == "greater":
        return float(stats.nct.sf(stats.t.isf(alpha, nu), nu, ncp))
    return float(stats.nct.cdf(stats.t.ppf(alpha, nu), nu, ncp))


def t_test_power(*, d: float | None = None, n: float | None = None, power: float | None = None,
                 alpha: float = 0.05, type: str = "two.sample", alternative: str = "two.sided"
                 ) -> TTestPowerResult:
    """Power of the one-, two-sample or paired t test; solves for whichever of d, n, power is None.

    ``n`` is per group for the two-sample test. Power comes from the noncentral t with
    ``(n - 1) * tsample`` df and noncentrality ``sqrt(n / tsample) * d`` (``tsample`` = 2 for two
    samples, 1 otherwise), exactly as R's ``pwr.t.test``; n and d are solved to full precision (pwr's
    ``uniroot`` stops at about 1e-4).

    Examples
    --------
    >>> round(t_test_power(d=.5, power=.8).n, 4)
    63.7656

    References
    ----------
    Cohen J (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed. Erlbaum.
    Champely S (2020). pwr: basic functions for power analysis. R package 1.3.
    """
    from scipy.optimize import brentq

    if type not in T_TEST_TYPES:
        raise ParameterError("type", type, ", ".join(T_TEST_TYPES))
    if alternative not in ALTERNATIVES:
        raise ParameterError("alternative", alternative, ", ".join(ALTERNATIVES))
    _check_test(alpha, True, power)
    left = [k for k, v in (("d", d), ("n", n), ("power", power)) if v is None]
    if len(left) != 1:
        raise DesignError(f"leave out exactly one of d, n, power to solve for it; left out: "
                          f"{', '.join(left) or 'none'}")
    tsample = 2 if type == "two.sample" else 1
    if n is not None:
        n = _number_any("n", n)
        if n < 2:
            raise DesignError(f"n={n:g} is out of range; the t test needs n >= 2")
    if d is not None:
        d = _number_any("d", d)
    if left == ["power"]:
        pw = _t_power(d, n, alpha, tsample, alternative)
        return TTestPowerResult(d=d, n=n, power=pw, alpha=float(alpha), type=type, alternative=alternative)
    if left == ["n"]:
        def f(x):
            return _t_power(d, x, alpha, tsample, alternative) - power
        lo = 2 + 1e-10
        if f(lo) >= 0:
            raise DesignError(f"power {power:g} is reached already at n = 2; nothing to solve")
        hi = 4.0
        while not f(hi) > 0:  # power rises with n towards 1 when d points the way of the alternative
            hi *= 2
            if d == 0 or hi > 1e9 or math.isnan(f(hi)):
                raise DesignError(f"no n up to 1e9 reaches power {power:g} for d = {d:g} "
                                  f"({alternative}); check the sign of d against the alternative")
        n = brentq(f, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500)
        return TTestPowerResult(d=d, n=n, power=float(power), alpha=float(alpha), type=type,
                                alternative=alternative)

    sign = -1.0 if alternative == "less" else 1.0

    def g(x):  # power rises with the size of d in the direction of the alternative
        return _t_power(sign * x, n, alpha, tsample, alternative) - power
    if g(0.0) >= 0:
        raise DesignError(f"power {power:g} is not above alpha {alpha:g}; nothing to solve")
    hi = 0.5
    while not g(hi) > 0:
        hi *= 2
        if hi > 64:
            raise DesignError(f"no effect size d within 64 SD gives power {power:g} with n = {n:g}")
    d = sign * brentq(g, 0.0, hi, xtol=1e-13, rtol=1e-14, maxiter=500)
    return TTestPowerResult(d=d, n=n, power=float(power), alpha=float(alpha), type=type,
                            alternative=alternative)
