"""Cluster trials beyond PowerUp!: rates, proportions and means with between-cluster variation,
unequal cluster sizes and attrition.

Two families of formulas, each solving for whichever of the number of clusters or power is left out:

* :func:`hayes_bennett` — Hayes & Bennett (1999): the number of clusters per arm for a rate (events
  per person-year, e.g. section 47 enquiries per child-year), a proportion or a mean, from the
  between-cluster coefficient of variation ``k`` of the true cluster rates (proportions, means)::

      rates:        c = 1 + (z_a/2 + z_b)² [(l0 + l1)/y + k²(l0² + l1²)] / (l0 - l1)²
      proportions:  c = 1 + (z_a/2 + z_b)² [p0(1-p0)/m + p1(1-p1)/m + k²(p0² + p1²)] / (p0 - p1)²
      means:        c = 1 + (z_a/2 + z_b)² [(s0² + s1²)/m + k²(u0² + u1²)] / (u0 - u1)²

  with ``y`` person-years and ``m`` individuals per cluster; pair-matched trials use the
  within-pair ``k_m`` and ``2 +`` in place of ``1 +``. Power inverts the same equation:
  ``z_b = |l0 - l1| sqrt((c - 1) / [...]) - z_a/2``; the detectable intervention value is its root
  in ``l1`` (Brent's method) above or below the control value.

* :func:`icc_cluster_trial` — the individually randomised sample size times the design effect for
  clusters of mean size ``m`` with coefficient of variation ``cv`` of the cluster sizes (Eldridge,
  Ashby & Kerry 2006): ``DE = 1 + ((cv² + 1) m - 1) icc``; for a binary outcome
  ``N per arm = (z_a/2 + z_b)² [p0(1-p0) + p1(1-p1)] / (p0 - p1)² * DE``, for a continuous outcome
  ``N per arm = 2 (z_a/2 + z_b)² / es² * DE``; clusters per arm ``c = N / m``.

Attrition: a proportion ``attrition`` of the individuals (or person-time) recruited in each cluster is
lost before the outcome is measured, so the formulas use ``m (1 - attrition)`` (``y (1 - attrition)``)
and the result reports both the recruited and the analysed cluster size. Clusters lost whole are a
different matter: inflate the clusters by ``1 / (1 - cluster attrition)`` (``cluster_attrition``).

All tests are two-sided at level ``alpha``; like the papers, power ignores the far rejection region
(below 1e-6 whenever power exceeds 0.1).

References
----------
Hayes RJ, Bennett S (1999). Simple sample size calculation for cluster-randomized trials. Int J
    Epidemiol 28:319-326. (equations 1-6; k and k_m)
Eldridge SM, Ashby D, Kerry S (2006). Sample size for cluster randomized trials: effect of coefficient
    of variation of cluster size and analysis method. Int J Epidemiol 35:1292-1300. (the design effect)
Donner A, Klar N (2000). Design and Analysis of Cluster Randomization Trials in Health Research.
    Arnold. (the design effect 1 + (m - 1) icc)

Reference implementation tested against: the same equations written independently in R
(``tests/reference/make_trial_cluster.R``; clusterPower is not in Debian), and the worked numbers of
the social workers in schools trial shape in the docs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._results import Result, fmt
from .design import DesignError, _number_any

__all__ = ["OUTCOMES", "ClusterTrialResult", "design_effect", "hayes_bennett", "icc_cluster_trial"]

#: Outcome types :func:`hayes_bennett` knows: what ``control``/``intervention`` and ``size`` are.
OUTCOMES = {
    "rate": "events per unit of person-time; size = person-time (e.g. child-years) per cluster",
    "proportion": "proportion with the event; size = individuals per cluster",
    "mean": "mean of a continuous outcome; size = individuals per cluster; needs sd",
}


@dataclass(frozen=True, repr=False)
class ClusterTrialResult(Result):
    """Clusters per arm and power of a two-arm cluster trial (one of them solved for)."""

    method: str
    outcome: str
    clusters_per_arm: int
    clusters_exact: float
    power: float
    alpha: float
    size_recruited: float
    size_analysed: float
    clusters_recruited_per_arm: int
    design_effect: float | None
    inputs: dict[str, Any]
    solved_for: str = "clusters"
    detectable: float | None = None

    def summary_text(self) -> str:
        de = f", design effect {fmt(self.design_effect)}" if self.design_effect is not None else ""
        found = ""
        if self.detectable is not None:
            a = self.inputs["control"]
            ratio = f" (ratio {fmt(self.detectable / a)})" if a else ""
            found = f"; detectable intervention value {fmt(self.detectable)}{ratio}"
        return (f"{self.method} ({self.outcome}): {self.clusters_per_arm} clusters per arm "
                f"(exactly {fmt(self.clusters_exact)}; recruit {self.clusters_recruited_per_arm}), "
                f"power {fmt(self.power)} at alpha {self.alpha:g}{de}{found}")


def _z(p: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(p))


def _phi(x: float) -> float:
    from scipy import stats

    return float(stats.norm.cdf(x))


def _prop(name: str, x: Any, *, low_open: bool = True, high_open: bool = True) -> float:
    v = _number_any(name, x)
    lo_ok = v > 0 if low_open else v >= 0
    hi_ok = v < 1 if high_open else v <= 1
    if not (lo_ok and hi_ok):
        lo = "(0" if low_open else "[0"
        hi = "1)" if high_open else "1]"
        raise DesignError(f"{name}={x!r} is out of range; expected a proportion in {lo}, {hi}")
    return v


def _positive(name: str, x: Any, *, zero: bool = False) -> float:
    v = _number_any(name, x)
    if v < 0 or (v == 0 and not zero):
        raise DesignError(f"{name}={x!r} is out of range; expected a number above 0"
                          + (" or 0" if zero else ""))
    return v


def _one_left(clusters, power) -> tuple[str, float | None]:
    """Solve for power when clusters are given, else for clusters (at power 0.8 unless given)."""
    if clusters is not None and power is not None:
        raise DesignError("give clusters (to compute power) or power (to compute clusters), not both")
    if clusters is not None:
        return "power", None
    return "clusters", 0.8 if power is None else power


def _recruit(c: int, cluster_attrition: float) -> int:
    return math.ceil(c / (1 - cluster_attrition) - 1e-9)


def hayes_bennett(outcome: str, *, control: float, intervention: float | None, size: float, k: float,
                  sd: float | None = None, clusters: float | None = None, power: float | None = None,
                  alpha: float = 0.05, matched: bool = False, attrition: float = 0.0,
                  cluster_attrition: float = 0.0, direction: str = "increase") -> ClusterTrialResult:
    """Clusters per arm, power, or the detectable intervention value by Hayes & Bennett (1999).

    Give ``intervention`` and not ``clusters`` for the clusters per arm (at ``power``, default 0.8);
    ``intervention`` and ``clusters`` for the power; ``clusters`` with ``intervention=None`` for the
    smallest intervention rate (proportion, mean) detectable with ``power`` (default 0.8), above the
    control value (``direction="increase"``) or below it (``"decrease"``).

    Parameters
    ----------
    outcome : ``"rate"``, ``"proportion"`` or ``"mean"`` (see :data:`OUTCOMES`).
    control, intervention : the true rate, proportion or mean in each arm.
    size : person-time (rates) or individuals (proportions, means) per cluster, as recruited.
    k : between-cluster coefficient of variation of the true rates (proportions, means) within an
        arm; for ``matched=True`` the within-pair ``k_m``.
    sd : within-cluster standard deviation of a continuous outcome (``outcome="mean"``).
    clusters : clusters per arm: give it to compute power (or the detectable effect).
    power : power wanted when computing clusters or the detectable effect (default 0.8).
    attrition : proportion of each cluster's individuals or person-time lost to follow-up.
    cluster_attrition : proportion of whole clusters expected to drop out (inflates recruitment).

    References
    ----------
    Hayes RJ, Bennett S (1999). Int J Epidemiol 28:319-326.
    """
    if outcome not in OUTCOMES:
        raise DesignError(f"outcome={outcome!r} is not known; expected one of: {', '.join(OUTCOMES)}")
    if intervention is None:
        if clusters is None:
            raise DesignError("give intervention (to compute clusters or power) or clusters (to compute "
                              "the detectable intervention value)")
        if direction not in ("increase", "decrease"):
            raise DesignError(f"direction={direction!r} is not known; expected increase or decrease")
        solve_for, power = "effect", 0.8 if power is None else power
    else:
        solve_for, power = _one_left(clusters, power)
    alpha = _prop("alpha", alpha)
    k = _positive("k", k, zero=True)
    size = _positive("size", size)
    attrition = _prop("attrition", attrition, low_open=False)
    cluster_attrition = _prop("cluster_attrition", cluster_attrition, low_open=False)
    analysed = size * (1 - attrition)
    if outcome == "rate":
        a = _positive("control", control)
    elif outcome == "proportion":
        a = _prop("control", control)
    else:
        if sd is None:
            raise DesignError("outcome='mean' needs sd, the within-cluster standard deviation")
        sd = _positive("sd", sd)
        a = _number_any("control", control)

    def var(b: float) -> float:
        if outcome == "rate":
            within = (a + b) / analysed
        elif outcome == "proportion":
            within = (a * (1 - a) + b * (1 - b)) / analysed
        else:
            within = 2 * sd ** 2 / analysed
        return within + k ** 2 * (a ** 2 + b ** 2)

    extra = 2.0 if matched else 1.0
    za = _z(1 - alpha / 2)
    if solve_for == "effect":
        power = _prop("power", power)
        exact = _positive("clusters", clusters)
        b = _detectable(outcome, a, var, exact - extra, za + _z(power), direction, sd)
    elif outcome == "rate":
        b = _positive("intervention", intervention)
    elif outcome == "proportion":
        b = _prop("intervention", intervention)
    else:
        b = _number_any("intervention", intervention)
    if a == b:
        raise DesignError(f"control and intervention are equal ({a:g}); there is no effect to detect")
    v = var(b)
    if solve_for == "clusters":
        power = _prop("power", power)
        exact = extra + (za + _z(power)) ** 2 * v / (a - b) ** 2
        c = math.ceil(exact - 1e-9)
        achieved = _phi(abs(a - b) * math.sqrt((c - extra) / v) - za)
    else:
        exact = _positive("clusters", clusters)
        if exact <= extra:
            raise DesignError(f"clusters={clusters!r} is too few: the formula needs more than "
                              f"{extra:g} clusters per arm ({'matched' if matched else 'unmatched'})")
        c = math.ceil(exact - 1e-9) if exact != int(exact) else int(exact)
        achieved = _phi(abs(a - b) * math.sqrt((exact - extra) / v) - za)
    return ClusterTrialResult(
        method="Hayes & Bennett 1999" + (" (pair-matched)" if matched else ""), outcome=outcome,
        clusters_per_arm=c, clusters_exact=exact, power=achieved, alpha=alpha, size_recruited=size,
        size_analysed=analysed, clusters_recruited_per_arm=_recruit(c, cluster_attrition),
        design_effect=None,
        inputs={"control": a, "intervention": b, "k": k, "sd": sd, "matched": matched,
                "attrition": attrition, "cluster_attrition": cluster_attrition},
        solved_for=solve_for, detectable=b if solve_for == "effect" else None)


def _detectable(outcome, a, var, dfc, zsum, direction, sd) -> float:
    """The intervention value b at which |a - b| sqrt(dfc / var(b)) = zsum, on the side asked."""
    from scipy.optimize import brentq

    if dfc <= 0:
        raise DesignError("too few clusters per arm for the formula (unmatched needs more than 1, "
                          "matched more than 2)")

    def f(b):
        return abs(a - b) * math.sqrt(dfc / var(b)) - zsum

    if direction == "increase":
        hi = 1 - 1e-12 if outcome == "proportion" else (a * 1e6 if outcome == "rate" else a + 1e6 * sd)
        lo = a
    else:
        lo = 1e-12 if outcome in ("proportion", "rate") else a - 1e6 * sd
        hi = a
    far = hi if direction == "increase" else lo
    if f(far) < 0:
        raise DesignError(f"no {outcome} {'above' if direction == 'increase' else 'below'} the control "
                          f"value {a:g} is detectable with this power and these clusters (the "
                          "between-cluster variation k caps the precision); add clusters or lower k")
    return float(brentq(f, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))


def design_effect(*, m: float, icc: float, cv: float = 0.0) -> float:
    """Design effect of clusters of mean size ``m`` whose sizes vary with coefficient of variation
    ``cv``: ``1 + ((cv² + 1) m - 1) icc`` (Eldridge, Ashby & Kerry 2006; ``cv = 0`` gives the
    familiar ``1 + (m - 1) icc``).

    References
    ----------
    Eldridge SM, Ashby D, Kerry S (2006). Int J Epidemiol 35:1292-1300.
    """
    m = _positive("m", m)
    icc = _prop("icc", icc, low_open=False, high_open=False)
    cv = _positive("cv", cv, zero=True)
    return 1 + ((cv ** 2 + 1) * m - 1) * icc


def icc_cluster_trial(outcome: str, *, m: float, icc: float, p0: float | None = None,
                      p1: float | None = None, es: float | None = None, cv: float = 0.0,
                      clusters: float | None = None, power: float | None = None, alpha: float = 0.05,
                      attrition: float = 0.0, cluster_attrition: float = 0.0) -> ClusterTrialResult:
    """Clusters per arm or power from the design effect, for a ``"binary"`` outcome (``p0``, ``p1``)
    or a ``"continuous"`` one (standardised ``es``), with unequal cluster sizes (``cv``) and attrition.

    ``m`` is the mean number recruited per cluster; ``m (1 - attrition)`` are analysed and enter the
    design effect and the count of clusters.

    References
    ----------
    Donner A, Klar N (2000). Design and Analysis of Cluster Randomization Trials. Arnold.
    Eldridge SM, Ashby D, Kerry S (2006). Int J Epidemiol 35:1292-1300.
    """
    solve_for, power = _one_left(clusters, power)
    alpha = _prop("alpha", alpha)
    attrition = _prop("attrition", attrition, low_open=False)
    cluster_attrition = _prop("cluster_attrition", cluster_attrition, low_open=False)
    m_recruited = _positive("m", m)
    m_a = m_recruited * (1 - attrition)
    de = design_effect(m=m_a, icc=icc, cv=cv)
    if outcome == "binary":
        if p0 is None or p1 is None:
            raise DesignError("outcome='binary' needs p0 and p1, the proportions in control and "
                              "intervention")
        a, b = _prop("p0", p0), _prop("p1", p1)
        if a == b:
            raise DesignError(f"p0 and p1 are equal ({a:g}); there is no effect to detect")
        var, delta = a * (1 - a) + b * (1 - b), abs(a - b)
        inputs = {"p0": a, "p1": b}
    elif outcome == "continuous":
        if es is None:
            raise DesignError("outcome='continuous' needs es, the standardised effect size")
        delta, var = abs(_number_any("es", es)), 2.0
        if delta == 0:
            raise DesignError("es=0: there is no effect to detect")
        inputs = {"es": es}
    else:
        raise DesignError(f"outcome={outcome!r} is not known; expected binary or continuous")
    za = _z(1 - alpha / 2)
    if solve_for == "clusters":
        power = _prop("power", power)
        n_arm = (za + _z(power)) ** 2 * var / delta ** 2 * de
        exact = n_arm / m_a
        c = math.ceil(exact - 1e-9)
        achieved = _phi(delta * math.sqrt(c * m_a / (de * var)) - za)
    else:
        exact = _positive("clusters", clusters)
        c = int(math.ceil(exact - 1e-9))
        achieved = _phi(delta * math.sqrt(exact * m_a / (de * var)) - za)
    inputs.update({"icc": icc, "cv": cv, "attrition": attrition, "cluster_attrition": cluster_attrition})
    return ClusterTrialResult(
        method="design effect (Eldridge et al. 2006)", outcome=outcome, clusters_per_arm=c,
        clusters_exact=exact, power=achieved, alpha=alpha, size_recruited=m_recruited, size_analysed=m_a,
        clusters_recruited_per_arm=_recruit(c, cluster_attrition), design_effect=de, inputs=inputs,
        solved_for=solve_for)
