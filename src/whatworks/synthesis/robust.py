"""Cluster-robust (sandwich) inference for meta-analytic models with dependent effect sizes.

For a weighted least-squares fit ``beta = M X'W y`` with ``M = (X'WX)^-1`` and residuals ``e``,
the cluster-robust covariance is ``V_R = M (sum_j X_j' W_j A_j e_j e_j' A_j' W_j X_j) M``.

* **CR2** (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018): ``A_j`` is chosen so that ``V_R`` is
  exactly unbiased when a working model ``Phi`` (here the fitted marginal covariance, with
  ``W = Phi^-1``) is true: ``A_j = F_j' B_j^-1/2 F_j`` with ``F_j'F_j = Phi_j`` and
  ``B_j = F_j (I - H)_j Phi (I - H)_j' F_j'``. Each coefficient is tested with a t statistic whose
  degrees of freedom come from a Satterthwaite approximation under the working model; groups of
  coefficients with the Hotelling T^2 approximation "HTZ" (Tipton & Pustejovsky 2015).
* **CR1** (metafor's ``robust()`` default): ``A_j = I`` and ``V_R`` scaled by ``m / (m - p)``
  for ``m`` clusters, with t and F tests on ``m - p`` degrees of freedom.

The Satterthwaite and HTZ degrees of freedom need ``p_i' Phi p_j`` for every pair of clusters.
With ``W = Phi^-1`` (or any block-diagonal ``W``), these are a diagonal matrix minus a matrix of
rank ``2p``, so the sums of squares reduce to ``p x p`` algebra: the cost is linear in the number
of clusters. Per-cluster matrix square roots are batched over clusters of equal size.

References
----------
Bell RM, McCaffrey DF (2002). Bias reduction in standard errors for linear regression with
    multi-stage samples. Survey Methodology 28:169-181.
Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance estimation and
    hypothesis testing in fixed effects models. Journal of Business & Economic Statistics
    36:672-683.
Tipton E (2015). Small sample adjustments for robust variance estimation with meta-regression.
    Psychological Methods 20:375-393.
Tipton E, Pustejovsky JE (2015). Small-sample adjustments for tests of moderators and model fit
    using robust variance estimation in meta-regression. Journal of Educational and Behavioral
    Statistics 40:604-634.
Hedges LV, Tipton E, Johnson MC (2010). Robust variance estimation in meta-regression with
    dependent effect size estimates. Research Synthesis Methods 1:39-65.
Reference implementations tested against: clubSandwich 0.5.8 ``coef_test``, ``conf_int``,
``Wald_test(test = "HTZ")``; metafor 3.8 ``robust()`` (tests/reference/make_dependent.R).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._results import FrozenResult, fmt, fmt_p
from ..errors import InputError, ParameterError
from .multilevel import MultilevelResult, factorize, label_array

ADJUSTMENTS = ("CR2", "CR1", "CR0")

Blocks = Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------------------------
# working covariance: diagonal, dense, or a function returning blocks
# ----------------------------------------------------------------------------------------------

def _as_blocks(V, k: int, name: str) -> Blocks:
    """A function ``rows (m, n) -> V[rows][:, rows] (m, n, n)`` from a vector, matrix or function."""
    if callable(V):
        return V
    arr = np.asarray(V, dtype=float)
    if arr.ndim == 1:
        if arr.size != k:
            raise InputError(f"{name} has {arr.size} values but there are {k} effect sizes",
                             column=name)

        def diagonal(rows: np.ndarray) -> np.ndarray:
            m, n = rows.shape
            out = np.zeros((m, n, n))
            idx = np.arange(n)
            out[:, idx, idx] = arr[rows]
            return out
        return diagonal
    if arr.shape != (k, k):
        raise InputError(f"{name} must be a vector of {k} variances or a {k} x {k} matrix",
                         column=name)
    return lambda rows: arr[rows[:, :, None], rows[:, None, :]]


def _by_size(codes: np.ndarray, n_clusters: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group clusters by size: a list of (cluster ids, row-index matrix (m, n))."""
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_clusters)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = []
    for n in np.unique(sizes):
        ids = np.flatnonzero(sizes == n)
        rows = order[starts[ids][:, None] + np.arange(n)[None, :]]
        out.append((ids, rows))
    return out


