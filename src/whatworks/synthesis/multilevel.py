"""Three-level (multilevel) random-effects meta-analysis: effect sizes nested in studies.

The model for effect ``i`` of study ``j`` is ``y_ij = x_ij' beta + u_j + w_ij + e_ij`` with
``u_j ~ N(0, sigma2_1)`` (between studies), ``w_ij ~ N(0, sigma2_2)`` (between effects within a
study) and ``e_ij ~ N(0, v_ij)`` (sampling error, known). The marginal covariance is
block-diagonal by study,

    V_j = diag(v_j) + sigma2_2 Z_j Z_j' + sigma2_1 11',

where ``Z_j`` groups rows that share an inner label (one row per group when the inner labels are
unique, the usual case). Its inverse follows from two Sherman-Morrison steps (first within each
inner group, then for the study), so every quantity below is a sum over rows, groups or studies:
no ``k x k`` matrix is formed, and a fit with a million effects costs a few vector passes per
likelihood evaluation.

The variance components maximise the REML (or ML) log-likelihood; the optimiser is L-BFGS-B on the
bounded components with the analytic gradient, then Newton steps (Hessian from differences of the
analytic gradient) until the gradient vanishes, so the estimates are converged well beyond the
precision metafor's own defaults reach.

References
----------
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
    meta-analysis. Research Synthesis Methods 2:61-76.
Van den Noortgate W, Lopez-Lopez JA, Marin-Martinez F, Sanchez-Meca J (2013). Three-level
    meta-analysis of dependent effect sizes. Behavior Research Methods 45:576-594.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to related
    problems. Journal of the American Statistical Association 72:320-338. (REML and its gradient)
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
    Statistical Software 36(3). (test="t" with k - p degrees of freedom; fit statistics)
Reference implementation tested against: metafor 3.8 ``rma.mv(yi, vi, mods, random = ~ 1 |
study/es)`` (tests/reference/make_dependent.R).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats

from .._results import Result, fmt, fmt_p
from ..errors import ConvergenceError, InputError, ParameterError, WhatWorksWarning
from .design import design_matrix
from .model import Coefficient

METHODS = ("REML", "ML")
TESTS = ("z", "t")


# ----------------------------------------------------------------------------------------------
# the nested structure and its block-diagonal algebra
# ----------------------------------------------------------------------------------------------

def factorize(labels, name: str, k: int) -> tuple[np.ndarray, int]:
    """Integer codes ``0..n-1`` (in order of first appearance) for any hashable labels."""
    series = pd.Series(list(labels), dtype=object)
    if len(series) != k:
        raise InputError(f"{name} has {len(series)} labels but there are {k} effect sizes",
                         column=name)
    missing = np.flatnonzero(series.isna().to_numpy())
    if missing.size:
        raise InputError(f"the {name} label is missing", row=int(missing[0]) + 1, column=name)
    codes, uniques = pd.factorize(series)
    return codes.astype(np.intp), len(uniques)


def indicator(codes: np.ndarray, n: int) -> sparse.csr_matrix:
    """The ``n x k`` 0/1 matrix whose product with a ``(k, r)`` array sums rows by code."""
    k = codes.size
    return sparse.csr_matrix((np.ones(k), (codes, np.arange(k))), shape=(n, k))


@dataclass(frozen=True)
class Nesting:
    """Effects nested in inner groups nested in studies, with the sums the algebra needs."""

    study: np.ndarray        # study code of each row
    group: np.ndarray        # inner-group code of each row (unique (study, es) pair)
    group_study: np.ndarray  # study code of each inner group
    n_study: int
    n_group: int
    S: sparse.csr_matrix     # study indicator (n_study x k)
    G: sparse.csr_matrix     # group indicator (n_group x k)

    @classmethod
    def from_codes(cls, study: np.ndarray, es: np.ndarray) -> Nesting:
        n_study = int(study.max()) + 1
        pair = study.astype(np.int64) * (int(es.max()) + 1) + es
        group, uniques = pd.factorize(pair)
        group = group.astype(np.intp)
        group_study = np.empty(len(uniques), dtype=np.intp)
        group_study[group] = study
        return cls(study, group, group_study, n_study, len(uniques),
                   indicator(study, n_study), indicator(group, len(uniques)))


@dataclass(frozen=True)
class _Inverse:
    """The pieces of ``V^-1`` for given variance components (Sherman-Morrison twice)."""

    w: np.ndarray     # 1 / v per row
    Wg: np.ndarray    # sum of w per inner group
    c: np.ndarray     # 1 / (1 + s2 Wg) per group
    a: np.ndarray     # A^-1 1 per row (A = V without the study term)
    T: np.ndarray     # 1' A^-1 1 per study
    d: np.ndarray     # 1 / (1 + s1 T) per study
    s1: float
    s2: float


def _inverse(nest: Nesting, v: np.ndarray, s1: float, s2: float) -> _Inverse:
    w = 1.0 / v
    Wg = np.bincount(nest.group, weights=w, minlength=nest.n_group)
    c = 1.0 / (1.0 + s2 * Wg)
    a = w * c[nest.group]
    T = np.bincount(nest.group_study, weights=c * Wg, minlength=nest.n_study)
    d = 1.0 / (1.0 + s1 * T)
    return _Inverse(w, Wg, c, a, T, d, s1, s2)


def _apply(nest: Nesting, inv: _Inverse, M: np.ndarray) -> np.ndarray:
    """``V^-1 M`` for a ``(k, r)`` array, by sums within groups and studies."""
    wM = inv.w[:, None] * M
    AM = wM - inv.s2 * inv.w[:, None] * (inv.c[:, None] * (nest.G @ wM))[nest.group]
    return AM - inv.s1 * inv.a[:, None] * (inv.d[:, None] * (nest.S @ (inv.a[:, None] * M)))[
        nest.study]


def _logdet(nest: Nesting, v: np.ndarray, inv: _Inverse) -> float:
    return float(np.log(v).sum() + np.log1p(inv.s2 * inv.Wg).sum()
                 + np.log1p(inv.s1 * inv.T).sum())


@dataclass(frozen=True)
class _Evaluation:
    loglik: float
    gradient: np.ndarray
    beta: np.ndarray
    vb: np.ndarray


def _evaluate(nest: Nesting, X: np.ndarray, y: np.ndarray, v: np.ndarray, s1: float, s2: float,
              reml: bool, logdet_xx: float, with_gradient: bool = True) -> _Evaluation:
    """Log-likelihood (metafor's REML or ML), its gradient in (s1, s2), beta and its covariance."""
    k, p = X.shape
    inv = _inverse(nest, v, s1, s2)
    Z = np.column_stack([X, y])
    VZ = _apply(nest, inv, Z)
    ZVZ = Z.T @ VZ
    H = ZVZ[:p, :p]
    try:
        cho = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        raise InputError("X' V^-1 X is singular: the moderators are collinear") from None
    vb = np.linalg.inv(H)
    vb = (vb + vb.T) / 2
    beta = vb @ ZVZ[:p, p]
    Pr = _apply(nest, inv, (y - X @ beta)[:, None])[:, 0]  # V^-1 (y - X beta), no cancellation
    rss = float((y - X @ beta) @ Pr)
    logdet_v = _logdet(nest, v, inv)
    if reml:
        logdet_h = 2.0 * float(np.log(np.diag(cho)).sum())
        ll = -0.5 * ((k - p) * np.log(2 * np.pi) + logdet_v + logdet_h - logdet_xx + rss)
    else:
        ll = -0.5 * (k * np.log(2 * np.pi) + logdet_v + rss)
    grad = np.full(2, np.nan)
    if with_gradient:
        VX = VZ[:, :p]
        cW = inv.c * inv.Wg
        trace_1 = float((inv.T * inv.d).sum())                # sum_j 1' V_j^-1 1
        trace_2 = float((cW - s1 * cW ** 2 * inv.d[nest.group_study]).sum())
        u1 = nest.S @ Pr
        u2 = nest.G @ Pr
        grad[0] = -0.5 * trace_1 + 0.5 * float(u1 @ u1)
        grad[1] = -0.5 * trace_2 + 0.5 * float(u2 @ u2)
        if reml:
            B1 = nest.S @ VX
            B2 = nest.G @ VX
            grad[0] += 0.5 * float(np.einsum("ij,ij->", B1 @ vb, B1))
            grad[1] += 0.5 * float(np.einsum("ij,ij->", B2 @ vb, B2))
    return _Evaluation(ll, grad, beta, vb)


def fit_variance_components(nest: Nesting, X: np.ndarray, y: np.ndarray, v: np.ndarray, *,
                            reml: bool = True, start: tuple[float, float] | None = None,
                            tol: float = 1e-6, max_iter: int = 1000) -> tuple[np.ndarray, int]:
    """Maximise the (restricted) likelihood over ``(sigma2_1, sigma2_2) >= 0``.

    Returns the estimates and the number of likelihood evaluations. Raises ConvergenceError when
    the gradient does not vanish (or, at a zero component, point outward).
    """
    k, p = X.shape
    X = np.linalg.qr(X)[0]  # the likelihood is invariant to X -> X R^-1; orthonormal is stabler
    logdet_xx = 0.0
    w = 1.0 / v
    b_fe = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    resid = y - X @ b_fe
    scale = max(float(np.mean(resid ** 2)), float(np.median(v)), 1e-12)
    evaluations = 0

    def negative(x):
        nonlocal evaluations
        evaluations += 1
        ev = _evaluate(nest, X, y, v, x[0] * scale, x[1] * scale, reml, logdet_xx)
        return -ev.loglik, -ev.gradient * scale

    if start is None:
        total = max(float(np.mean(resid ** 2) - np.mean(v)), 0.1 * scale)
        x0 = np.array([total / 2, total / 2]) / scale
    else:
        x0 = np.maximum(np.asarray(start, dtype=float), 0.0) / scale
    res = optimize.minimize(negative, x0, jac=True, method="L-BFGS-B",
                            bounds=[(0.0, None), (0.0, None)],
                            options=dict(maxiter=max_iter, ftol=1e-15, gtol=1e-12, maxcor=20))
    x = np.maximum(res.x, 0.0)
    # Newton polish with an active set for components on the boundary.
    for _ in range(100):
        f0, g = negative(x)
        free = ~((x <= 0.0) & (g >= 0.0))
        if not free.any():
            break
        h = 1e-6 * np.maximum(x, 1e-3)
        Hm = np.empty((2, 2))
        for j in range(2):
            e = np.zeros(2)
            e[j] = h[j]
            lo = np.maximum(x - e, 0.0)
            hi = x + e
            Hm[:, j] = (negative(hi)[1] - negative(lo)[1]) / (hi[j] - lo[j])
        Hm = (Hm + Hm.T) / 2
        idx = np.flatnonzero(free)
        Hf = Hm[np.ix_(idx, idx)]
        if np.any(np.linalg.eigvalsh(Hf) <= 0):
            break
        step = np.zeros(2)
        step[idx] = -np.linalg.solve(Hf, g[idx])
        t = 1.0
        while t > 1e-8:
            x_new = np.maximum(x + t * step, 0.0)
            if negative(x_new)[0] <= f0 + 1e-14 * abs(f0):
                break
            t /= 2
        else:
            break
        moved = np.abs(x_new - x)
        x = x_new
        if np.all(moved <= 1e-13 * np.maximum(x, 1e-6)):
            break
    _, g = negative(x)
    projected = np.where((x <= 0.0) & (g >= 0.0), 0.0, g)
    if not np.all(np.isfinite(x)) or np.max(np.abs(projected) * np.maximum(x, 1.0)) > tol * max(
            1.0, float(k)):
        raise ConvergenceError(
            f"the {'REML' if reml else 'ML'} estimates of the variance components did not "
            f"converge (gradient {projected.tolist()}); check for studies with extreme effects or "
            "variances, or give start values with start=(sigma2_between, sigma2_within)")
    return x * scale, evaluations


# ----------------------------------------------------------------------------------------------
# the result and the user-facing function
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class MultilevelResult(Result):
    """A fitted three-level random-effects model (effects within studies).

    ``estimate`` .. ``ci_upper`` describe the first coefficient (the pooled effect in an
    intercept-only model); ``coefficients`` lists them all. ``sigma2`` is (between studies,
    within studies). ``qm`` is a chi-square statistic for test="z" and an F statistic for "t".
    """

    k: int
    p: int
    n_clusters: int
    n_groups: int
    method: str
    test: str
    level: float
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    coefficients: tuple[Coefficient, ...]
    df: float | None
    sigma2: tuple[float, float]
    q: float
    q_df: int
    q_p_value: float
    qm: float
    qm_df: tuple[int, ...]
    qm_p_value: float
    btt: tuple[int, ...]
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    evaluations: int
    vcov: np.ndarray = field(repr=False, compare=False)
    yi: np.ndarray = field(repr=False, compare=False)
    vi: np.ndarray = field(repr=False, compare=False)
    X: np.ndarray = field(repr=False, compare=False)
    study: np.ndarray = field(repr=False, compare=False)
    es: np.ndarray = field(repr=False, compare=False)
    nesting: Nesting = field(repr=False, compare=False)

    _skip_in_dict = ("vcov", "yi", "vi", "X", "study", "es", "nesting")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coefficients)

    @property
    def beta(self) -> np.ndarray:
        return np.array([c.estimate for c in self.coefficients])

    @property
    def fitted_covariance_blocks(self):
        """A function ``rows -> V[rows][:, rows]`` for arrays of row indices ``(m, n)``."""
        return covariance_blocks(self.nesting, self.vi, *self.sigma2)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return pd.DataFrame([c.to_dict() for c in self.coefficients]).set_index("name")

    def summary_text(self) -> str:
        s1, s2 = self.sigma2
        lines = [f"Multilevel random-effects model (k = {self.k} in {self.n_clusters} studies; "
                 f"method: {self.method}; test: {self.test})", "",
                 f"sigma^2 between studies = {fmt(s1)}   within studies = {fmt(s2)}",
                 f"logLik = {fmt(self.loglik)}   AIC = {fmt(self.aic)}   BIC = {fmt(self.bic)}",
                 f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_p_value)}"]
        if self.p > 1:
            lines.append(f"Test of moderators: QM{self.qm_df} = {fmt(self.qm)}, "
                         f"p = {fmt_p(self.qm_p_value)}")
        lines += ["", self.to_frame().to_string(float_format=lambda x: fmt(x))]
        return "\n".join(lines)


