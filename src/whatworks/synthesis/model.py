"""Common-effect, random-effects and mixed-effects (meta-regression) models.

``meta_analysis`` fits one model and returns a :class:`MetaAnalysis`; ``meta_analysis_batch`` fits many
intercept-only models at once (a simulation study, or re-rating a whole evidence store) and returns
arrays. Both run the same batched code (``_fit``).

References
----------
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis. Academic Press.
Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a single
    covariate. Stat Med 22:2693-2710. (test="knha")
Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. Stat Med 21:1539-1558.
Riley RD, Higgins JPT, Deeks JJ (2011). Interpretation of random effects meta-analyses. BMJ 342:d549.
    (prediction interval)
Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
    Stat Med 26:37-52. (Q-profile intervals for tau², I², H²)
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
Reference implementation tested against: metafor 3.8 ``rma.uni``, ``predict``, ``confint``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._results import FrozenResult, fmt, fmt_p
from .._threads import blas_threads
from ..errors import DegenerateModelError, InputError, ParameterError, WhatWorksWarning
from . import _dist, _wls
from .design import design_matrix
from .tau2 import COMMON_EFFECT, TAU2_ESTIMATORS, Batch, Control, solve_generalised_q

TESTS = ("z", "t", "knha", "adhoc")


@dataclass(frozen=True, repr=False)
class Coefficient(FrozenResult):
    """One model coefficient with its test and confidence interval."""

    name: str
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True, repr=False)
class MetaAnalysis(FrozenResult):
    """A fitted common-effect, random-effects or mixed-effects meta-analysis model.

    ``estimate`` .. ``ci_upper`` describe the first coefficient (the pooled effect in an
    intercept-only model); ``coefficients`` lists them all.
    """

    k: int
    p: int
    method: str
    test: str
    level: float
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    tau2_se: float
    tau2_ci_lower: float
    tau2_ci_upper: float
    i2: float
    i2_ci_lower: float
    i2_ci_upper: float
    h2: float
    h2_ci_lower: float
    h2_ci_upper: float
    q: float
    q_df: int
    q_p_value: float
    df: float | None
    coefficients: tuple[Coefficient, ...]
    qm: float | None
    qm_df: tuple[int, ...] | None
    qm_p_value: float | None
    r2: float | None
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    yi: np.ndarray = field(repr=False, compare=False)
    vi: np.ndarray = field(repr=False, compare=False)
    X: np.ndarray = field(repr=False, compare=False)
    names: tuple[str, ...] = field(repr=False, compare=False)
    labels: tuple[str, ...] | None = field(repr=False, compare=False)
    control: Control = field(repr=False, compare=False, default=Control())

    _skip_in_dict = ("yi", "vi", "X", "names", "labels", "control")

    @property
    def study_labels(self) -> tuple[str, ...]:
        """Study labels (``Study 1``, ... when none were given)."""
        if self.labels is not None:
            return tuple(str(x) for x in self.labels)
        return tuple(f"Study {i + 1}" for i in range(self.k))

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def is_random(self) -> bool:
        return self.method not in COMMON_EFFECT

    @property
    def weights(self) -> np.ndarray:
        """Each study's weight in percent (inverse of ``vi + tau2``)."""
        w = 1.0 / (self.vi + self.tau2)
        return 100.0 * w / w.sum()

    def plot_forest(self, **kwargs):
        """A forest plot (see :func:`whatworks.synthesis.plots.forest_plot`); returns the Figure."""
        from .plots import forest_plot

        return forest_plot(self, **kwargs)

    def plot_funnel(self, **kwargs):
        """A contour-enhanced funnel plot (see :func:`whatworks.synthesis.plots.funnel_plot`)."""
        from .plots import funnel_plot

        return funnel_plot(self, **kwargs)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return pd.DataFrame([c.to_dict() for c in self.coefficients]).set_index("name")

    def studies_frame(self) -> pd.DataFrame:
        """Per-study effects, normal-theory confidence limits and weights (for forest plots)."""
        z = _dist.norm_ppf(1 - (1 - self.level / 100) / 2)
        se = np.sqrt(self.vi)
        return pd.DataFrame({"label": self.study_labels, "yi": self.yi, "vi": self.vi,
                             "ci_lower": self.yi - z * se, "ci_upper": self.yi + z * se,
                             "weight": self.weights})

    def summary_text(self) -> str:
        kind = "Common-effect" if not self.is_random else (
            "Mixed-effects" if self.p > 1 else "Random-effects")
        lines = [f"{kind} model (k = {self.k}; tau^2 estimator: {self.method}; test: {self.test})", ""]
        if self.is_random:
            lines.append(f"tau^2 = {fmt(self.tau2)} (SE = {fmt(self.tau2_se)}, "
                         f"{self.level:g}% CI {fmt(self.tau2_ci_lower)} to {fmt(self.tau2_ci_upper)})")
            lines.append(f"I^2 = {self.i2:.2f}%   H^2 = {fmt(self.h2)}")
            if self.r2 is not None:
                lines.append(f"R^2 = {self.r2:.2f}%")
        else:
            lines.append(f"I^2 = {self.i2:.2f}%   H^2 = {fmt(self.h2)}")
        lines.append(f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_p_value)}")
        if self.qm is not None and self.p > 1:
            lines.append(f"Test of moderators: QM{self.qm_df} = {fmt(self.qm)}, "
                         f"p = {fmt_p(self.qm_p_value)}")
        lines.append("")
        lines.append(self.to_frame().to_string(float_format=lambda x: fmt(x)))
        if self.p == 1:
            lines.append("")
            lines.append(f"prediction interval: {fmt(self.pi_lower)} to {fmt(self.pi_upper)}")
        return "\n".join(lines)


