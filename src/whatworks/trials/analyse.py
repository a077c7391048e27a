"""Intention-to-treat analysis of a trial, with a model that mirrors its design.

``analyse(data, outcome=, treatment=, cluster=, block=, covariates=, exposure=, family=)`` fits

``g(E[y_ij | b_j]) = b0 + beta * treated_j + block fixed effects + covariates + offset + b_j``,
``b_j ~ N(0, sigma_cluster^2)`` (one random intercept per randomised cluster), with

- ``gaussian``: a linear mixed model by REML (statsmodels ``MixedLM``), as ``lme4::lmer``;
- ``binomial``: logistic GLMM, ``poisson`` and ``negbin`` (NB2) log-link GLMMs with
  ``log(exposure)`` as offset, by maximum likelihood with the Laplace approximation
  (:mod:`whatworks._laplace`), as ``lme4::glmer`` / ``glmer.nb``.

The treatment effect is reported with a Wald (normal) confidence interval and p-value, as lme4's
``summary`` and ``confint(method = "Wald")``. For gaussian outcomes Hedges' g divides the
covariate-adjusted effect by the total standard deviation from the unconditional multilevel model
(intercept and cluster random intercept only: ``sqrt(sigma_cluster^2 + sigma_residual^2)``), as the
EEF's statistical analysis guidance (2022) asks, times Hedges' small-sample factor
``J = 1 - 3 / (4 N - 9)``; its interval is the effect's interval on the same scale (the guidance's
approach: the SD is treated as known). The ICC is that unconditional model's
``sigma_cluster^2 / (sigma_cluster^2 + sigma_residual^2)``. For binary outcomes the ICC is on the
latent logistic scale, ``sigma^2 / (sigma^2 + pi^2 / 3)``, from the unconditional GLMM; for counts
it is Nakagawa et al.'s (2017) log-normal approximation ``sigma^2 / (sigma^2 + ln(1 + 1/lambda
[+ 1/theta]))`` with ``lambda`` the mean count, from the conditional model's sigma (a formula,
not checked against R). Odds ratios (binomial) and rate ratios (counts) are ``exp`` of the effect
and its limits.

References
----------
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using lme4.
    J Stat Softw 67(1):1-48.
Hedges LV (2007). Effect sizes in cluster-randomized designs. J Educ Behav Stat 32:341-370.
Education Endowment Foundation (2022). EEF statistical analysis guidance. London: EEF.
Nakagawa S, Johnson PCD, Schielzeth H (2017). The coefficient of determination R2 and
    intra-class correlation coefficient from generalized linear mixed-effects models revisited
    and expanded. J R Soc Interface 14:20170213.
Hayes RJ, Moulton LH (2017). Cluster Randomised Trials, 2nd ed. CRC Press.
Reference implementation tested against: lme4 1.1 ``lmer``, ``glmer``, ``glmer.nb``
(tests/reference/make_trials.R).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, fmt, fmt_p, jsonable
from ..errors import InputError, ParameterError, WhatWorksWarning

FAMILIES = ("gaussian", "binomial", "poisson", "negbin")


@dataclass(frozen=True, repr=False)
class TrialAnalysis(Result):
    """The intention-to-treat estimate and everything reported with it."""

    family: str
    n: int
    n_clusters: int
    n_excluded: int
    level: float
    estimate: float          # treatment coefficient (mean difference, log odds or log rate ratio)
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float
    icc: float | None
    sd_cluster: float
    sigma_residual: float | None
    theta: float | None
    loglik: float
    effect_size: dict | None
    ratio: dict | None
    method: str
    coefficients: pd.DataFrame = field(compare=False)

    _skip_in_dict = ("coefficients",)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["coefficients"] = jsonable(self.coefficients.to_dict(orient="records"))
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients.copy()

    def summary_text(self) -> str:
        lines = [f"{self.method}: {self.n} units in {self.n_clusters} clusters"
                 + (f" ({self.n_excluded} excluded: missing values)" if self.n_excluded else ""),
                 f"  treatment effect {fmt(self.estimate)} (SE {fmt(self.se)}), {self.level:g}% CI "
                 f"[{fmt(self.ci_lower)}, {fmt(self.ci_upper)}], p {fmt_p(self.p_value)}"]
        if self.effect_size:
            e = self.effect_size
            lines.append(f"  Hedges' g {fmt(e['g'], 3)} [{fmt(e['ci_lower'], 3)}, "
                         f"{fmt(e['ci_upper'], 3)}] (total SD from the unconditional model)")
        if self.ratio:
            r = self.ratio
            lines.append(f"  {r['measure']} {fmt(r['estimate'], 3)} [{fmt(r['ci_lower'], 3)}, "
                         f"{fmt(r['ci_upper'], 3)}]")
        lines.append(f"  ICC {fmt(self.icc, 3)}, SD(cluster) {fmt(self.sd_cluster, 4)}"
                     + (f", theta {fmt(self.theta, 3)}" if self.theta is not None else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary_text()


def _treatment_indicator(s: pd.Series, treated, file, column) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(s) and set(s.unique()) <= {0, 1}:
        if treated is None or str(treated) in ("1", "1.0"):
            return s.to_numpy(float)
        if str(treated) in ("0", "0.0"):
            return 1 - s.to_numpy(float)
    values = sorted(s.astype(str).unique())
    if len(values) != 2:
        raise InputError(f"has {len(values)} distinct values ({', '.join(values[:5])}); the "
                         "treatment column needs exactly two arms (0/1 or two labels)",
                         file=file, column=column)
    if treated is None:
        treated = values[1]
    if str(treated) not in values:
        raise ParameterError("treated", treated, f"one of the arms in '{column}': "
                                                 f"{', '.join(values)}")
    return (s.astype(str) == str(treated)).to_numpy(float)


def design_matrix(data: pd.DataFrame, *, treatment: np.ndarray, block: str | None,
                  covariates: list[str], file=None) -> tuple[np.ndarray, list[str]]:
    """Intercept, treatment, block dummies (first level as reference, levels sorted as R's
    factor), covariates (a text covariate becomes dummies)."""
    cols, names = [np.ones(len(data)), treatment], ["intercept", "treatment"]
    dummies = [(block, data[block].astype(str))] if block else []
    for c in covariates:
        s = data[c]
        if pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(float))
            names.append(c)
        else:
            dummies.append((c, s.astype(str)))
    for name, s in dummies:
        levels = sorted(s.unique())
        for lev in levels[1:]:
            cols.append((s == lev).to_numpy(float))
            names.append(f"{name}{lev}")
    X = np.column_stack(cols)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError("the fixed effects are collinear (a covariate constant or duplicating the "
                         "block or treatment); drop it", file=file)
    return X, names


def analyse(data: pd.DataFrame, *, outcome: str, treatment: str, cluster: str,
            block: str | None = None, covariates=None, exposure: str | None = None,
            family: str = "gaussian", treated=None, level: float = 95.0,
            file: str | None = None, unconditional: bool = True) -> TrialAnalysis:
    """Fit the intention-to-treat model (see the module notes) and report the treatment effect.

    ``unconditional=False`` skips the unconditional model (no ICC or Hedges' g for gaussian
    outcomes: faster, for repeated fits such as multiple imputation)."""
    if family not in FAMILIES:
        raise ParameterError("family", family, f"one of {', '.join(FAMILIES)}")
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100")
    covariates = list(covariates or [])
    if exposure and family not in ("poisson", "negbin"):
        raise ParameterError("exposure", exposure, "only with family poisson or negbin (an offset "
                                                   "for counts)")
    needed = [outcome, treatment, cluster, *([block] if block else []), *covariates,
              *([exposure] if exposure else [])]
    for c in needed:
        if c not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             file=file, column=c)
    complete = data[needed].notna().all(axis=1)
    n_excluded = int((~complete).sum())
    if n_excluded:
        warnings.warn(f"{n_excluded} of {len(data)} rows have a missing value in "
                      f"{', '.join(c for c in needed if data[c].isna().any())} and are left out "
                      "(complete-case analysis; see multiple imputation for a sensitivity "
                      "analysis)", WhatWorksWarning, stacklevel=2)
    d = data.loc[complete].reset_index(drop=True)
    y = _numeric(d, outcome, file)
    _check_outcome(y, family, file, outcome)
    t = _treatment_indicator(d[treatment], treated, file, treatment)
    X, names = design_matrix(d, treatment=t, block=block, covariates=covariates, file=file)
    clusters, g = np.unique(d[cluster].astype(str).to_numpy(), return_inverse=True)
    if len(clusters) < 2:
        raise InputError("has fewer than two clusters", file=file, column=cluster)
    if len(clusters) == len(y):
        if family in ("gaussian", "binomial"):
            raise InputError(f"every cluster has one row, so a cluster random intercept cannot be "
                             f"told apart from the {'residual' if family == 'gaussian' else 'binomial'} "
                             "variation; give the column of a higher level (e.g. the local authority) as "
                             "--cluster, or analyse the cluster-level outcome without one",
                             file=file, column=cluster)
        if family == "negbin":
            warnings.warn("every cluster has one row: its random intercept and the negative "
                          "binomial's overdispersion describe the same variation and are weakly "
                          "identified; family poisson (the random intercept is then the "
                          "overdispersion: a Poisson-lognormal model) is the usual choice",
                          WhatWorksWarning, stacklevel=2)
    offset = np.zeros(len(y))
    if exposure:
        e = _numeric(d, exposure, file)
        if np.any(e <= 0):
            i = int(np.flatnonzero(e <= 0)[0])
            raise InputError(f"exposure {e[i]:g} is not positive", file=file, row=i + 1,
                             column=exposure)
        offset = np.log(e)
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    if family == "gaussian":
        fit = _gaussian(y, X, g, null=unconditional)
    else:
        fit = _glmm(y, X, offset, g, family)
    beta, se = fit["beta"], fit["se"]
    est, s1 = float(beta[1]), float(se[1])
    stat = beta / se
    coef = pd.DataFrame({"term": names, "estimate": beta, "se": se, "statistic": stat,
                         "p_value": 2 * stats.norm.sf(np.abs(stat)), "ci_lower": beta - z * se,
                         "ci_upper": beta + z * se})
    lo, hi = est - z * s1, est + z * s1
    effect_size = ratio = None
    icc = None
    if family == "gaussian" and unconditional:
        n = len(y)
        j = 1 - 3 / (4 * n - 9)
        sd_total = math.sqrt(fit["null_var_cluster"] + fit["null_var_residual"])
        effect_size = {"g": j * est / sd_total, "ci_lower": j * lo / sd_total,
                       "ci_upper": j * hi / sd_total, "sd_total": sd_total,
                       "correction": j}
        icc = fit["null_var_cluster"] / (fit["null_var_cluster"] + fit["null_var_residual"])
    elif family != "gaussian":
        measure = "odds ratio" if family == "binomial" else "rate ratio"
        ratio = {"measure": measure, "estimate": math.exp(est), "ci_lower": math.exp(lo),
                 "ci_upper": math.exp(hi)}
        s2 = fit["sd_cluster"] ** 2
        if family == "binomial":
            null = _glmm(y, X[:, :1], offset, g, "binomial", se=False)
            s2 = null["sd_cluster"] ** 2
            icc = s2 / (s2 + math.pi ** 2 / 3)
        else:
            lam = float(np.mean(y))
            extra = 1 / lam + (1 / fit["theta"] if family == "negbin" else 0.0)
            icc = s2 / (s2 + math.log1p(extra)) if lam > 0 else None
    label = {"gaussian": "linear mixed model (REML)",
             "binomial": "logistic GLMM (Laplace)", "poisson": "Poisson GLMM (Laplace)",
             "negbin": "negative binomial GLMM (Laplace)"}[family]
    return TrialAnalysis(
        family=family, n=len(y), n_clusters=len(clusters), n_excluded=n_excluded, level=level,
        estimate=est, se=s1, ci_lower=lo, ci_upper=hi,
        p_value=float(2 * stats.norm.sf(abs(est / s1))), icc=icc, sd_cluster=fit["sd_cluster"],
        sigma_residual=fit.get("sigma"), theta=fit.get("theta"), loglik=fit["loglik"],
        effect_size=effect_size, ratio=ratio, method=f"intention-to-treat {label}",
        coefficients=coef)


def _numeric(d: pd.DataFrame, col: str, file) -> np.ndarray:
    s = d[col]
    if not pd.api.types.is_numeric_dtype(s):
        bad = pd.to_numeric(s, errors="coerce").isna()
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{s.iloc[i]!r} is not a number", file=file, row=i + 1, column=col)
    return s.to_numpy(float)


def _check_outcome(y, family, file, column) -> None:
    if family == "binomial" and not np.all(np.isin(y, (0, 1))):
        raise InputError("a binary outcome must be 0 or 1 (family binomial)", file=file,
                         column=column)
    if family in ("poisson", "negbin") and (np.any(y < 0) or np.any(y != np.round(y))):
        raise InputError(f"a count outcome must be whole numbers >= 0 (family {family})",
                         file=file, column=column)


def _gaussian(y, X, g, *, null: bool = True) -> dict:
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter; checked below
        m = sm.MixedLM(y, X, groups=g).fit(reml=True, method=["bfgs", "powell"], gtol=1e-9)
        m0 = (sm.MixedLM(y, np.ones((len(y), 1)), groups=g).fit(
            reml=True, method=["bfgs", "powell"], gtol=1e-9) if null else None)
    p = X.shape[1]
    if not m.converged or (m0 is not None and not m0.converged):
        from ..errors import ConvergenceError

        raise ConvergenceError("the linear mixed model did not converge; check the outcome and "
                               "the covariates for extreme values")
    # lme4's vcov: (X' V^-1 X)^-1 at the REML estimates, V_j = s2 I + t2 11' for cluster j
    s2, t2 = float(m.scale), float(np.asarray(m.cov_re)[0, 0])
    J = int(g.max()) + 1
    n_j = np.bincount(g, minlength=J)
    sx = np.stack([np.bincount(g, X[:, k], J) for k in range(p)], 1)     # cluster sums of X
    shrink = t2 / (s2 + n_j * t2)
    xtvx = (X.T @ X - (sx.T * shrink) @ sx) / s2
    return {"beta": np.asarray(m.fe_params), "se": np.sqrt(np.diag(np.linalg.inv(xtvx))),
            "sd_cluster": float(np.sqrt(np.asarray(m.cov_re)[0, 0])), "sigma": float(np.sqrt(m.scale)),
            "loglik": float(m.llf),
            "null_var_cluster": float(np.asarray(m0.cov_re)[0, 0]) if null else None,
            "null_var_residual": float(m0.scale) if null else None}


def _glmm(y, X, offset, g, family, se=True) -> dict:
    from .._laplace import fit_random_intercept

    fit = fit_random_intercept(y, X, offset, g, family)
    return {"beta": fit.beta, "se": np.sqrt(np.diag(fit.cov)), "sd_cluster": fit.sigma,
            "theta": fit.theta, "loglik": fit.loglik}
