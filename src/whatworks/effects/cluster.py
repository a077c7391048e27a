"""Adjusting effect sizes from cluster-randomised trials analysed as if individually randomised.

When a trial randomised clusters (schools, social work teams, local authorities) but the
published analysis ignored the clustering, the reported variance is too small. Two remedies:

- any measure: multiply the variance by the design effect 1 + (m - 1)·ICC
  (:func:`inflate_variance`; Donner & Klar 2000; Cochrane Handbook 23.1);
- standardised mean differences: Hedges' (2007) adjustment of the estimate (standardising by
  the total SD) and its variance (:func:`hedges2007_smd`), as the What Works Clearinghouse
  procedures handbook prescribes.

:func:`adjust_for_clustering` applies the right one to an :func:`~whatworks.effects.escalc`
result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from whatworks.effects._inputs import as_float
from whatworks.effects._warnings import warn
from whatworks.effects.convert import Effects
from whatworks.errors import InputError


def _check(cluster_size, icc):
    m, rho = np.asarray(cluster_size, dtype=float), np.asarray(icc, dtype=float)
    with np.errstate(invalid="ignore"):
        for bad, name, value, message in (
                (m < 1, "cluster_size", m, "the average cluster size must be at least 1"),
                ((rho < 0) | (rho > 1), "icc", rho,
                 "an intraclass correlation must lie between 0 and 1")):
            if np.any(bad):
                i = int(np.flatnonzero(np.atleast_1d(bad))[0])
                raise InputError(f"{message} (got {np.atleast_1d(value)[i]:g})", row=i + 1,
                                 column=name)
    return m, rho


def design_effect(cluster_size, icc):
    """The design effect 1 + (m - 1)·ρ for average cluster size m and intraclass correlation ρ.

    References
    ----------
    Donner, A., & Klar, N. (2000). *Design and analysis of cluster randomization trials in
    health research*. London: Arnold.
    Higgins, J. P. T., et al. (Eds.) (2019). *Cochrane handbook for systematic reviews of
    interventions* (2nd ed.), section 23.1.4. Chichester: Wiley.
    """
    m, rho = _check(cluster_size, icc)
    deff = 1 + (m - 1) * rho
    return float(deff) if deff.ndim == 0 else deff


def inflate_variance(vi, *, cluster_size, icc):
    """Sampling variances multiplied by the :func:`design_effect` (any effect measure).

    Equivalent to dividing every sample size by the design effect, the Cochrane Handbook's
    "effective sample size" approach (section 23.1.4).

    References
    ----------
    As for :func:`design_effect`.
    """
    v = np.asarray(vi, dtype=float)
    if np.any(v < 0):
        raise InputError("a sampling variance cannot be negative", column="vi")
    return v * design_effect(cluster_size, icc)


def hedges2007_smd(yi, *, n1i, n2i, cluster_size, icc) -> Effects:
    """Hedges' (2007) standardised mean difference for a cluster-randomised trial whose
    analysis ignored clustering.

    With N = n1 + n2 individuals, average cluster size n and intraclass correlation ρ, the SMD
    standardised by the total SD is d_T = d·√(1 - 2(n-1)ρ/(N-2)), and its variance is

        v = (N/(n1 n2))·(1 + (n-1)ρ)
            + d_T²·[(N-2)(1-ρ)² + n(N-2n)ρ² + 2(N-2n)ρ(1-ρ)] / [2(N-2)((N-2) - 2(n-1)ρ)].

    At ρ = 0 it reduces to d with variance 1/n1 + 1/n2 + d²/(2(N-2)). The factor is applied to
    the value given (Hedges' g from ``escalc`` keeps its small-sample correction, as in the WWC
    procedures). Equal cluster sizes are assumed; with unequal sizes use the average, which
    Hedges (2007, p. 351) shows is a close approximation.

    References
    ----------
    Hedges, L. V. (2007). Effect sizes in cluster-randomized designs. *Journal of Educational
    and Behavioral Statistics*, 32(4), 341-370.
    What Works Clearinghouse (2022). *Procedures and standards handbook, version 5.0*,
    appendix on effect sizes for cluster-level assignment.
    Tested against an independent R implementation of these equations
    (``tests/reference/make_effects.R``) and their limits at ρ = 0.
    """
    d = np.asarray(yi, dtype=float)
    n1, n2 = np.asarray(n1i, dtype=float), np.asarray(n2i, dtype=float)
    n, rho = _check(cluster_size, icc)
    total = n1 + n2
    with np.errstate(invalid="ignore"):
        if np.any((n1 < 1) | (n2 < 1)):
            raise InputError("group sizes n1i and n2i must be at least 1")
        if np.any(n > np.minimum(n1, n2)):
            raise InputError("the average cluster size is larger than a group; check "
                             "cluster_size is the number of people per cluster")
        room = (total - 2) - 2 * (n - 1) * rho
        if np.any(room <= 0):
            raise InputError("N - 2 - 2(n - 1)·ICC must be positive; the trial is too small "
                             "for this cluster size and ICC")
    d_t = d * np.sqrt(room / (total - 2))
    numerator = ((total - 2) * (1 - rho) ** 2 + n * (total - 2 * n) * rho**2
                 + 2 * (total - 2 * n) * rho * (1 - rho))
    vi = total / (n1 * n2) * (1 + (n - 1) * rho) + d_t**2 * numerator / (2 * (total - 2) * room)
    return Effects.of(d_t, vi, "SMD")


def adjust_for_clustering(effects: pd.DataFrame, *, cluster_size, icc, n1i=None,
                          n2i=None) -> pd.DataFrame:
    """Adjust an :func:`~whatworks.effects.escalc` result for clustering ignored in analysis.

    ``cluster_size`` and ``icc`` (and ``n1i``, ``n2i``) are column names of ``effects``,
    array-likes or scalars. For an SMD result with group sizes, uses :func:`hedges2007_smd`;
    otherwise multiplies ``vi`` by the design effect. Rows with a missing cluster size or ICC are
    left unadjusted, with one warning counting them. Returns a copy; ``attrs["cluster"]``
    names the method used.
    """
    n = len(effects)

    def column(value, name):
        raw = effects[value] if isinstance(value, str) else value
        return as_float(raw, name=name, label=value if isinstance(value, str) else name, n=n)

    m, rho = column(cluster_size, "cluster_size"), column(icc, "icc")
    known = ~(np.isnan(m) | np.isnan(rho))
    out = effects.copy()
    yi, vi = out["yi"].to_numpy(dtype=float).copy(), out["vi"].to_numpy(dtype=float).copy()
    smd = effects.attrs.get("measure") in ("SMD", "SMDH") and n1i is not None
    if smd:
        n1, n2 = column(n1i, "n1i"), column(n2i, "n2i")
        known &= ~(np.isnan(n1) | np.isnan(n2))
        adjusted = hedges2007_smd(yi[known], n1i=n1[known], n2i=n2[known],
                                  cluster_size=m[known], icc=rho[known])
        yi[known], vi[known] = adjusted.yi, adjusted.vi
    else:
        vi[known] = inflate_variance(vi[known], cluster_size=m[known], icc=rho[known])
    if (~known).any():
        warn(f"{(~known).sum()} of {n} rows have no cluster size or ICC (or group size) and "
             "were left unadjusted")
    out["yi"], out["vi"] = yi, vi
    out.attrs["cluster"] = "Hedges (2007)" if smd else "design effect"
    return out