def covariance_blocks(nest: Nesting, v: np.ndarray, s1: float, s2: float):
    """Dense blocks of the fitted marginal covariance for row-index arrays of shape ``(m, n)``."""
    def blocks(rows: np.ndarray) -> np.ndarray:
        st = nest.study[rows]
        gr = nest.group[rows]
        out = s1 * (st[:, :, None] == st[:, None, :]) + s2 * (gr[:, :, None] == gr[:, None, :])
        idx = np.arange(rows.shape[1])
        out[:, idx, idx] += v[rows]
        return out
    return blocks


def _column(value, data: pd.DataFrame | None, name: str):
    if isinstance(value, str) and data is not None:
        if value not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, data.columns))}",
                             column=value)
        return data[value].to_numpy()
    return value


def label_array(values) -> np.ndarray:
    """A 1-D object array of labels (tuples stay single labels)."""
    return pd.Series(list(values), dtype=object).to_numpy()


def _numeric(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric ({exc})", column=name) from None


def prepare(yi, vi, study, es, mods, data, intercept: bool):
    """Validate and align the inputs; drop rows with missing values (with a warning)."""
    y = _numeric(_column(yi, data, "yi"), "yi")
    v = _numeric(_column(vi, data, "vi"), "vi")
    k = y.size
    if v.size != k:
        raise InputError(f"yi has {k} values but vi has {v.size}", column="vi")
    if study is None:
        raise InputError("give the study (cluster) of each effect size", column="study")
    study = label_array(_column(study, data, "study"))
    es = np.arange(k).astype(object) if es is None else label_array(_column(es, data, "es"))
    if isinstance(mods, str):
        mods = [mods]
    if isinstance(mods, (list, tuple)) and mods and all(isinstance(m, str) for m in mods):
        if data is None:
            raise InputError("moderators are named as columns but no data was given", column="mods")
        mods = data[list(mods)]
    X, names = design_matrix(mods, intercept=intercept, k=k)
    if X.shape[0] != k:
        raise InputError(f"the moderators have {X.shape[0]} rows but yi has {k}", column="mods")
    for label, arr in (("study", study), ("es", es)):
        if arr.size != k:
            raise InputError(f"{label} has {arr.size} labels but there are {k} effect sizes",
                             column=label)
    bad = np.flatnonzero(v <= 0)
    if bad.size:
        raise InputError(f"sampling variance {v[bad[0]]:g} is not positive; the multilevel "
                         "model needs variances > 0", row=int(bad[0]) + 1, column="vi")
    keep = (np.isfinite(y) & np.isfinite(v) & np.isfinite(X).all(axis=1)
            & ~pd.isna(pd.Series(study)).to_numpy() & ~pd.isna(pd.Series(es)).to_numpy())
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} effect sizes with missing values were left out",
                      WhatWorksWarning, stacklevel=3)
    y, v, X, study, es = y[keep], v[keep], X[keep], study[keep], es[keep]
    k, p = X.shape
    if k <= p:
        raise InputError(f"{p} coefficients cannot be estimated from {k} effect sizes; use fewer "
                         "moderators", column="mods")
    if np.linalg.matrix_rank(X) < p:
        raise InputError("the moderators are collinear (one is a combination of the others): "
                         f"drop one of {', '.join(names[1:] if len(names) > 1 else names)}",
                         column="mods")
    return y, v, X, names, study, es