def _inv_sqrt_psd(B: np.ndarray) -> np.ndarray:
    """Symmetric ``B^-1/2`` for a batch, with near-zero eigenvalues dropped (generalised inverse)."""
    vals, vecs = np.linalg.eigh(B)
    # relative 1e-12: eigenvalues that are zero in exact arithmetic (a cluster whose rows the
    # moderators fit exactly) come out near eps * max; B squares the condition of Phi_j, so
    # genuine eigenvalues 1e-10 * max occur (dat.lopez2019: vi ~ 1e-4 under sigma2 ~ 1.6)
    tol = 1e-12 * np.maximum(vals.max(axis=-1, keepdims=True), 0.0)
    f = np.where(vals > tol, 1.0 / np.sqrt(np.where(vals > tol, vals, 1.0)), 0.0)
    return np.einsum("mij,mj,mkj->mik", vecs, f, vecs)


# ----------------------------------------------------------------------------------------------
# the core: sandwich pieces per cluster
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sandwich:
    """The pieces of a cluster-robust fit that every test needs (arrays over clusters)."""

    beta: np.ndarray   # (p,)
    vcov: np.ndarray   # V_R
    # The rest is computed for the orthonormalised design Q = X R^-1 (better conditioned; CR2 is
    # invariant to it): a contrast c on beta is the contrast R^-T c on Q's coefficients.
    Rinv: np.ndarray   # R^-1
    M: np.ndarray      # (Q'WQ)^-1
    N: np.ndarray      # Q'W Phi W Q (= M^-1 when W = Phi^-1)
    h: np.ndarray      # (m, p): M X_j'W_j A_j e_j; vcov = sum h h'
    a: np.ndarray      # (m, p, p): X_j' G_j with G_j = A_j W_j X_j M
    b: np.ndarray      # (m, p, p): X_j' W_j Phi_j G_j
    s: np.ndarray      # (m, p, p): G_j' Phi_j G_j
    n_clusters: int
    k: int
    adjust: str


