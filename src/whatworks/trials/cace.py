"""Complier average causal effect (CACE) by instrumental variables: two-stage least squares.

In a trial where some allocated units do not take up the intervention (and, possibly, some
controls obtain it), random allocation ``Z`` is an instrument for receipt ``D``. Under the
exclusion restriction and monotonicity (no defiers) the 2SLS coefficient of ``D`` is the average
effect among compliers (Angrist, Imbens & Rubin 1996); with one binary instrument and no covariates
it is the Wald ratio ``ITT_y / ITT_d``.

``beta = (Xh' X)^-1 Xh' y`` with ``Xh = Z (Z'Z)^-1 Z' X`` (X: intercept, D, covariates; Z: intercept,
allocation, covariates). Standard errors: classical, ``s^2 (Xh'Xh)^-1`` with ``s^2 = e'e / (n - k)``
from the structural residuals ``e = y - X beta`` (as ``AER::ivreg``); and, when ``cluster`` is given,
cluster-robust ``(Xh'Xh)^-1 (sum_g Xh_g' e_g e_g' Xh_g) (Xh'Xh)^-1`` times ``G/(G-1) (n-1)/(n-k)``
(``sandwich::vcovCL(type = "HC1")``), which a cluster-randomised trial needs. Intervals and p-values
are normal (Wald), as ``lmtest::coeftest`` with ``df = Inf``.

References
----------
Angrist JD, Imbens GW, Rubin DB (1996). Identification of causal effects using instrumental
    variables. J Am Stat Assoc 91:444-455.
Dunn G, Maracy M, Tomenson B (2005). Estimating treatment effects from randomized clinical trials
    with noncompliance and loss to follow-up. Stat Methods Med Res 14:369-395.
Kleiber C, Zeileis A (2008). Applied Econometrics with R. Springer (``AER::ivreg``).
Reference implementation tested against: AER ``ivreg`` and sandwich ``vcovCL``
(tests/reference/make_trials_cace.R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, fmt, fmt_p
from ..errors import InputError, ParameterError
from .analyse import _numeric, _treatment_indicator, design_matrix


@dataclass(frozen=True, repr=False)
class CACE(Result):
    """The complier average causal effect and the pieces behind it."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float
    se_classical: float
    robust: bool
    n: int
    n_clusters: int | None
    compliance: float         # ITT effect on receipt: the proportion of compliers
    itt: float                # ITT effect on the outcome (same covariates, OLS)
    first_stage_f: float      # F statistic of the instrument in the first stage
    level: float

    def summary_text(self) -> str:
        where = "" if self.n_clusters is None else f", {self.n_clusters} clusters"
        return (f"CACE by 2SLS (n = {self.n}{where}): "
                f"{fmt(self.estimate)} (SE {fmt(self.se)}{', cluster-robust' if self.robust else ''}),"
                f" {self.level:g}% CI [{fmt(self.ci_lower)}, {fmt(self.ci_upper)}], p "
                f"{fmt_p(self.p_value)}; compliance {fmt(self.compliance, 3)}, first-stage F "
                f"{fmt(self.first_stage_f, 1)}")

    def __repr__(self) -> str:
        return self.summary_text()


def tsls(y, X, Z, cluster=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """2SLS coefficients, classical covariance and (with ``cluster``) the CR1 covariance."""
    y, X, Z = (np.asarray(a, float) for a in (y, X, Z))
    n, k = X.shape
    Xh = Z @ np.linalg.lstsq(Z, X, rcond=None)[0]
    bread = np.linalg.inv(Xh.T @ Xh)
    beta = bread @ Xh.T @ y
    e = y - X @ beta
    cov = (e @ e / (n - k)) * bread
    cov_cl = None
    if cluster is not None:
        groups, g = np.unique(np.asarray(cluster).astype(str), return_inverse=True)
        G = len(groups)
        scores = np.stack([np.bincount(g, Xh[:, j] * e, G) for j in range(k)], 1)
        meat = scores.T @ scores
        cov_cl = bread @ meat @ bread * (G / (G - 1)) * ((n - 1) / (n - k))
    return beta, cov, cov_cl


def cace(data: pd.DataFrame, *, outcome: str, assigned: str, received: str,
         cluster: str | None = None, block: str | None = None, covariates=None,
         treated=None, level: float = 95.0, file: str | None = None) -> CACE:
    """CACE of ``received`` on ``outcome`` with ``assigned`` as the instrument (see the module)."""
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100")
    covariates = list(covariates or [])
    needed = [outcome, assigned, received, *([cluster] if cluster else []),
              *([block] if block else []), *covariates]
    for c in needed:
        if c not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             file=file, column=c)
    d = data[needed].dropna().reset_index(drop=True)
    if len(d) < len(data):
        raise InputError(f"{len(data) - len(d)} rows have missing values; impute them first "
                         "(multiple_imputation) or drop them knowingly", file=file)
    y = _numeric(d, outcome, file)
    z = _treatment_indicator(d[assigned], treated, file, assigned)
    dose = _numeric(d, received, file)
    Zm, _ = design_matrix(d, treatment=z, block=block, covariates=covariates, file=file)
    Xm = Zm.copy()
    Xm[:, 1] = dose
    beta, cov, cov_cl = tsls(y, Xm, Zm, d[cluster] if cluster else None)
    use = cov_cl if cov_cl is not None else cov
    se = float(np.sqrt(use[1, 1]))
    q = stats.norm.ppf(1 - (1 - level / 100) / 2)
    est = float(beta[1])
    first = np.linalg.lstsq(Zm, dose, rcond=None)[0]
    resid = dose - Zm @ first
    reduced = np.delete(Zm, 1, axis=1)
    r0 = dose - reduced @ np.linalg.lstsq(reduced, dose, rcond=None)[0]
    f_stat = float((r0 @ r0 - resid @ resid) / (resid @ resid / (len(d) - Zm.shape[1])))
    itt = float(np.linalg.lstsq(Zm, y, rcond=None)[0][1])
    return CACE(estimate=est, se=se, ci_lower=est - q * se, ci_upper=est + q * se,
                p_value=float(2 * stats.norm.sf(abs(est / se))),
                se_classical=float(np.sqrt(cov[1, 1])), robust=cov_cl is not None, n=len(d),
                n_clusters=int(d[cluster].nunique()) if cluster else None,
                compliance=float(first[1]), itt=itt, first_stage_f=f_stat, level=level)
