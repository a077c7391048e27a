"""Variance-components REML/ML for any nested and crossed random intercepts, any block ``V``.

The model is ``y = X beta + sum_r Z_r u_r + e`` with ``u_r ~ N(0, sigma2_r I)`` (one random
intercept per level of grouping ``r``) and ``e ~ N(0, V)``, ``V`` known and block-diagonal
(diagonal ``vi``, or the CHE covariance of :mod:`.covariance`). The marginal covariance is

    Sigma = V + sum_r sigma2_r Z_r Z_r'.

Two exact algorithms, chosen by the structure (never a dense ``k x k`` matrix):

* **blocked**: ``Sigma`` is block-diagonal by the connected components of the rows linked by a
  shared group or a shared ``V`` block (one component per top-level cluster when every term nests
  within it). Each block is factorised densely, batched over blocks of equal size.
* **sparse** (crossed terms that link most rows): Henderson's mixed-model form,
  ``Sigma^-1 = W - W Z L C^-1 L Z' W`` with ``W = V^-1``, ``L = diag(sigma)`` and
  ``C = I + L Z'WZ L`` factorised by sparse LU; ``log|Sigma| = log|V| + log|C|``.

Both give the log-likelihood (REML or ML, as metafor defines them), its analytic gradient
``d l / d sigma2_r = -tr(P Z_r Z_r')/2 + |Z_r' P y|^2 / 2`` and the GLS estimates. The optimiser
is L-BFGS-B on the bounded components, then Newton steps from differences of the analytic
gradient until the (projected) gradient vanishes.

References
----------
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to related
    problems. Journal of the American Statistical Association 72:320-338.
Henderson CR (1975). Best linear unbiased estimation and prediction under a selection model.
    Biometrics 31:423-447. (the mixed-model equations behind the sparse algorithm)
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting linear mixed-effects models using lme4.
    Journal of Statistical Software 67(1). (the ``I + L Z'WZ L`` parameterisation)
Reference implementation tested against: metafor 3.8 ``rma.mv`` (tests/reference/make_random.R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, sparse
from scipy.sparse import csgraph
from scipy.sparse import linalg as splinalg

from ..errors import ConvergenceError, InputError
from .covariance import BlockCovariance, size_groups

BLOCKED_MAX = 500  # largest block of Sigma factorised densely; beyond it the sparse algorithm


def indicator(codes: np.ndarray, n: int) -> sparse.csr_matrix:
    """The ``n x k`` 0/1 matrix whose product with a ``(k, r)`` array sums rows by code."""
    k = codes.size
    return sparse.csr_matrix((np.ones(k), (codes, np.arange(k))), shape=(n, k))


def components(V: BlockCovariance, codes: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Connected components of the rows linked by a shared group of any term or a ``V`` block."""
    k = V.k
    parts = [sparse.csr_matrix((np.ones(k), (np.arange(k), V.block)), shape=(k, V.n_blocks))]
    for c in codes:
        parts.append(sparse.csr_matrix((np.ones(k), (np.arange(k), c)), shape=(k, int(c.max()) + 1)))
    B = sparse.hstack(parts).tocsr()
    graph = sparse.bmat([[None, B], [B.T, None]]).tocsr()
    _, labels = csgraph.connected_components(graph, directed=False)
    comp = pd.factorize(labels[:k])[0].astype(np.intp)
    return comp, int(comp.max()) + 1


@dataclass
class Evaluation:
    loglik: float
    gradient: np.ndarray
    beta: np.ndarray
    vb: np.ndarray


