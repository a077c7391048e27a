"""Robust variance estimation (RVE) meta-regression with approximately efficient weights.

Hedges, Tipton & Johnson (2010) fit a weighted least-squares meta-regression whose weights come
from a simple working model, and make inference with a cluster-robust (sandwich) covariance, so
the tests stay valid whatever the true dependence between a study's effect sizes.

* **CORR** (correlated effects: several outcomes measured on the same participants). Working
  model: within study ``j`` (with ``k_j`` effects and mean sampling variance ``vbar_j``) the
  effects share a between-study variance ``tau2`` and their errors correlate ``rho``. Weights
  ``w_ij = 1 / (k_j (vbar_j + tau2))``. ``tau2`` is the method-of-moments solution of
  ``E[Q_E] = Q_E`` for ``Q_E`` the residual sum of squares under weights ``1 / (k_j vbar_j)``:

      tau2 = (Q_E - m + A + rho B) / D,
      A = sum_j w_j^2 vbar_j tr(M X_j'X_j),     B = sum_j w_j^2 vbar_j tr(M X_j'(J - I)X_j),
      D = sum_ij w_ij - sum_j w_j^2 tr(M X_j'J X_j),

  with ``M = (X'WX)^-1``, ``J`` a matrix of ones, and ``I^2 = (Q_E - m + A + rho B) / Q_E``.
* **HIER** (hierarchical effects: independent samples nested in studies or research groups).
  Working model ``y_ij = x_ij'beta + u_j + w_ij + e_ij`` with variances ``tau2`` (between
  clusters), ``omega2`` (within) and ``v_ij``. With residuals ``e`` of the fit weighted by
  ``1 / v``, the moment equations equate ``Q_E = e'V^-1 e`` and ``Q_a = sum_j (sum_i e_ij)^2``
  to their exact expectations, which are linear in ``(omega2, tau2)``; ``omega2`` is solved first
  and truncated at 0, then ``tau2`` from ``Q_E`` (truncated at 0). Weights
  ``1 / (v_ij + tau2 + omega2)``.

With ``small=True`` the covariance is CR2 with the inverse weights as working model and
Satterthwaite degrees of freedom (Tipton 2015); with ``small=False`` it is the HTJ estimator
scaled by ``m / (m - p)`` with ``m - p`` degrees of freedom.

References
----------
Hedges LV, Tipton E, Johnson MC (2010). Robust variance estimation in meta-regression with
    dependent effect size estimates. Research Synthesis Methods 1:39-65.
Tipton E (2015). Small sample adjustments for robust variance estimation with meta-regression.
    Psychological Methods 20:375-393.
Fisher Z, Tipton E (2015). robumeta: an R-package for robust variance estimation in
    meta-analysis. arXiv:1503.02220.
Reference implementation tested against: robumeta 2.0 ``robu(..., modelweights = "CORR"|"HIER",
small = TRUE|FALSE)`` (tests/reference/make_dependent.R).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._results import FrozenResult, fmt
from ..errors import InputError, ParameterError
from .multilevel import factorize, prepare
from .robust import RobustCoefficient, coef_test, sandwich

MODELS = ("CORR", "HIER")


@dataclass(frozen=True, repr=False)
class RobumetaResult(FrozenResult):
    """A robust variance estimation meta-regression (robumeta's ``robu``).

    ``estimate`` .. ``ci_upper`` describe the first coefficient; ``coefficients`` lists them all.
    ``omega2`` is NaN for the CORR model and ``i2`` NaN for the HIER model (robumeta reports
    neither).
    """

    model: str
    rho: float
    small: bool
    level: float
    k: int
    n_studies: int
    estimate: float
    se: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    coefficients: tuple[RobustCoefficient, ...]
    tau2: float
    omega2: float
    i2: float
    q_e: float
    vcov: np.ndarray = field(repr=False, compare=False)
    weights: np.ndarray = field(repr=False, compare=False)

    _skip_in_dict = ("vcov", "weights")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.to_dict() for c in self.coefficients]).set_index("name")

    def summary_text(self) -> str:
        kind = {"CORR": "correlated", "HIER": "hierarchical"}[self.model]
        lines = [f"RVE meta-regression, {kind} effects weights (k = {self.k} in {self.n_studies} "
                 f"studies; {'small-sample corrected' if self.small else 'large-sample'})", ""]
        if self.model == "CORR":
            lines.append(f"rho = {self.rho:g}   tau^2 = {fmt(self.tau2)}   I^2 = {self.i2:.2f}%")
        else:
            lines.append(f"tau^2 = {fmt(self.tau2)}   omega^2 = {fmt(self.omega2)}")
        lines += ["", self.to_frame().to_string(float_format=lambda x: fmt(x))]
        return "\n".join(lines)


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray):
    M = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = M @ (X.T @ (w * y))
    return (M + M.T) / 2, beta, y - X @ beta


def _study_sums(codes: np.ndarray, m: int, A: np.ndarray) -> np.ndarray:
    """Column sums of ``A`` (``k x r``) within each study: ``m x r``."""
    out = np.zeros((m, A.shape[1]))
    np.add.at(out, codes, A)
    return out


def corr_tau2(X, y, v, codes, m, *, rho: float) -> tuple[float, float, float]:
    """Method-of-moments ``tau2`` and ``I^2`` (percent) of the correlated-effects model, and Q_E."""
    kj = np.bincount(codes, minlength=m).astype(float)
    vbar = np.bincount(codes, weights=v, minlength=m) / kj
    wj = 1.0 / (kj * vbar)
    w = wj[codes]
    M, _, e = _wls(X, y, w)
    q_e = float((w * e * e).sum())
    lev = np.einsum("ip,pq,iq->i", X, M, X)               # x_i' M x_i
    tr_xx = np.bincount(codes, weights=lev, minlength=m)  # tr(M X_j'X_j)
    s = _study_sums(codes, m, X)
    tr_xjx = np.einsum("jp,pq,jq->j", s, M, s)            # tr(M X_j'J X_j)
    a = float((wj ** 2 * vbar * tr_xx).sum())
    b = float((wj ** 2 * vbar * (tr_xjx - tr_xx)).sum())
    d = float(w.sum() - (wj ** 2 * tr_xjx).sum())
    excess = q_e - m + a + rho * b
    tau2 = max(0.0, excess / d)
    i2 = max(0.0, 100.0 * excess / q_e) if q_e > 0 else 0.0
    return tau2, i2, q_e


def hier_components(X, y, v, codes, m) -> tuple[float, float, float]:
    """Method-of-moments ``(omega2, tau2)`` of the hierarchical-effects model, and Q_E."""
    k, p = X.shape
    kj = np.bincount(codes, minlength=m).astype(float)
    w = 1.0 / v
    M, _, e = _wls(X, y, w)
    q_e = float((w * e * e).sum())
    q_a = float((np.bincount(codes, weights=e, minlength=m) ** 2).sum())
    t = _study_sums(codes, m, w[:, None] * X)             # sum_i w_ij x_ij per study
    s = _study_sums(codes, m, X)                          # sum_i x_ij per study
    XW2X = X.T @ (w[:, None] ** 2 * X)
    TT = t.T @ t                                          # X'W ZZ'W X
    SS = s.T @ s                                          # X'ZZ'X
    TS = t.T @ s                                          # X'W ZZ' X
    KTS = t.T @ (kj[:, None] * s)                         # X'W ZZ'ZZ' X
    tr = np.trace
    # E[Q_E] = (k - p) + omega2 * e_omega + tau2 * e_tau
    e_omega = w.sum() - tr(M @ XW2X)
    e_tau = w.sum() - tr(M @ TT)
    # E[Q_a] = a_0 + omega2 * a_omega + tau2 * a_tau  (residuals e = (I - X M X'W) y)
    a_0 = v.sum() - tr(M @ SS)
    a_omega = k - 2 * tr(M @ TS) + tr(M @ SS @ M @ XW2X)
    a_tau = (kj ** 2).sum() - 2 * tr(M @ KTS) + tr(M @ SS @ M @ TT)
    r_e, r_a = q_e - (k - p), q_a - a_0
    omega2 = max(0.0, (r_a * e_tau - r_e * a_tau) / (a_omega * e_tau - e_omega * a_tau))
    tau2 = max(0.0, (r_e - omega2 * e_omega) / e_tau)
    return float(omega2), float(tau2), q_e


def robumeta(yi, vi, *, study, mods=None, data: pd.DataFrame | None = None,
             model: str = "CORR", rho: float = 0.8, small: bool = True, level: float = 95,
             intercept: bool = True) -> RobumetaResult:
    """Robust variance estimation meta-regression, as R's ``robumeta::robu``.

    Parameters
    ----------
    yi, vi : effect sizes and sampling variances (arrays, or column names in ``data``).
    study : the cluster of each effect size (study, or research group for "HIER").
    mods : moderators (DataFrame, column names in ``data`` or an array).
    model : "CORR" (correlated effects, default) or "HIER" (hierarchical effects).
    rho : assumed within-study correlation for the CORR weights (between 0 and 1).
    small : Tipton's (2015) small-sample corrections (CR2 and Satterthwaite df).

    References
    ----------
    Hedges LV, Tipton E, Johnson MC (2010). Research Synthesis Methods 1:39-65. Tipton E (2015).
    Psychological Methods 20:375-393. Tested against robumeta 2.0 ``robu``.
    """
    if model not in MODELS:
        raise ParameterError("model", model, ", ".join(MODELS))
    if not 0 <= rho <= 1:
        raise ParameterError("rho", rho, "a correlation between 0 and 1, such as 0.8")
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100, such as 95")
    y, v, X, names, study, _ = prepare(yi, vi, study, None, mods, data, intercept)
    k, p = X.shape
    codes, m = factorize(study, "study", k)
    if m <= p:
        raise InputError(f"{m} studies cannot support {p} coefficients in a robust variance "
                         "analysis; use fewer moderators", column="study")
    if model == "CORR":
        tau2, i2, q_e = corr_tau2(X, y, v, codes, m, rho=rho)
        omega2 = float("nan")
        kj = np.bincount(codes, minlength=m).astype(float)
        vbar = np.bincount(codes, weights=v, minlength=m) / kj
        w = 1.0 / (kj * (vbar + tau2))[codes]
    else:
        omega2, tau2, q_e = hier_components(X, y, v, codes, m)
        i2 = float("nan")
        w = 1.0 / (v + tau2 + omega2)
    sw = sandwich(X, y, 1.0 / w, codes, adjust="CR2" if small else "CR1")
    res = coef_test(sw, names, level=level)
    c0 = res.coefficients[0]
    return RobumetaResult(
        model=model, rho=float(rho), small=bool(small), level=level, k=k, n_studies=m,
        estimate=c0.estimate, se=c0.se, statistic=c0.statistic, df=c0.df, p_value=c0.p_value,
        ci_lower=c0.ci_lower, ci_upper=c0.ci_upper, coefficients=res.coefficients, tau2=tau2,
        omega2=omega2, i2=i2, q_e=q_e, vcov=res.vcov, weights=w)