def _as_array(value, data: pd.DataFrame | None, name: str) -> np.ndarray:
    if isinstance(value, str):
        if data is None:
            raise InputError(f"'{value}' names a column but no data was given", column=name)
        if value not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             column=value)
        value = data[value]
    try:
        return np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric ({exc})", column=name) from None


def check_method(method: str) -> str:
    """The registry's spelling of a tau² estimator named in any case ("reml" -> "REML")."""
    names = {name.lower(): name for name in TAU2_ESTIMATORS}
    if not isinstance(method, str) or method.lower() not in names:
        raise ParameterError("method", method, ", ".join(TAU2_ESTIMATORS) + " (in any case)")
    return names[method.lower()]


def check_test(test: str) -> str:
    """A test named in any case ("KNHA" -> "knha")."""
    if not isinstance(test, str) or test.lower() not in TESTS:
        raise ParameterError("test", test, ", ".join(TESTS) + " (in any case)")
    return test.lower()


def meta_analysis(yi, vi=None, *, sei=None, mods=None, data: pd.DataFrame | None = None,
                  method: str = "REML", test: str = "z", level: float = 95,
                  intercept: bool = True, labels=None, control: Control | None = None
                  ) -> MetaAnalysis:
    """Fit a common-effect, random-effects or mixed-effects (meta-regression) model.

    Parameters
    ----------
    yi, vi : observed effects and their sampling variances (arrays, or column names in ``data``);
        ``sei`` (standard errors) may be given instead of ``vi``.
    mods : moderators (DataFrame, column names in ``data``, or an array). Text columns are dummy
        coded with the alphabetically first level as reference; the intercept comes first.
    method : a tau² estimator from ``TAU2_ESTIMATORS`` ("FE" for a common-effect model).
    test : "z", "t", "knha" (Knapp-Hartung) or "adhoc" (Knapp-Hartung, variance factor >= 1).
    """
    method = check_method(method)
    test = check_test(test)
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100, such as 95")
    control = control or Control()
    y = _as_array(yi, data, "yi")
    if vi is None and sei is None:
        raise InputError("give the sampling variances (vi) or standard errors (sei)", column="vi")
    v = _as_array(vi, data, "vi") if vi is not None else _as_array(sei, data, "sei") ** 2
    if v.shape != y.shape:
        raise InputError(f"yi has {y.size} values but vi has {v.size}", column="vi")
    if isinstance(mods, str):
        mods = [mods]
    if isinstance(mods, (list, tuple)) and mods and all(isinstance(m, str) for m in mods):
        if data is None:
            raise InputError("moderators are named as columns but no data was given", column="mods")
        missing = [m for m in mods if m not in data.columns]
        if missing:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             column=missing[0])
        mods = data[list(mods)]
    X, names = design_matrix(mods, intercept=intercept, k=y.size)
    if X.shape[0] != y.size:
        raise InputError(f"the moderators have {X.shape[0]} rows but yi has {y.size}", column="mods")
    if labels is not None:
        labels = np.asarray([str(x) for x in labels], dtype=object)
        if labels.size != y.size:
            raise InputError(f"{labels.size} labels for {y.size} studies", column="labels")
    negative = np.flatnonzero(v < 0)
    if negative.size:
        raise InputError(f"sampling variance {v[negative[0]]:g} is negative; variances must be >= 0",
                         row=int(negative[0]) + 1, column="vi")
    keep = np.isfinite(y) & np.isfinite(v) & np.isfinite(X).all(axis=1)
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} studies with missing values were left out",
                      WhatWorksWarning, stacklevel=2)
    if not keep.all():
        y, v, X = y[keep], v[keep], X[keep]
        labels = labels[keep] if labels is not None else np.flatnonzero(keep) + 1
    k, p = X.shape
    with blas_threads():
        _check_design(X, names, k, method)
    if test != "z" and k <= p:
        raise InputError(f"test='{test}' needs more studies than coefficients (k = {k}, p = {p}): "
                         "there are no residual degrees of freedom; use test='z' or fewer "
                         "moderators", column="mods")
    design = _wls.ones_design(1, k) if names == ("intrcpt",) else X[None, :, :]
    batch = Batch(y[None, :], v[None, :], design, np.ones((1, k)))
    try:
        out = _fit(batch, method, test, level, control, intercept=intercept, q_profile=True)
    except np.linalg.LinAlgError:
        out = None
    if out is None or not np.isfinite(out["beta"]).all() or not (out["se"] > 0).all():
        raise _degenerate(y, v, method, test, None if out is None else float(out["tau2"][0]),
                          rows=np.flatnonzero(keep) + 1)
    r2 = None
    if p > 1 and intercept and method not in COMMON_EFFECT:
        null = _fit(Batch(batch.y, batch.v, _wls.ones_design(1, k), batch.mask), method, test,
                    level, control, intercept=True, q_profile=False)
        tau2_null = float(null["tau2"][0])
        r2 = max(0.0, 100.0 * (tau2_null - float(out["tau2"][0])) / tau2_null) \
            if tau2_null > 0 else 0.0
    coefs = tuple(
        Coefficient(names[j], *(float(out[key][0, j]) for key in
                                ("beta", "se", "statistic", "p_value", "ci_lower", "ci_upper")))
        for j in range(p))
    s = {key: (float(val[0]) if np.ndim(val) else val) for key, val in out.items()
         if key not in ("beta", "se", "statistic", "p_value", "ci_lower", "ci_upper", "qm_df")}
    s["qm_df"] = tuple(int(d) for d in out["qm_df"])
    c0 = coefs[0]
    return MetaAnalysis(
        k=k, p=p, method=method, test=test, level=level, estimate=c0.estimate, se=c0.se,
        statistic=c0.statistic, p_value=c0.p_value, ci_lower=c0.ci_lower, ci_upper=c0.ci_upper,
        pi_lower=s["pi_lower"], pi_upper=s["pi_upper"], tau2=s["tau2"], tau2_se=s["tau2_se"],
        tau2_ci_lower=s["tau2_ci_lower"], tau2_ci_upper=s["tau2_ci_upper"], i2=s["i2"],
        i2_ci_lower=s["i2_ci_lower"], i2_ci_upper=s["i2_ci_upper"], h2=s["h2"],
        h2_ci_lower=s["h2_ci_lower"], h2_ci_upper=s["h2_ci_upper"], q=s["q"], q_df=k - p,
        q_p_value=s["q_p_value"], df=(k - p) if test != "z" else None, coefficients=coefs,
        qm=s["qm"], qm_df=s["qm_df"], qm_p_value=s["qm_p_value"], r2=r2, loglik=s["loglik"],
        deviance=s["deviance"], aic=s["aic"], bic=s["bic"], aicc=s["aicc"], yi=y, vi=v, X=X,
        names=names, labels=None if labels is None else tuple(labels), control=control)