def sandwich(X: np.ndarray, y: np.ndarray, V, cluster, *, W=None, adjust: str = "CR2"
             ) -> Sandwich:
    """Fit ``beta`` by weighted least squares and compute the cluster-robust pieces.

    ``V`` is the working covariance ``Phi`` (a vector for a diagonal matrix, a ``k x k`` matrix,
    or a function of row-index arrays returning blocks); ``W`` the weight matrix in the same
    forms, by default ``Phi^-1``. ``V`` and ``W`` must be block-diagonal within ``cluster``.
    """
    if adjust not in ADJUSTMENTS:
        raise ParameterError("adjust", adjust, ", ".join(ADJUSTMENTS))
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float).ravel()
    k, p = X.shape
    if y.size != k:
        raise InputError(f"y has {y.size} values but X has {k} rows", column="yi")
    codes, m = factorize(cluster, "cluster", k)
    X, R = np.linalg.qr(X)
    Rinv = np.linalg.inv(R)
    phi = _as_blocks(V, k, "V")
    weights = None if W is None else _as_blocks(W, k, "W")
    groups = []
    XWX = np.zeros((p, p))
    XWy = np.zeros(p)
    for ids, rows in _by_size(codes, m):
        P = phi(rows)
        if not np.all(np.linalg.eigvalsh(P)[:, 0] > 0):
            raise InputError("the working covariance V is not positive definite within a "
                             "cluster; check the variances (they must be > 0)", column="V")
        Wb = np.linalg.inv(P) if weights is None else weights(rows)
        Xb, yb = X[rows], y[rows]
        WX = Wb @ Xb
        XWX += np.einsum("mip,miq->pq", Xb, WX)
        XWy += np.einsum("mip,mi->p", WX, yb)
        groups.append((ids, rows, P, Xb, WX))
    if m <= p:
        raise InputError(f"{m} clusters cannot support {p} coefficients in a cluster-robust "
                         "analysis; use fewer moderators", column="cluster")
    M = np.linalg.inv(XWX)
    M = (M + M.T) / 2
    beta = M @ XWy
    e = y - X @ beta
    N = np.zeros((p, p))
    if weights is not None:
        for _, _, P, _, WX in groups:
            N += np.einsum("mip,mij,mjq->pq", WX, P, WX)
    else:
        N = XWX
    h = np.empty((m, p))
    a = np.empty((m, p, p))
    b = np.empty((m, p, p))
    s = np.empty((m, p, p))
    for ids, rows, P, Xb, WX in groups:
        n = rows.shape[1]
        eb = e[rows]
        if adjust == "CR2":
            XMX = Xb @ M @ np.swapaxes(Xb, 1, 2)
            if weights is None:
                S = P - XMX                                  # (I - H)_j Phi (I - H)_j'
            else:
                PWX = P @ WX                                 # Phi_j W_j X_j
                S = (P - PWX @ M @ np.swapaxes(Xb, 1, 2) - Xb @ M @ np.swapaxes(PWX, 1, 2)
                     + Xb @ M @ N @ M @ np.swapaxes(Xb, 1, 2))
            L = np.linalg.cholesky(P)                        # F = L', F'F = Phi_j
            B = np.swapaxes(L, 1, 2) @ S @ L
            A = L @ _inv_sqrt_psd((B + np.swapaxes(B, 1, 2)) / 2) @ np.swapaxes(L, 1, 2)
        else:
            A = np.broadcast_to(np.eye(n), (len(ids), n, n))
        G = A @ WX @ M                                       # (m, n, p)
        h[ids] = np.einsum("mip,mi->mp", G, eb)
        a[ids] = np.swapaxes(Xb, 1, 2) @ G
        b[ids] = a[ids] if weights is None else np.swapaxes(WX, 1, 2) @ P @ G
        s[ids] = np.swapaxes(G, 1, 2) @ P @ G
    vcov = h.T @ h
    if adjust == "CR1":
        vcov = vcov * m / (m - p)
    vcov = Rinv @ vcov @ Rinv.T
    return Sandwich(Rinv @ beta, (vcov + vcov.T) / 2, Rinv, M, N, h, a, b, s, m, k, adjust)


def _gamma(sw: Sandwich) -> np.ndarray:
    """``Gamma`` with ``p_i' Phi p_j = delta_ij s_i - u_i' Gamma u_j`` for ``u = [a; b]``."""
    M, N = sw.M, sw.N
    p = M.shape[0]
    g = np.zeros((2 * p, 2 * p))
    g[:p, :p] = -M @ N @ M
    g[:p, p:] = M
    g[p:, :p] = M
    return g


def satterthwaite_df(sw: Sandwich, C: np.ndarray) -> np.ndarray:
    """Satterthwaite degrees of freedom of ``c' V_R c`` for each row ``c`` of ``C``.

    Under the working model, ``c' V_R c = sum_j (p_j' y)^2``; its mean is ``sum_i O_ii`` and half
    its variance ``sum_ij O_ij^2`` with ``O_ij = p_i' Phi p_j``, giving ``df = E^2 / sum O_ij^2``.
    """
    C = np.atleast_2d(C) @ sw.Rinv
    u = np.concatenate([np.einsum("mpq,rq->mrp", sw.a, C),
                        np.einsum("mpq,rq->mrp", sw.b, C)], axis=2)     # (m, r, 2p)
    s = np.einsum("rp,mpq,rq->mr", C, sw.s, C)                          # (m, r)
    g = _gamma(sw)
    ugu = np.einsum("mri,ij,mrj->mr", u, g, u)
    Q = np.einsum("mri,mrj->rij", u, u)
    mean = s.sum(axis=0) - ugu.sum(axis=0)
    sq = (s ** 2).sum(axis=0) - 2 * (s * ugu).sum(axis=0) + np.einsum(
        "ij,rjk,kl,rli->r", g, Q, g, Q)
    return mean ** 2 / sq


