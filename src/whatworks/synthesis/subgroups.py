"""Subgroup analysis: a model per subgroup and tests of subgroup differences.

Two tests are reported, as Borenstein et al. (2009, ch. 19) describe them:

- **separate tau²** (RevMan's test for subgroup differences): each subgroup gets its own
  random-effects model; the subgroup estimates ``theta_g`` with standard errors ``se_g`` are then
  compared with a common-effect Q test, ``Q_between = sum_g w_g (theta_g - theta_w)²``,
  ``w_g = 1/se_g²``, ``theta_w = sum w_g theta_g / sum w_g``, chi-square on ``G - 1`` df;
- **pooled tau²**: a mixed-effects meta-regression with the subgroup as a categorical moderator
  (one tau² for all subgroups); its omnibus test of the moderator (``QM``, or ``F`` under
  Knapp-Hartung) tests the differences.

References
----------
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis. Wiley,
    chapter 19 (Subgroup analyses).
Deeks JJ, Higgins JPT, Altman DG (2022). Analysing data and undertaking meta-analyses. Cochrane
    Handbook for Systematic Reviews of Interventions, chapter 10.11.
Reference implementation tested against: metafor 3.8, ``rma`` per subgroup, then
``rma(estimates, sei = se, mods = ~ group, method = "FE")`` for Q-between and
``rma(yi, vi, mods = ~ group)`` for the pooled-tau² test (tests/reference/make_bias_sensitivity.R).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._results import FrozenResult, fmt, fmt_p
from ..errors import InputError, WhatWorksWarning
from .model import MetaAnalysis, _as_array, check_method, check_test, meta_analysis
from .tau2 import Control


@dataclass(frozen=True, repr=False)
class Subgroup(FrozenResult):
    """The model fitted within one subgroup."""

    name: str
    k: int
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    tau2: float
    i2: float
    q: float
    q_p_value: float
    fit: MetaAnalysis = field(repr=False, compare=False)

    _skip_in_dict = ("fit",)


@dataclass(frozen=True, repr=False)
class SubgroupAnalysis(FrozenResult):
    """Per-subgroup models and the tests of subgroup differences."""

    method: str
    test: str
    level: float
    subgroups: tuple[Subgroup, ...]
    q_between: float
    q_between_df: int
    q_between_p_value: float
    q_within: float
    q_within_df: int
    pooled_tau2: float
    pooled_statistic: float
    pooled_df: tuple[int, ...]
    pooled_p_value: float
    pooled_fit: MetaAnalysis = field(repr=False, compare=False)

    _skip_in_dict = ("pooled_fit",)

    def to_frame(self) -> pd.DataFrame:
        """One row per subgroup."""
        return pd.DataFrame([s.to_dict() for s in self.subgroups]).set_index("name")

    def summary_text(self) -> str:
        lines = [f"Subgroup analysis ({self.method}, test {self.test})", "",
                 self.to_frame().to_string(float_format=lambda x: fmt(x)), "",
                 f"Test for subgroup differences (separate tau^2): Q = {fmt(self.q_between)}, "
                 f"df = {self.q_between_df}, p = {fmt_p(self.q_between_p_value)}"]
        name = "QM" if self.test == "z" else "F"
        lines.append(f"Test for subgroup differences (pooled tau^2 = {fmt(self.pooled_tau2)}): "
                     f"{name}({', '.join(str(d) for d in self.pooled_df)}) = "
                     f"{fmt(self.pooled_statistic)}, "
                     f"p = {fmt_p(self.pooled_p_value)}")
        return "\n".join(lines)


def _levels(group: pd.Series) -> list[str]:
    values = group.dropna().unique()
    try:
        return [str(x) for x in sorted(values, key=float)]
    except (TypeError, ValueError):
        return sorted(str(x) for x in values)


def subgroup_analysis(yi, vi=None, group=None, *, data: pd.DataFrame | None = None,
                      method: str = "REML", test: str = "z", level: float = 95,
                      control: Control | None = None) -> SubgroupAnalysis:
    """Fit a model within each subgroup and test whether the subgroups differ.

    ``yi``, ``vi`` and ``group`` are arrays or column names in ``data``; ``yi`` may instead be a
    fitted :class:`MetaAnalysis` (its data, method, test, level and control are used) with
    ``group`` given. Studies with a missing group are left out (with a warning).
    See the module docstring for the two tests of subgroup differences.
    """
    if isinstance(yi, MetaAnalysis):
        fit = yi
        if group is None and vi is not None:
            group = vi
        y, v = fit.yi, fit.vi
        method, test, level, control = fit.method, fit.test, fit.level, fit.control
    else:
        method = check_method(method)
        test = check_test(test)
        y = _as_array(yi, data, "yi")
        if vi is None:
            raise InputError("give the sampling variances (vi)", column="vi")
        v = _as_array(vi, data, "vi")
    if group is None:
        raise InputError("give the subgroup of each study (group)", column="group")
    if isinstance(group, str):
        if data is None or group not in data.columns:
            raise InputError("no such column in the data", column=group)
        group = data[group]
    g = pd.Series(np.asarray(group, dtype=object)).where(pd.notna(np.asarray(group, object)))
    if len(g) != y.size:
        raise InputError(f"{len(g)} group values for {y.size} studies", column="group")
    keep = g.notna().to_numpy() & np.isfinite(y) & np.isfinite(v)
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} studies with a missing group or effect were left out",
                      WhatWorksWarning, stacklevel=2)
    y, v, g = y[keep], v[keep], g[keep].map(str).reset_index(drop=True)
    levels = _levels(g)
    if len(levels) < 2:
        raise InputError(f"there is only one subgroup ({', '.join(levels)}); need at least two",
                         column="group")
    subgroups = []
    for name in levels:
        idx = (g == name).to_numpy()
        if test != "z" and idx.sum() < 2:
            raise InputError(f"subgroup '{name}' has a single study: test='{test}' needs at "
                             "least two per subgroup; use test='z'", column="group")
        f = meta_analysis(y[idx], v[idx], method=method, test=test, level=level, control=control)
        subgroups.append(Subgroup(name=name, k=f.k, estimate=f.estimate, se=f.se,
                                  statistic=f.statistic, p_value=f.p_value, ci_lower=f.ci_lower,
                                  ci_upper=f.ci_upper, tau2=f.tau2, i2=f.i2, q=f.q,
                                  q_p_value=f.q_p_value, fit=f))
    est = np.array([s.estimate for s in subgroups])
    w = 1 / np.array([s.se for s in subgroups]) ** 2
    q_between = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    df_between = len(levels) - 1
    pooled = meta_analysis(y, v, mods=pd.DataFrame({"group": g}), method=method, test=test,
                           level=level, control=control)
    pooled_df = pooled.qm_df
    return SubgroupAnalysis(
        method=method, test=test, level=level, subgroups=tuple(subgroups), q_between=q_between,
        q_between_df=df_between, q_between_p_value=float(stats.chi2.sf(q_between, df_between)),
        q_within=float(sum(s.q for s in subgroups)),
        q_within_df=int(sum(s.k - 1 for s in subgroups)), pooled_tau2=pooled.tau2,
        pooled_statistic=float(pooled.qm), pooled_df=pooled_df,
        pooled_p_value=float(pooled.qm_p_value), pooled_fit=pooled)