def _degenerate(y: np.ndarray, v: np.ndarray, method: str, test: str, tau2, *, rows: np.ndarray
                ) -> DegenerateModelError:
    """Why a fit gave no finite estimate or standard error (a user's data, not a bug)."""
    zero = np.flatnonzero(v == 0)
    if zero.size and not tau2:
        return DegenerateModelError(f"sampling variance 0 gives this study infinite weight when "
                                    f"tau^2 = 0 (method {method}, k = {y.size}); enter its variance "
                                    "(metafor refuses this too)", row=int(rows[zero[0]]), column="vi")
    if test == "knha":
        return DegenerateModelError("test='knha' scales the variance by the residual heterogeneity, "
                                    "which is 0 here (the effects agree exactly), so the standard "
                                    "error would be 0; use test='z' or test='adhoc'", column="yi")
    return DegenerateModelError("the model gives no finite estimate or standard error for these data; "
                                "check the effect sizes and variances", column="yi")


def _check_design(X: np.ndarray, names, k: int, method: str) -> None:
    p = X.shape[1]
    if k == 0:
        raise InputError("no studies left to analyse (every row has a missing value)")
    if k < p or (method not in COMMON_EFFECT and k <= p and k > 1):
        raise InputError(f"{p} coefficients cannot be estimated from {k} studies; use fewer "
                         "moderators or more studies", column="mods")
    if np.linalg.matrix_rank(X) < p:
        raise InputError("the moderators are collinear (one is a combination of the others): "
                         f"drop one of {', '.join(names[1:] if len(names) > 1 else names)}",
                         column="mods")