def htz_df(sw: Sandwich, C: np.ndarray) -> float:
    """The Hotelling T^2 degrees of freedom ``eta`` for the constraints ``C beta = 0``.

    ``C V_R C'`` is standardised by its expectation ``Omega`` under the working model and matched
    to a Wishart distribution on total variance (Tipton & Pustejovsky 2015; Pustejovsky & Tipton
    2018): ``eta = q (q + 1) / sum_ij [tr(O_ij)^2 + tr(O_ij O_ij)]`` with ``O_ij`` the ``q x q``
    covariances of cluster ``i``'s and ``j``'s standardised contributions. ``Omega`` is the
    model-based ``C M X'W Phi W X M C'`` unless a cluster's adjustment matrix was rank-deficient.
    """
    C = np.atleast_2d(C) @ sw.Rinv
    q = C.shape[0]
    g = _gamma(sw)

    def pieces(K):
        U = np.concatenate([sw.a @ K, sw.b @ K], axis=1)                # (m, 2p, q)
        S = np.einsum("ps,mpq,qt->mst", K, sw.s, K)                     # (m, q, q)
        UGU = np.einsum("mis,ij,mjt->mst", U, g, U)                     # (m, q, q)
        return U, S, UGU

    _, S, UGU = pieces(C.T)
    omega = (S - UGU).sum(axis=0)                                       # E[C V_R C']
    vals, vecs = np.linalg.eigh((omega + omega.T) / 2)
    U, S, UGU = pieces(C.T @ (vecs / np.sqrt(vals)) @ vecs.T)
    Q = np.einsum("mis,mjt->stij", U, U)                                # (q, q, 2p, 2p)
    tr_s = np.einsum("mss->m", S)
    tr_ugu = np.einsum("mss->m", UGU)
    trace_sq = (tr_s ** 2).sum() - 2 * (tr_s * tr_ugu).sum() + np.einsum(
        "tsij,jk,stkl,li->", Q, g, Q, g)
    trace_prod = (S * S).sum() - 2 * (S * UGU).sum() + np.einsum(
        "tsij,jk,tskl,li->", Q, g, Q, g)
    return float(q * (q + 1) / (trace_sq + trace_prod))


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class RobustCoefficient(FrozenResult):
    """One coefficient with its cluster-robust standard error, t test and confidence interval."""

    name: str
    estimate: float
    se: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True, repr=False)
class WaldTest(FrozenResult):
    """A cluster-robust F test of ``C beta = 0`` (HTZ for CR2; naive F on m - p df for CR1)."""

    coefficients: tuple[str, ...]
    q: int
    statistic: float   # the F statistic (for HTZ: scaled by (eta - q + 1) / eta)
    df_num: float
    df_denom: float
    p_value: float
    test: str
    q_statistic: float  # the unscaled Wald statistic (C b)' (C V_R C')^-1 (C b)

    def summary_text(self) -> str:
        return (f"{self.test} test of {', '.join(self.coefficients)}: F({self.df_num:g}, "
                f"{fmt(self.df_denom)}) = {fmt(self.statistic)}, p = {fmt_p(self.p_value)}")


