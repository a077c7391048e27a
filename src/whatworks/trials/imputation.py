"""Missing outcomes: multiple imputation with Rubin's rules, and a delta-adjusted sensitivity analysis.

``multiple_imputation(data, outcome=..., treatment=..., cluster=..., m=20, seed=...)`` imputes
missing values of a continuous outcome ``m`` times from a normal linear imputation model that holds
the analysis model's terms and a fixed effect per cluster (so imputations keep the clustering:
the "fixed-effects" imputation model of Andridge 2011), draws the parameters from their posterior
before each imputation (Rubin 1987, p. 167; van Buuren 2018, algorithm 3.1, ``mice``'s ``norm``),
analyses every completed data set with :func:`whatworks.trials.analyse.analyse` and pools the
treatment effect by Rubin's rules.

Missing not at random: ``delta`` is added to every imputed outcome in the arm(s) named by
``delta_arm`` (the delta-adjustment or pattern-mixture approach; Leurent et al. 2018). Running a
range of deltas (:func:`delta_sensitivity`) shows how far the conclusion depends on the assumption
that missing outcomes resemble observed ones.

Rubin's rules: ``Qbar = mean(Q_i)``, ``W = mean(U_i)``, ``B = var(Q_i)``, ``T = W + (1 + 1/m) B``,
``lambda = (1 + 1/m) B / T``, ``df_old = (m - 1) / lambda^2``; with complete-data degrees of freedom
``nu`` the Barnard & Rubin (1999) ``df = df_old df_obs / (df_old + df_obs)``,
``df_obs = (nu + 1) / (nu + 3) nu (1 - lambda)``; ``r = (1 + 1/m) B / W``,
``fmi = (r + 2 / (df + 3)) / (r + 1)``. Interval ``Qbar +- t_df sqrt(T)``.

References
----------
Rubin DB (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation. Biometrika
    86:948-955.
van Buuren S (2018). Flexible Imputation of Missing Data, 2nd ed. CRC Press.
Andridge RR (2011). Quantifying the impact of fixed effects modeling of clusters in multiple
    imputation for cluster randomized trials. Biom J 53:57-74.
Leurent B, Gomes M, Faria R, Morris S, Grieve R, Carpenter JR (2018). Sensitivity analysis for
    not-at-random missing data in trial-based cost-effectiveness analysis. PharmacoEconomics
    36:889-901.
Reference implementation tested against: mice ``pool.scalar`` (tests/reference/make_trials_mi.R).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._results import Result, fmt, fmt_p
from ..errors import InputError, ParameterError
from .analyse import _treatment_indicator, analyse, design_matrix

DELTA_ARMS = ("treatment", "control", "both")


@dataclass(frozen=True, repr=False)
class Pooled(Result):
    """Rubin's rules for one scalar."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float
    df: float
    within: float       # W: mean within-imputation variance
    between: float      # B: between-imputation variance
    total: float        # T
    riv: float          # relative increase in variance due to non-response
    fmi: float          # fraction of missing information
    m: int
    level: float

    def summary_text(self) -> str:
        return (f"pooled over {self.m} imputations: {fmt(self.estimate)} (SE {fmt(self.se)}, df "
                f"{fmt(self.df, 1)}), {self.level:g}% CI [{fmt(self.ci_lower)}, "
                f"{fmt(self.ci_upper)}], p {fmt_p(self.p_value)}; FMI {fmt(self.fmi, 3)}")

    def __repr__(self) -> str:
        return self.summary_text()


def rubin(estimates, variances, *, df_complete: float = math.inf, level: float = 95.0) -> Pooled:
    """Pool ``m`` estimates and their squared standard errors by Rubin's rules."""
    q = np.asarray(estimates, float)
    u = np.asarray(variances, float)
    m = len(q)
    if m < 2 or len(u) != m:
        raise ParameterError("estimates", m, "two or more estimates with one variance each")
    qbar, w = float(q.mean()), float(u.mean())
    b = float(q.var(ddof=1))
    t = w + (1 + 1 / m) * b
    lam = max((1 + 1 / m) * b / t, 1e-4)
    df_old = (m - 1) / lam ** 2
    if math.isinf(df_complete):
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        df = df_old * df_obs / (df_old + df_obs)
    r = (1 + 1 / m) * b / w if w > 0 else math.inf
    fmi = (r + 2 / (df + 3)) / (r + 1)
    se = math.sqrt(t)
    crit = stats.t.ppf(1 - (1 - level / 100) / 2, df)
    return Pooled(estimate=qbar, se=se, ci_lower=qbar - crit * se, ci_upper=qbar + crit * se,
                  p_value=float(2 * stats.t.sf(abs(qbar) / se, df)) if se > 0 else float("nan"),
                  df=df, within=w, between=b, total=t, riv=r, fmi=fmi, m=m, level=level)