def _fit(b: Batch, method: str, test: str, level: float, control: Control, *,
         intercept: bool, q_profile: bool) -> dict:
    """Fit the model on a batch; returns arrays with the batch as the first axis."""
    if b.p == 1:
        return _fit_unlimited(b, method, test, level, control, intercept=intercept,
                              q_profile=q_profile)
    with blas_threads():
        return _fit_unlimited(b, method, test, level, control, intercept=intercept,
                              q_profile=q_profile)


def _fit_unlimited(b: Batch, method: str, test: str, level: float, control: Control, *,
                   intercept: bool, q_profile: bool) -> dict:
    n, k_max, p = b.X.shape
    k = b.k
    dfree = k - p
    estimator = TAU2_ESTIMATORS[method]
    random = method not in COMMON_EFFECT
    single = np.all(k == 1)
    if random and not single:
        tau2, tau2_se = estimator.function(b, control)
    else:
        tau2, tau2_se = np.zeros(n), np.full(n, np.nan)
    w = b.mask / (b.v + tau2[:, None])
    fit = _wls.wls(b.X, b.y, w)
    vb = fit.A
    if test in ("knha", "adhoc"):
        # a residual sum of squares at rounding level is 0 (identical effects), as in metafor
        s2 = np.where(fit.rss <= np.finfo(float).eps, 0.0, fit.rss) / dfree
        if test == "adhoc":
            s2 = np.maximum(s2, 1.0)
        vb = vb * s2[:, None, None]
    se = np.sqrt(np.einsum("npp->np", vb))
    with np.errstate(divide="ignore", invalid="ignore"):  # se 0: a Knapp-Hartung factor of 0
        stat = fit.beta / se
    alpha = 1 - level / 100
    if test == "z":
        p_value = 2 * _dist.norm_sf(np.abs(stat))
        crit = np.full(n, _dist.norm_ppf(1 - alpha / 2))
    else:
        p_value = 2 * _dist.t_sf(np.abs(stat), dfree[:, None])
        crit = _dist.t_ppf(1 - alpha / 2, dfree)
    ci_lower = fit.beta - crit[:, None] * se
    ci_upper = fit.beta + crit[:, None] * se

    # heterogeneity: Q from the common-effect fit; I² and H² as metafor defines them
    w_fe = b.mask / b.v
    fit_fe = _wls.wls(b.X, b.y, w_fe)
    q = fit_fe.rss
    with np.errstate(divide="ignore", invalid="ignore"):
        q_p = _dist.chi2_sf(q, dfree)
        if random:
            vt = dfree / _wls.trace_P(b.X, w_fe, fit_fe.A)
            i2 = 100 * tau2 / (vt + tau2)
            h2 = (vt + tau2) / vt
        else:
            vt = None
            i2 = np.where(dfree > 0, np.maximum(0.0, 100 * (q - dfree) / q), 0.0)
            h2 = np.where(dfree > 0, q / dfree, 1.0)
            q_p = np.where(dfree > 0, q_p, 1.0)

    # omnibus test of the moderators (all coefficients but the intercept)
    btt = list(range(1, p)) if (intercept and p > 1) else list(range(p))
    bb = fit.beta[:, btt]
    vbb = vb[:, btt][:, :, btt]
    qm = _wald(bb, vbb)
    m = len(btt)
    if test == "z":
        qm_p = _dist.chi2_sf(qm, m)
        qm_df = (m,)
    else:
        qm = qm / m
        qm_p = _dist.f_sf(qm, m, dfree)
        qm_df = (m, int(dfree[0])) if n == 1 else (m,)

    # prediction interval (intercept-only random-effects models; none under a common effect)
    if p == 1 and random:
        half = crit * np.sqrt(se[:, 0] ** 2 + tau2)
        pi_lower, pi_upper = fit.beta[:, 0] - half, fit.beta[:, 0] + half
    else:
        pi_lower = pi_upper = np.full(n, np.nan)

    loglik, deviance, aic, bic, aicc = _fit_statistics(b, tau2, fit, method, random)

    out = dict(beta=fit.beta, se=se, statistic=stat, p_value=p_value, ci_lower=ci_lower,
               ci_upper=ci_upper, tau2=tau2, tau2_se=tau2_se, q=q, q_p_value=q_p, i2=i2, h2=h2,
               qm=qm, qm_df=qm_df, qm_p_value=qm_p, pi_lower=pi_lower, pi_upper=pi_upper,
               loglik=loglik, deviance=deviance, aic=aic, bic=bic, aicc=aicc)
    nan = np.full(n, np.nan)
    out.update(tau2_ci_lower=nan, tau2_ci_upper=nan, i2_ci_lower=nan, i2_ci_upper=nan,
               h2_ci_lower=nan, h2_ci_upper=nan)
    if random and q_profile and np.all(dfree > 0):
        lo, hi = q_profile_tau2(b, level, control, start=tau2)
        out.update(tau2_ci_lower=lo, tau2_ci_upper=hi,
                   i2_ci_lower=100 * lo / (vt + lo), i2_ci_upper=100 * hi / (vt + hi),
                   h2_ci_lower=(vt + lo) / vt, h2_ci_upper=(vt + hi) / vt)
    return out