@dataclass(frozen=True, repr=False)
class RobustResult(FrozenResult):
    """Cluster-robust tests of a fitted model's coefficients.

    ``estimate`` .. ``ci_upper`` describe the first coefficient; ``coefficients`` lists them all.
    ``moderators`` is the omnibus test of all coefficients but the intercept (None without).
    """

    adjust: str
    n_clusters: int
    k: int
    level: float
    estimate: float
    se: float
    statistic: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    coefficients: tuple[RobustCoefficient, ...]
    moderators: WaldTest | None
    vcov: np.ndarray = field(repr=False, compare=False)
    sandwich: Sandwich = field(repr=False, compare=False)

    _skip_in_dict = ("vcov", "sandwich")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coefficients)

    def wald_test(self, coefficients) -> WaldTest:
        """Test that the named (or indexed) coefficients are all zero."""
        idx = [self.names.index(c) if isinstance(c, str) else int(c) for c in coefficients]
        return wald_test(self.sandwich, idx, self.names)

    @property
    def note(self) -> str | None:
        """Why some coefficients' tests mean nothing: a cluster-robust standard error of 0 (every
        cluster's residuals are 0, e.g. all effects equal) gives an infinite t, p = 0 and an
        interval of one point, which are artefacts, not evidence. None when every SE is positive."""
        zero = [c.name for c in self.coefficients if not c.se > 0]
        if not zero:
            return None
        return (f"the cluster-robust standard error of {', '.join(zero)} is 0: the residuals "
                "are 0 in every cluster (the effects agree exactly), so its t statistic, p value "
                "and interval carry no information; report the model-based standard error, or "
                "more studies")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "note": self.note}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.to_dict() for c in self.coefficients]).set_index("name").astype(float)

    def summary_text(self) -> str:
        how = ("CR2 with Satterthwaite degrees of freedom" if self.adjust == "CR2" else
               f"{self.adjust} with m - p degrees of freedom")
        lines = [f"Cluster-robust inference ({how}; k = {self.k} in {self.n_clusters} clusters)",
                 "", self.to_frame().to_string(float_format=lambda x: fmt(x))]
        if self.moderators is not None:
            lines += ["", self.moderators.summary_text()]
        if self.note:
            lines += ["", f"note: {self.note}"]
        return "\n".join(lines)


def wald_test(sw: Sandwich, idx, names=None) -> WaldTest:
    """Cluster-robust test that the coefficients ``idx`` are all zero."""
    p = sw.beta.size
    idx = [int(j) for j in idx]
    if not idx or min(idx) < 0 or max(idx) >= p:
        raise ParameterError("coefficients", idx, f"indices between 0 and {p - 1} or names")
    names = names or tuple(f"b{j}" for j in range(p))
    C = np.eye(p)[idx]
    q = len(idx)
    cb = C @ sw.beta
    qstat = float(cb @ np.linalg.solve(C @ sw.vcov @ C.T, cb))
    if sw.adjust == "CR2":
        eta = htz_df(sw, C)
        df2 = eta - q + 1
        F = qstat * df2 / (eta * q)
        test = "HTZ"
    else:
        df2 = float(sw.n_clusters - p)
        F = qstat / q
        test = "F"
    pval = float(stats.f.sf(F, q, df2)) if df2 > 0 else float("nan")
    return WaldTest(tuple(names[j] for j in idx), q, float(F), float(q), float(df2), pval, test,
                    qstat)


def coef_test(sw: Sandwich, names, *, level: float = 95, btt=None) -> RobustResult:
    """t tests and confidence intervals for each coefficient, and the omnibus moderator test."""
    p = sw.beta.size
    se = np.sqrt(np.diag(sw.vcov))
    with np.errstate(divide="ignore", invalid="ignore"):  # se = 0: t (and p) nan or inf, as numpy gives
        t = sw.beta / se
    if sw.adjust == "CR2":
        df = satterthwaite_df(sw, np.eye(p))
    else:
        df = np.full(p, float(sw.n_clusters - p))
    pval = 2 * stats.t.sf(np.abs(t), df)
    crit = stats.t.ppf(1 - (1 - level / 100) / 2, df)
    coefs = tuple(RobustCoefficient(names[j], float(sw.beta[j]), float(se[j]), float(t[j]),
                                    float(df[j]), float(pval[j]), float(sw.beta[j] - crit[j] * se[j]),
                                    float(sw.beta[j] + crit[j] * se[j])) for j in range(p))
    moderators = wald_test(sw, btt, names) if btt else None
    c0 = coefs[0]
    return RobustResult(sw.adjust, sw.n_clusters, sw.k, level,
                        c0.estimate, c0.se, c0.statistic, c0.df, c0.p_value, c0.ci_lower,
                        c0.ci_upper, coefs, moderators, sw.vcov, sw)


