"""Multilevel random-effects meta-analysis (metafor's ``rma.mv`` with random intercepts).

:func:`multilevel` fits any nested (``A/B/C``) and crossed random intercepts with a diagonal or
block-diagonal sampling covariance (:mod:`.varcomp` holds that general algebra). The common case,
two nested levels with diagonal ``vi``, uses the specialised algebra below.

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
study/es)`` (tests/reference/make_dependent.R) and ``rma.mv(yi, V, random = ...)``
(tests/reference/make_random.R).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats

from .._results import FrozenResult, fmt, fmt_p
from ..errors import InputError, ParameterError, WhatWorksWarning
from . import varcomp
from .covariance import BlockCovariance
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
    if start is None:
        total = max(float(np.mean(resid ** 2) - np.mean(v)), 0.1 * scale)
        x0 = np.array([total / 2, total / 2]) / scale
    else:
        x0 = np.maximum(np.asarray(start, dtype=float), 0.0) / scale
    # the bounded maximiser shared with the general engine (L-BFGS-B, then an active-set Newton polish)
    return varcomp.maximise(
        lambda s2: _evaluate(nest, X, y, v, s2[0], s2[1], reml, logdet_xx), 2, scale, x0, reml=reml,
        k=k, tol=tol, max_iter=max_iter,
        hint="; check for studies with extreme effects or variances, or give start values with "
             "start=(sigma2_between, sigma2_within)")


# the result and the user-facing function
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class MultilevelResult(FrozenResult):
    """A fitted multilevel (variance-components) random-effects model.

    ``estimate`` .. ``ci_upper`` describe the first coefficient (the pooled effect in an
    intercept-only model); ``coefficients`` lists them all. ``sigma2`` holds one variance per
    component of ``random`` in that order (metafor's ``sigma2``): for ``random=["study/es"]``
    (between studies, within studies). ``s_nlevels`` counts each component's levels.
    ``qm`` is a chi-square statistic for test="z" and an F statistic for "t".
    ``sampling_covariance`` is "diagonal" (``vi``) or "block" (a ``V`` such as the CHE model's).
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
    sigma2: tuple[float, ...]
    random: tuple[str, ...]
    s_nlevels: tuple[int, ...]
    sampling_covariance: str
    algorithm: str
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
    V: BlockCovariance = field(repr=False, compare=False)
    codes: tuple[np.ndarray, ...] = field(repr=False, compare=False)
    components: np.ndarray = field(repr=False, compare=False)
    cluster: np.ndarray = field(repr=False, compare=False)

    _skip_in_dict = ("vcov", "yi", "vi", "X", "V", "codes", "components", "cluster")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coefficients)

    @property
    def beta(self) -> np.ndarray:
        return np.array([c.estimate for c in self.coefficients])

    @property
    def study(self) -> np.ndarray:
        """The labels of the outermost level of the first random term (the default cluster)."""
        return self.cluster

    @property
    def fitted_covariance_blocks(self):
        """A function ``rows -> Sigma[rows][:, rows]`` for arrays of row indices ``(m, n)``."""
        V, codes, sigma2 = self.V, self.codes, self.sigma2

        def blocks(rows: np.ndarray) -> np.ndarray:
            out = V.submatrix(rows)
            for s, c in zip(sigma2, codes, strict=True):
                g = c[rows]
                out = out + s * (g[:, :, None] == g[:, None, :])
            return out
        return blocks

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return pd.DataFrame([c.to_dict() for c in self.coefficients]).set_index("name")

    def summary_text(self) -> str:
        v = "block-diagonal V" if self.sampling_covariance == "block" else "vi"
        lines = [f"Multilevel random-effects model (k = {self.k}; sampling covariance: {v}; "
                 f"method: {self.method}; test: {self.test})", ""]
        for name, s, n in zip(self.random, self.sigma2, self.s_nlevels, strict=True):
            lines.append(f"sigma^2 ~ 1 | {name}: {fmt(s)}  ({n} levels)")
        lines += [f"logLik = {fmt(self.loglik)}   AIC = {fmt(self.aic)}   BIC = {fmt(self.bic)}",
                  f"Q({self.q_df}) = {fmt(self.q)}, p = {fmt_p(self.q_p_value)}"]
        if self.p > 1:
            lines.append(f"Test of moderators: QM{self.qm_df} = {fmt(self.qm)}, "
                         f"p = {fmt_p(self.qm_p_value)}")
        lines += ["", self.to_frame().to_string(float_format=lambda x: fmt(x))]
        return "\n".join(lines)


def covariance_blocks(nest: Nesting, v: np.ndarray, s1: float, s2: float):
    """Dense blocks of the two-level marginal covariance for row-index arrays ``(m, n)``."""
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


def _moderators(mods, data, intercept, k):
    if isinstance(mods, str):
        mods = [mods]
    if isinstance(mods, (list, tuple)) and mods and all(isinstance(m, str) for m in mods):
        if data is None:
            raise InputError("moderators are named as columns but no data was given", column="mods")
        mods = data[list(mods)]
    X, names = design_matrix(mods, intercept=intercept, k=k)
    if X.shape[0] != k:
        raise InputError(f"the moderators have {X.shape[0]} rows but yi has {k}", column="mods")
    return X, names


def _check_design(X, names):
    k, p = X.shape
    if k <= p:
        raise InputError(f"{p} coefficients cannot be estimated from {k} effect sizes; use fewer "
                         "moderators", column="mods")
    if np.linalg.matrix_rank(X) < p:
        raise InputError("the moderators are collinear (one is a combination of the others): "
                         f"drop one of {', '.join(names[1:] if len(names) > 1 else names)}",
                         column="mods")


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
    X, names = _moderators(mods, data, intercept, k)
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
    _check_design(X, names)
    return y, v, X, names, study, es


def parse_random(random) -> list[tuple[str, ...]]:
    """metafor's random terms as column paths: ``"A/B"`` or ``"~ 1 | A/B"`` -> ``("A", "B")``."""
    if isinstance(random, str):
        random = [random]
    terms = []
    for term in random:
        text = str(term).strip()
        if "|" in text:
            lhs, text = text.split("|", 1)
            if lhs.replace(" ", "") not in ("~1", "1"):
                raise ParameterError("random", term, "random intercepts such as 'study', "
                                     "'study/es' or '~ 1 | study/es'")
        parts = tuple(x.strip() for x in text.split("/"))
        if not parts or any(not x for x in parts):
            raise ParameterError("random", term, "column names separated by '/', such as "
                                 "'study/es'")
        terms.append(parts)
    if not terms:
        raise ParameterError("random", random, "at least one term, such as ['study/es']")
    return terms


def _sampling(vi, V, y_size):
    """The sampling covariance as a BlockCovariance (from vi or V) and its kind."""
    if V is None:
        if vi is None:
            raise InputError("give the sampling variances vi or a sampling covariance V",
                             column="vi")
        return None, "diagonal"
    if vi is not None:
        raise InputError("give either vi or V, not both (V already holds the variances on its "
                         "diagonal)", column="V")
    if not isinstance(V, BlockCovariance):
        arr = V if sparse.issparse(V) else np.asarray(V, dtype=float)
        if not sparse.issparse(arr) and arr.ndim == 1:
            V = BlockCovariance.diagonal(arr)
        else:
            V = BlockCovariance.from_matrix(arr)
    if V.k != y_size:
        raise InputError(f"V is {V.k} x {V.k} but there are {y_size} effect sizes", column="V")
    return V, ("diagonal" if V.is_diagonal else "block")


def multilevel(yi, vi=None, *, V=None, study=None, es=None, random=None, mods=None,
               data: pd.DataFrame | None = None, method: str = "REML", test: str = "z",
               level: float = 95, intercept: bool = True, btt=None,
               start=None) -> MultilevelResult:
    """Fit a multilevel random-effects model (metafor's ``rma.mv`` with random intercepts).

    Parameters
    ----------
    yi : effect sizes (array, or a column name in ``data``).
    vi : sampling variances (array or column name); or give ``V`` instead.
    V : a block-diagonal sampling covariance: a :class:`~whatworks.synthesis.covariance.
        BlockCovariance` (such as ``constant_correlation(vi, study, rho)``, the CHE working
        model), or a ``k x k`` dense or sparse matrix (split into its connected blocks).
    random : metafor's random terms as strings naming columns of ``data``: ``"study"`` is
        ``~ 1 | study`` (one variance component); ``"study/es"`` nests es in study (components
        study and study/es); ``"A/B/C"`` three levels; several strings are crossed terms, e.g.
        ``["study", "species"]``. ``sigma2`` follows this order, nesting expanded outer first.
    study, es : the older spelling of ``random=["study/es"]``; ``es`` defaults to one level per
        row (so ``study=`` alone fits two components, study and row within study). Labels can
        be arrays or column names.
    mods : moderators (DataFrame, column names in ``data`` or an array); the intercept comes first.
    method : "REML" (default) or "ML".
    test : "z" (normal) or "t" (t and F distributions with k - p degrees of freedom).
    btt : indices of the coefficients in the omnibus test (default: all but the intercept).
    start : optional start values for ``sigma2`` (in its order).

    Notes
    -----
    Rows with a missing effect, variance, moderator or label are left out with a warning (with a
    block ``V``, their rows and columns of ``V`` go too). For cluster-robust (CR2) inference pass
    the result to :func:`whatworks.synthesis.robust`; :func:`whatworks.synthesis.che` does both.

    References
    ----------
    Konstantopoulos S (2011). Research Synthesis Methods 2:61-76. Van den Noortgate W et al.
    (2013). Behavior Research Methods 45:576-594. Pustejovsky JE, Tipton E (2022). Prevention
    Science 23:425-438 (the CHE working model). Tested against metafor 3.8 ``rma.mv``
    (tests/reference/make_dependent.R, make_random.R).
    """
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ParameterError("method", method, ", ".join(METHODS) + " (in any case)")
    if not isinstance(test, str) or test.lower() not in TESTS:
        raise ParameterError("test", test, ", ".join(TESTS) + " (in any case)")
    method, test = method.upper(), test.lower()
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100, such as 95")
    if random is not None and (study is not None or es is not None):
        raise InputError("give either random=[...] or study=/es=, not both", column="random")
    y = _numeric(_column(yi, data, "yi"), "yi")
    k = y.size
    Vb, kind = _sampling(None if vi is None else _numeric(_column(vi, data, "vi"), "vi"), V, k)
    if Vb is None:
        v = _numeric(_column(vi, data, "vi"), "vi")
        if v.size != k:
            raise InputError(f"yi has {k} values but vi has {v.size}", column="vi")
        bad = np.flatnonzero(v <= 0)
        if bad.size:
            raise InputError(f"sampling variance {v[bad[0]]:g} is not positive; the multilevel "
                             "model needs variances > 0", row=int(bad[0]) + 1, column="vi")
    else:
        v = Vb.diag()
    # the random terms -> label columns
    if random is None:
        if study is None:
            raise InputError("give the random effects, e.g. random=['study/es'] (or study=)",
                             column="random")
        labels = {"study": label_array(_column(study, data, "study")),
                  "es": (np.arange(k).astype(object) if es is None
                         else label_array(_column(es, data, "es")))}
        terms = [("study", "es")]
    else:
        terms = parse_random(random)
        if data is None:
            raise InputError("random names columns, so give data= (a DataFrame)", column="random")
        labels = {}
        for term in terms:
            for col in term:
                if col not in labels:
                    labels[col] = label_array(_column(col, data, col))
    for col, arr in labels.items():
        if arr.size != k:
            raise InputError(f"{col} has {arr.size} labels but there are {k} effect sizes",
                             column=col)
    X, names = _moderators(mods, data, intercept, k)
    keep = np.isfinite(y) & np.isfinite(v) & np.isfinite(X).all(axis=1)
    for arr in labels.values():
        keep &= ~pd.isna(pd.Series(arr)).to_numpy()
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} effect sizes with missing values were left out",
                      WhatWorksWarning, stacklevel=2)
        y, v, X = y[keep], v[keep], X[keep]
        labels = {c: a[keep] for c, a in labels.items()}
        if Vb is not None:
            Vb = Vb.subset(keep)
    _check_design(X, names)
    k, p = X.shape
    Vb = BlockCovariance.diagonal(v) if Vb is None else Vb
    # components: each term's nesting path, outer first
    col_codes = {c: factorize(a, c, k)[0] for c, a in labels.items()}
    comp_names, codes = [], []
    for term in terms:
        for j in range(1, len(term) + 1):
            path = term[:j]
            if len(path) == 1:
                c = col_codes[path[0]]
            else:
                c = pd.factorize(pd.MultiIndex.from_arrays([col_codes[x] for x in path]))[0]
            comp_names.append("/".join(path) if random is not None else
                              ("study" if j == 1 else "study/es"))
            codes.append(np.asarray(c, dtype=np.intp))
    n_levels = [int(c.max()) + 1 for c in codes]
    for a in range(len(codes)):
        for b in range(a + 1, len(codes)):
            if n_levels[a] == n_levels[b] and (
                    pd.crosstab(codes[a], codes[b]).astype(bool).sum(axis=1) == 1).all():
                warnings.warn(f"the components {comp_names[a]} and {comp_names[b]} group the effect "
                              "sizes identically, so the two variance components cannot be told "
                              "apart; only their sum is estimable. Drop one of them",
                              WhatWorksWarning, stacklevel=2)
    reml = method == "REML"
    Qx, Rx = np.linalg.qr(X)
    hint = ("; check for clusters with extreme effects or variances, or give start values with "
            "start=(...) in the order of sigma2")
    if kind == "diagonal" and len(codes) == 2 and len(terms) == 1:
        # two nested levels with diagonal V: the Sherman-Morrison algebra (a few vector passes)
        nest = Nesting.from_codes(codes[0], codes[1])
        sigma2, evaluations = fit_variance_components(nest, X, y, v, reml=reml, start=start)
        ev = _evaluate(nest, Qx, y, v, sigma2[0], sigma2[1], reml, 0.0, with_gradient=False)
        components, algorithm = nest.study, "nested"
    else:
        sigma2, evaluations, eng = varcomp.fit(Vb, codes, Qx, y, reml=reml, start=start, hint=hint,
                                               multistart=len(terms) > 1)
        ev = eng.evaluate(sigma2, reml, with_gradient=False)
        components, _ = varcomp.components(Vb, codes)
        algorithm = eng.name
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
    # residual heterogeneity: the common-effect (GLS) fit with weights V^-1
    W = Vb.inverse().to_sparse()
    WX = W @ X
    b_fe = np.linalg.solve(X.T @ WX, WX.T @ y)
    r = y - X @ b_fe
    q = float(r @ (W @ r))
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
    # fit statistics as metafor reports them (each variance component counted as a parameter)
    ll = ev.loglik
    n_par = p + len(codes)
    n_eff = k - p if reml else k
    if reml:
        deviance = -2 * ll
    else:
        deviance = -2 * (ll + 0.5 * (k * np.log(2 * np.pi) + Vb.logdet()))
    aic = -2 * ll + 2 * n_par
    bic = -2 * ll + n_par * np.log(n_eff)
    denom = max(n_eff, n_par + 2)
    aicc = -2 * ll + 2 * n_par * denom / (denom - n_par - 1)
    c0 = coefs[0]
    first = terms[0][0]
    return MultilevelResult(
        k=k, p=p, n_clusters=n_levels[0], n_groups=n_levels[len(terms[0]) - 1], method=method,
        test=test, level=level, estimate=c0.estimate, se=c0.se, statistic=c0.statistic,
        p_value=c0.p_value, ci_lower=c0.ci_lower, ci_upper=c0.ci_upper, coefficients=coefs,
        df=float(dfree) if test == "t" else None,
        sigma2=tuple(float(s) for s in sigma2), random=tuple(comp_names),
        s_nlevels=tuple(n_levels), sampling_covariance=kind, algorithm=algorithm,
        q=q, q_df=dfree, q_p_value=q_p, qm=qm,
        qm_df=qm_df, qm_p_value=qm_p, btt=tuple(btt), loglik=float(ll),
        deviance=float(deviance), aic=float(aic), bic=float(bic), aicc=float(aicc),
        evaluations=evaluations, vcov=vb, yi=y, vi=v, X=X, V=Vb, codes=tuple(codes),
        components=np.asarray(components), cluster=labels[first])


def default_btt(X: np.ndarray, intercept: bool) -> list[int]:
    """Coefficients in the omnibus test: all but an intercept column (as metafor chooses)."""
    p = X.shape[1]
    ones = [j for j in range(p) if np.all(X[:, j] == 1.0)]
    if p > 1 and (intercept or ones):
        drop = 0 if intercept else ones[0]
        return [j for j in range(p) if j != drop]
    return list(range(p))