class _Blocked:
    """Dense algebra per block of ``Sigma`` (blocks grouped by size)."""

    name = "blocked"

    def __init__(self, V: BlockCovariance, codes, comp, n_comp, X, y):
        self.Z = [indicator(c, int(c.max()) + 1) for c in codes]
        self.k, self.p = X.shape
        self.X, self.y = X, y
        M = np.column_stack([X, y])
        self.groups = []
        for _, rows in size_groups(comp, n_comp):
            Vb = V.submatrix(rows)
            # E[r, b] = 1 where two rows of block b share a group of component r
            E = np.stack([(c[rows][:, :, None] == c[rows][:, None, :]) for c in codes]
                         ).astype(float)
            self.groups.append((rows, Vb, E, M[rows]))

    def evaluate(self, s2, reml: bool, with_gradient: bool = True) -> Evaluation:
        k, p = self.k, self.p
        s2 = np.asarray(s2, dtype=float)
        MSM = np.zeros((p + 1, p + 1))
        logdet = 0.0
        keep = []
        for rows, Vb, E, Mb in self.groups:
            S = Vb + np.tensordot(s2, E, axes=1)
            if rows.shape[1] == 1:
                if np.any(S[:, 0, 0] <= 0):
                    raise InputError("the marginal covariance is not positive definite")
                logdet += float(np.log(S[:, 0, 0]).sum())
                Si = 1.0 / S
            else:
                try:
                    L = np.linalg.cholesky(S)
                except np.linalg.LinAlgError:
                    raise InputError("the marginal covariance is not positive definite") from None
                logdet += 2.0 * float(np.log(np.diagonal(L, axis1=1, axis2=2)).sum())
                Si = np.linalg.inv(S)
            SM = Si @ Mb
            MSM += np.einsum("mip,miq->pq", Mb, SM)
            keep.append((rows, Si, SM, E))
        beta, vb, logdet_h = _gls(MSM, p)
        SX = np.empty((k, p))
        Pr = np.empty(k)
        trace = np.zeros(len(s2))
        for rows, Si, SM, E in keep:
            SX[rows] = SM[:, :, :p]
            Pr[rows] = SM[:, :, p] - SM[:, :, :p] @ beta
            if with_gradient:
                trace += np.einsum("mij,rmij->r", Si, E)
        rss = float((self.y - self.X @ beta) @ Pr)
        ll = _loglik(k, p, logdet, logdet_h, rss, reml)
        grad = np.full(len(s2), np.nan)
        if with_gradient:
            for r, Z in enumerate(self.Z):
                u = Z @ Pr
                grad[r] = -0.5 * trace[r] + 0.5 * float(u @ u)
                if reml:
                    B = Z @ SX
                    grad[r] += 0.5 * float(np.einsum("ij,ij->", B @ vb, B))
        return Evaluation(ll, grad, beta, vb)


class _Sparse:
    """Henderson's form with a sparse LU factorisation of ``C = I + L Z'WZ L``."""

    name = "sparse"

    def __init__(self, V: BlockCovariance, codes, X, y):
        self.k, self.p = X.shape
        self.sizes = [int(c.max()) + 1 for c in codes]
        self.Z = sparse.hstack([indicator(c, n).T for c, n in zip(codes, self.sizes, strict=True)]).tocsc()
        self.W = V.inverse().to_sparse()
        self.logdet_v = V.logdet()
        self.M = np.column_stack([X, y])
        self.WM = self.W @ self.M
        self.MWM = self.M.T @ self.WM
        self.ZW = (self.Z.T @ self.W).tocsr()               # q x k
        self.K = (self.ZW @ self.Z).tocsc()                 # Z'WZ
        self.ZWM = self.ZW @ self.M
        self.which = np.repeat(np.arange(len(codes)), self.sizes)

    def evaluate(self, s2, reml: bool, with_gradient: bool = True) -> Evaluation:
        k, p = self.k, self.p
        q = self.Z.shape[1]
        lam = np.sqrt(np.asarray(s2, dtype=float))[self.which]
        Lm = sparse.diags(lam)
        C = (sparse.identity(q, format="csc") + Lm @ self.K @ Lm).tocsc()
        lu = splinalg.splu(C, permc_spec="MMD_AT_PLUS_A")
        logdet = self.logdet_v + float(np.log(np.abs(lu.U.diagonal())).sum())
        T = lam[:, None] * self.ZWM
        MSM = self.MWM - T.T @ lu.solve(T)
        beta, vb, logdet_h = _gls(MSM, p)
        Wr = self.WM[:, p] - self.WM[:, :p] @ beta
        Pr = Wr - self.W @ (self.Z @ (lam * lu.solve(lam * (self.ZW @ self.M[:, p]
                                                              - self.ZW @ self.M[:, :p] @ beta))))
        rss = float((self.M[:, p] - self.M[:, :p] @ beta) @ Pr)
        ll = _loglik(k, p, logdet, logdet_h, rss, reml)
        grad = np.full(len(s2), np.nan)
        if with_gradient:
            SX = self.WM[:, :p] - self.W @ (self.Z @ (lam[:, None] * lu.solve(T[:, :p])))
            u_all = self.Z.T @ Pr
            B_all = self.Z.T @ SX
            LK = (Lm @ self.K).tocsc()
            start = 0
            for r, n in enumerate(self.sizes):
                sl = slice(start, start + n)
                start += n
                trace = float(self.K[sl, sl].diagonal().sum())
                for a in range(sl.start, sl.stop, 256):
                    b = min(a + 256, sl.stop)
                    R = LK[:, a:b].toarray()
                    trace -= float(np.einsum("ij,ij->", R, lu.solve(R)))
                u = u_all[sl]
                grad[r] = -0.5 * trace + 0.5 * float(u @ u)
                if reml:
                    B = B_all[sl]
                    grad[r] += 0.5 * float(np.einsum("ij,ij->", B @ vb, B))
        return Evaluation(ll, grad, beta, vb)