def _wald(bb: np.ndarray, vbb: np.ndarray) -> np.ndarray:
    """The omnibus Wald statistic b' V^-1 b per fit; NaN where V is singular.

    V is singular when the Knapp-Hartung factor is 0: every effect equal to its fitted value
    (e.g. identical effects). metafor 3.8 then reports QM as NA with se 0 and a zero-width
    interval; we do the same instead of failing (tests/reference/knha_identical.json). A V that
    is not finite gives NaN too.
    """
    try:  # the usual case, at full speed
        return np.einsum("ni,nij,nj->n", bb, np.linalg.inv(vbb), bb)
    except np.linalg.LinAlgError:
        pass
    qm = np.full(bb.shape[0], np.nan)
    # a fit whose V is not finite (an overflowing subset) has no statistic either; the rank test
    # (an SVD) must not see it, or the whole batch fails ("SVD did not converge")
    ok = np.isfinite(vbb).all(axis=(1, 2))
    if np.any(ok):
        ok[ok] = (np.linalg.matrix_rank(vbb[ok]) == vbb.shape[1]) & (np.abs(vbb[ok]).max(axis=(1, 2)) > 0)
    if np.any(ok):
        qm[ok] = np.einsum("ni,nij,nj->n", bb[ok], np.linalg.inv(vbb[ok]), bb[ok])
    return qm