def cr2_coef_test(X, y, V, cluster, *, W=None, names=None, level: float = 95,
                  adjust: str = "CR2", btt=None) -> RobustResult:
    """Cluster-robust t tests of weighted least-squares coefficients (arrays in, result out).

    ``V`` is the working covariance (a vector of variances, a ``k x k`` matrix or a block
    function); the weights are ``V^-1`` unless ``W`` is given. ``btt`` lists the coefficients of
    the omnibus (HTZ) test. See the module docstring for the method and references.
    """
    if not 0 < level < 100:
        raise ParameterError("level", level, "a confidence level between 0 and 100, such as 95")
    sw = sandwich(X, y, V, cluster, W=W, adjust=adjust)
    p = sw.beta.size
    names = tuple(names) if names is not None else tuple(f"b{j}" for j in range(p))
    return coef_test(sw, names, level=level, btt=btt)


def robust(fit, cluster=None, *, adjust: str = "CR2", level: float = 95) -> RobustResult:
    """Cluster-robust inference for a fitted model.

    ``fit`` is a :class:`MultilevelResult` (working model: its fitted marginal covariance,
    including a block ``V`` such as the CHE model's; ``cluster`` defaults to the outermost level
    of its first random term) or a univariate fit exposing ``X``, ``yi``, ``vi`` and
    ``tau2`` (such as :class:`whatworks.synthesis.MetaAnalysis`; working model
    ``diag(vi + tau2)``), for which ``cluster`` is required. ``adjust`` is "CR2" (clubSandwich's
    default, Satterthwaite df, HTZ test) or "CR1" (metafor's ``robust()`` default, df = m - p).

    References
    ----------
    Pustejovsky JE, Tipton E (2018). J Bus Econ Stat 36:672-683. Tipton E, Pustejovsky JE (2015).
    J Educ Behav Stat 40:604-634. Tested against clubSandwich 0.5.8 and metafor 3.8 ``robust()``.
    """
    if isinstance(fit, MultilevelResult):
        k = fit.k
        cluster = fit.cluster if cluster is None else label_array(cluster)
        if len(cluster) != k:
            raise InputError(f"cluster has {len(cluster)} labels but the model has {k} effect "
                             "sizes", column="cluster")
        codes, _ = factorize(cluster, "cluster", k)
        # every block of the fitted covariance (a study, or rows linked by crossed random effects
        # or by V) must sit inside one cluster, or the working model is not block-diagonal by
        # cluster (clubSandwich refuses the same way)
        per_block = pd.Series(codes).groupby(fit.components).nunique()
        if (per_block > 1).any():
            raise InputError("a study's effect sizes (or effect sizes linked by crossed random "
                             "effects or by V) fall in more than one cluster; clusters must "
                             "contain whole studies (use the outermost random-effect level, or "
                             "coarser labels)", column="cluster")
        V = fit.fitted_covariance_blocks
        X, y, names, btt = fit.X, fit.yi, fit.names, list(fit.btt) if fit.p > 1 else None
    else:
        try:
            X, y, v, tau2 = fit.X, fit.yi, fit.vi, fit.tau2
        except AttributeError:
            raise ParameterError("fit", type(fit).__name__,
                                 "a MultilevelResult or a fit with X, yi, vi and tau2") from None
        if cluster is None:
            raise InputError("give the cluster (study) of each effect size", column="cluster")
        V = np.asarray(v, dtype=float) + float(tau2)
        coefs = getattr(fit, "coefficients", None)
        names = tuple(c.name for c in coefs) if coefs else None
        p = np.asarray(X).shape[1]
        btt = list(range(1, p)) if p > 1 else None
    return cr2_coef_test(X, y, V, cluster, names=names, level=level, adjust=adjust, btt=btt)