def _gls(MSM: np.ndarray, p: int):
    H = MSM[:p, :p]
    try:
        cho = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        raise InputError("X' V^-1 X is singular: the moderators are collinear") from None
    vb = np.linalg.inv(H)
    vb = (vb + vb.T) / 2
    beta = vb @ MSM[:p, p]
    return beta, vb, 2.0 * float(np.log(np.diag(cho)).sum())


def _loglik(k, p, logdet, logdet_h, rss, reml):
    if reml:
        return -0.5 * ((k - p) * np.log(2 * np.pi) + logdet + logdet_h + rss)
    return -0.5 * (k * np.log(2 * np.pi) + logdet + rss)


def engine(V: BlockCovariance, codes: list[np.ndarray], X, y, algorithm: str = "auto"):
    """The algebra for this structure: ``blocked`` unless a block of Sigma is too large."""
    if algorithm == "sparse":
        return _Sparse(V, codes, X, y)
    comp, n_comp = components(V, codes)
    if algorithm == "auto" and np.bincount(comp).max() > BLOCKED_MAX:
        return _Sparse(V, codes, X, y)
    return _Blocked(V, codes, comp, n_comp, X, y)


def maximise(ev_fn, m: int, scale: float, x0: np.ndarray, *, reml: bool, k: int,
             tol: float = 1e-6, max_iter: int = 1000, hint: str = "") -> tuple[np.ndarray, int]:
    """Maximise a likelihood over ``m`` bounded components given ``ev_fn(s2) -> Evaluation``.

    Works on ``x = s2 / scale``; ``x0`` is one start or several (rows): L-BFGS-B runs from each
    and the best end point is polished. Returns the estimates and the number of evaluations; raises
    ConvergenceError when the projected gradient does not vanish.
    """
    evaluations = 0

    def negative(x):
        nonlocal evaluations
        evaluations += 1
        ev = ev_fn(x * scale)
        return -ev.loglik, -ev.gradient * scale

    best = None
    for start in np.atleast_2d(x0):
        res = optimize.minimize(negative, start, jac=True, method="L-BFGS-B",
                                bounds=[(0.0, None)] * m,
                                options=dict(maxiter=max_iter, ftol=1e-15, gtol=1e-12, maxcor=20))
        if best is None or res.fun < best.fun:
            best = res
    x = np.maximum(best.x, 0.0)
    for _ in range(100):
        f0, g = negative(x)
        free = ~((x <= 0.0) & (g >= 0.0))
        if not free.any():
            break
        h = 1e-6 * np.maximum(x, 1e-3)
        Hm = np.empty((m, m))
        for j in range(m):
            e = np.zeros(m)
            e[j] = h[j]
            lo = np.maximum(x - e, 0.0)
            hi = x + e
            Hm[:, j] = (negative(hi)[1] - negative(lo)[1]) / (hi[j] - lo[j])
        Hm = (Hm + Hm.T) / 2
        idx = np.flatnonzero(free)
        Hf = Hm[np.ix_(idx, idx)]
        if np.any(np.linalg.eigvalsh(Hf) <= 0):
            break
        step = np.zeros(m)
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
            f"converge (gradient {projected.tolist()}){hint}")
    return x * scale, evaluations


def fit(V: BlockCovariance, codes: list[np.ndarray], X: np.ndarray, y: np.ndarray, *,
        reml: bool = True, start=None, algorithm: str = "auto", hint: str = "",
        multistart: bool = True):
    """Estimate the variance components; returns ``(sigma2, evaluations, engine)``.

    ``multistart`` runs the optimiser from several starts (for crossed terms). ``X`` should have
    orthonormal columns (the likelihood is invariant to ``X -> X R^-1``).
    """
    k, p = X.shape
    m = len(codes)
    eng = engine(V, codes, X, y, algorithm)
    v = V.diag()
    w = 1.0 / v
    b_fe = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y))
    resid = y - X @ b_fe
    scale = max(float(np.mean(resid ** 2)), float(np.median(v)), 1e-12)
    if start is None:
        # The likelihood of crossed components can have several maxima (which of two crossed
        # factors carries the variance): start from an even split and from each component
        # carrying most of the total, and keep the best.
        total = max(float(np.mean(resid ** 2) - np.mean(v)), 0.1 * scale)
        x0 = [np.full(m, total / m) / scale]
        if m > 1 and multistart:
            for j in range(m):
                x = np.full(m, 0.1 * total / (m - 1))
                x[j] = 0.9 * total
                x0.append(x / scale)
        x0 = np.array(x0)
    else:
        start = np.asarray(start, dtype=float).ravel()
        if start.size != m:
            raise InputError(f"start has {start.size} values but the model has {m} variance "
                             "components", column="start")
        x0 = np.maximum(start, 0.0) / scale
    sigma2, evaluations = maximise(lambda s: eng.evaluate(s, reml), m, scale, x0, reml=reml, k=k,
                                   hint=hint)
    return sigma2, evaluations, eng