def _fit_statistics(b: Batch, tau2, fit, method: str, random: bool):
    """Log-likelihood, deviance, AIC, BIC and AICc as metafor reports them."""
    k = b.k
    p = b.p
    t = tau2 if random else np.zeros_like(tau2)
    log_v = (b.mask * np.log(np.where(b.mask > 0, b.v + t[:, None], 1.0))).sum(axis=-1)
    ll_ml = -0.5 * (k * np.log(2 * np.pi) + log_v + fit.rss)
    n_par = p + (1 if random else 0)
    if method == "REML":
        w = b.mask / (b.v + t[:, None])
        logdet_xwx = np.linalg.slogdet(_wls.crossprod(b.X, w))[1]
        logdet_xx = np.linalg.slogdet(_wls.crossprod(b.X, b.mask.astype(float)))[1]
        ll = -0.5 * ((k - p) * np.log(2 * np.pi) - logdet_xx + log_v + logdet_xwx + fit.rss)
        n_eff = k - p
    else:
        ll = ll_ml
        n_eff = k
    # saturated log-likelihood for the deviance (as metafor: a model with one parameter per study)
    if method == "REML":
        deviance = -2 * ll  # metafor reports -2 logLik for REML
    else:
        ll_sat = -0.5 * (k * np.log(2 * np.pi) + (b.mask * np.log(np.where(
            b.mask > 0, b.v, 1.0))).sum(axis=-1))
        deviance = -2 * (ll - ll_sat)
    aic = -2 * ll + 2 * n_par
    with np.errstate(divide="ignore", invalid="ignore"):
        bic = -2 * ll + n_par * np.log(np.where(n_eff > 0, n_eff, np.nan))
        aicc = -2 * ll + 2 * n_par * np.maximum(n_eff, n_par + 2) / (
            np.maximum(n_eff, n_par + 2) - n_par - 1)
    return ll, deviance, aic, bic, aicc


def q_profile_tau2(b: Batch, level: float, control: Control, start=None):
    """Q-profile confidence limits for tau² (Viechtbauer 2007), truncated at zero."""
    alpha = 1 - level / 100
    dfree = b.k - b.p
    upper_target = _dist.chi2_ppf(alpha / 2, dfree)      # Q(tau2_upper) = lower quantile
    lower_target = _dist.chi2_ppf(1 - alpha / 2, dfree)  # Q(tau2_lower) = upper quantile
    lo = solve_generalised_q(b, lower_target, control, start=start)
    hi = solve_generalised_q(b, upper_target, control, start=start)
    return lo, hi