@dataclass(frozen=True, repr=False)
class Imputed(Result):
    """The pooled treatment effect and the per-imputation estimates behind it."""

    pooled: Pooled
    estimates: tuple[float, ...]
    ses: tuple[float, ...]
    n_missing: int
    delta: float
    delta_arm: str
    seed: int

    def summary_text(self) -> str:
        return (f"multiple imputation of {self.n_missing} missing outcomes (delta {self.delta:g} "
                f"on {self.delta_arm}, seed {self.seed}); {self.pooled.summary_text()}")

    def __repr__(self) -> str:
        return self.summary_text()


def _independent_columns(X: np.ndarray) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns, in order (pivoted by rank)."""
    keep: list[int] = []
    for j in range(X.shape[1]):
        if np.linalg.matrix_rank(X[:, keep + [j]]) == len(keep) + 1:
            keep.append(j)
    return np.array(keep)


def impute_normal(y: np.ndarray, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of the missing ``y`` (NaN) from the normal linear model with posterior-drawn
    parameters (Rubin 1987; ``mice.impute.norm``)."""
    miss = np.isnan(y)
    Xo, yo = X[~miss], y[~miss]
    n, k = Xo.shape
    if n - k < 2:
        raise InputError(f"too few observed outcomes ({n}) for the imputation model's {k} terms")
    xtx_inv = np.linalg.inv(Xo.T @ Xo)
    beta = xtx_inv @ Xo.T @ yo
    resid = yo - Xo @ beta
    sigma = math.sqrt(resid @ resid / rng.chisquare(n - k))
    beta_star = beta + sigma * np.linalg.cholesky(xtx_inv) @ rng.standard_normal(k)
    out = y.copy()
    out[miss] = X[miss] @ beta_star + sigma * rng.standard_normal(int(miss.sum()))
    return out


def multiple_imputation(data: pd.DataFrame, *, outcome: str, treatment: str, cluster: str,
                        block: str | None = None, covariates=None, treated=None, m: int = 20,
                        seed: int, delta: float = 0.0, delta_arm: str = "treatment",
                        level: float = 95.0, file: str | None = None) -> Imputed:
    """Impute missing continuous outcomes ``m`` times, analyse each, pool (see the module)."""
    if m < 2:
        raise ParameterError("m", m, "two or more imputations (20 or more is usual)")
    if delta_arm not in DELTA_ARMS:
        raise ParameterError("delta_arm", delta_arm, f"one of {', '.join(DELTA_ARMS)}")
    covariates = list(covariates or [])
    needed = [treatment, cluster, *([block] if block else []), *covariates]
    for c in [outcome, *needed]:
        if c not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             file=file, column=c)
    incomplete = [c for c in needed if data[c].isna().any()]
    if incomplete:
        raise InputError("has missing values; only the outcome is imputed (covariates must be "
                         "complete)", file=file, column=incomplete[0])
    d = data.reset_index(drop=True).copy()
    y = pd.to_numeric(d[outcome], errors="coerce").to_numpy(float)
    if np.any(np.isnan(y) & d[outcome].notna().to_numpy()):
        raise InputError("holds text that is not a number", file=file, column=outcome)
    miss = np.isnan(y)
    t = _treatment_indicator(d[treatment], treated, file, treatment)
    X, _ = design_matrix(d, treatment=t, block=block, covariates=covariates, file=file)
    clusters = d[cluster].astype(str)
    dummies = np.column_stack([(clusters == c).to_numpy(float) for c in sorted(clusters.unique())])
    full = np.column_stack([X, dummies])
    X_imp = full[:, _independent_columns(full)]
    shift = {"treatment": t, "control": 1 - t, "both": np.ones(len(t))}[delta_arm] * delta
    rng = np.random.default_rng(seed)
    estimates, ses = [], []
    for _ in range(m):
        y_i = impute_normal(y, X_imp, rng) if miss.any() else y.copy()
        y_i[miss] += shift[miss]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = analyse(d.assign(**{outcome: y_i}), outcome=outcome, treatment=treatment,
                          cluster=cluster, block=block, covariates=covariates, treated=treated,
                          family="gaussian", level=level, file=file,
                          unconditional=False)
        estimates.append(res.estimate)
        ses.append(res.se)
    pooled = rubin(estimates, np.square(ses), level=level)
    return Imputed(pooled=pooled, estimates=tuple(estimates), ses=tuple(ses),
                   n_missing=int(miss.sum()), delta=delta, delta_arm=delta_arm, seed=seed)


def delta_sensitivity(data: pd.DataFrame, *, deltas, **kwargs) -> pd.DataFrame:
    """The pooled treatment effect for each delta (same seed, so only delta differs)."""
    rows = []
    for dlt in deltas:
        p = multiple_imputation(data, delta=float(dlt), **kwargs).pooled
        rows.append({"delta": float(dlt), "estimate": p.estimate, "se": p.se,
                     "ci_lower": p.ci_lower, "ci_upper": p.ci_upper, "p_value": p.p_value})
    return pd.DataFrame(rows)