def default_btt(X: np.ndarray, intercept: bool) -> list[int]:
    """Coefficients in the omnibus test: all but an intercept column (as metafor chooses)."""
    p = X.shape[1]
    ones = [j for j in range(p) if np.all(X[:, j] == 1.0)]
    if p > 1 and (intercept or ones):
        drop = 0 if intercept else ones[0]
        return [j for j in range(p) if j != drop]
    return list(range(p))


def multilevel(yi, vi, *, study, es=None, mods=None, data: pd.DataFrame | None = None,
               method: str = "REML", test: str = "z", level: float = 95,
               intercept: bool = True, btt=None,
               start: tuple[float, float] | None = None) -> MultilevelResult:
    """Fit a three-level random-effects model (``random = ~ 1 | study/es`` in metafor).

    Parameters
    ----------
    yi, vi : effect sizes and sampling variances (arrays, or column names in ``data``).
    study : the top level (study, district, research group): any hashable labels.
    es : the inner level within a study; defaults to one level per row. Rows sharing a
        (study, es) pair share the inner random effect.
    mods : moderators (DataFrame, column names in ``data`` or an array); the intercept comes first.
    method : "REML" (default) or "ML".
    test : "z" (normal) or "t" (t and F distributions with k - p degrees of freedom).
    btt : indices of the coefficients in the omnibus test (default: all but the intercept).
    start : optional start values (sigma2_between, sigma2_within).

    References
    ----------
    Konstantopoulos S (2011). Research Synthesis Methods 2:61-76. Van den Noortgate W et al.
    (2013). Behavior Research Methods 45:576-594. Tested against metafor 3.8 ``rma.mv``.
    """
    if method not in METHODS:
        raise ParameterError("method", method, ", ".join(METHODS))
    if test not in TESTS:
        raise ParameterError("test", test, ", ".join(TESTS))
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100, such as 95")
    y, v, X, names, study, es = prepare(yi, vi, study, es, mods, data, intercept)
    k, p = X.shape
    s_codes, _ = factorize(study, "study", k)
    e_codes, _ = factorize(es, "es", k)
    nest = Nesting.from_codes(s_codes, e_codes)
    if nest.n_group == nest.n_study:
        warnings.warn("every study has a single inner level (one effect size per study), so the "
                      "two variance components cannot be told apart; only their sum is "
                      "estimable. Use a two-level model (meta_analysis) instead",
                      WhatWorksWarning, stacklevel=2)
    reml = method == "REML"
    sigma2, evaluations = fit_variance_components(nest, X, y, v, reml=reml, start=start)
    Qx, Rx = np.linalg.qr(X)
    ev = _evaluate(nest, Qx, y, v, sigma2[0], sigma2[1], reml, 0.0, with_gradient=False)
    Rinv = np.linalg.inv(Rx)
    beta = Rinv @ ev.beta
    vb = Rinv @ ev.vb @ Rinv.T
    vb = (vb + vb.T) / 2
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    alpha = 1 - level / 100
    dfree = k - p
    if test == "z":
        p_value = 2 * stats.norm.sf(np.abs(stat))
        crit = stats.norm.ppf(1 - alpha / 2)
    else:
        p_value = 2 * stats.t.sf(np.abs(stat), dfree)
        crit = stats.t.ppf(1 - alpha / 2, dfree)
    coefs = tuple(Coefficient(names[j], float(beta[j]), float(se[j]), float(stat[j]),
                              float(p_value[j]), float(beta[j] - crit * se[j]),
                              float(beta[j] + crit * se[j])) for j in range(p))
    # residual heterogeneity: the common-effect fit with weights 1/v
    w = 1.0 / v
    b_fe = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    q = float((w * (y - X @ b_fe) ** 2).sum())
    q_p = float(stats.chi2.sf(q, dfree))
    # omnibus test of moderators
    btt = default_btt(X, intercept) if btt is None else [int(j) for j in btt]
    if not btt or min(btt) < 0 or max(btt) >= p:
        raise ParameterError("btt", btt, f"indices of coefficients between 0 and {p - 1}")
    bb = beta[btt]
    qm = float(bb @ np.linalg.solve(vb[np.ix_(btt, btt)], bb))
    m = len(btt)
    if test == "z":
        qm_p, qm_df = float(stats.chi2.sf(qm, m)), (m,)
    else:
        qm = qm / m
        qm_p, qm_df = float(stats.f.sf(qm, m, dfree)), (m, dfree)
    # fit statistics as metafor reports them (two variance components counted as parameters)
    ll = ev.loglik
    n_par = p + 2
    n_eff = k - p if reml else k
    if reml:
        deviance = -2 * ll
    else:
        deviance = -2 * (ll + 0.5 * (k * np.log(2 * np.pi) + np.log(v).sum()))
    aic = -2 * ll + 2 * n_par
    bic = -2 * ll + n_par * np.log(n_eff)
    denom = max(n_eff, n_par + 2)
    aicc = -2 * ll + 2 * n_par * denom / (denom - n_par - 1)
    c0 = coefs[0]
    return MultilevelResult(
        k=k, p=p, n_clusters=nest.n_study, n_groups=nest.n_group, method=method, test=test,
        level=level, estimate=c0.estimate, se=c0.se, statistic=c0.statistic,
        p_value=c0.p_value, ci_lower=c0.ci_lower, ci_upper=c0.ci_upper, coefficients=coefs,
        df=float(dfree) if test == "t" else None,
        sigma2=(float(sigma2[0]), float(sigma2[1])), q=q, q_df=dfree, q_p_value=q_p, qm=qm,
        qm_df=qm_df, qm_p_value=qm_p, btt=tuple(btt), loglik=float(ll),
        deviance=float(deviance), aic=float(aic), bic=float(bic), aicc=float(aicc),
        evaluations=evaluations, vcov=vb, yi=y, vi=v, X=X, study=study, es=es, nesting=nest)
