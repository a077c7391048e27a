"""Estimators of the between-study variance tau² in the (mixed-effects) random-effects model.

    y_i = x_i' beta + u_i + e_i,   u_i ~ N(0, tau²),   e_i ~ N(0, v_i)

Each estimator works on a batch (one row per meta-analysis; see ``_wls``) and returns tau² and its
standard error as metafor computes them. The registry ``TAU2_ESTIMATORS`` is what the CLI, the docs
and validation read.

References
----------
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin Trials 7:177-188. (DL)
Hedges LV (1983). A random effects model for effect sizes. Psychol Bull 93:388-395. (HE)
Hunter JE, Schmidt FL (2004). Methods of Meta-Analysis, 2nd ed. Sage. (HS; HSk: Brannick et al. 2019)
Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation. Stat Med 24:3183-3190. (SJ)
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the random-effects
    model. J Educ Behav Stat 30:261-293. (ML, REML, Fisher scoring; standard errors)
Morris CN (1983). Parametric empirical Bayes inference. JASA 78:47-55. (EB)
Paule RC, Mandel J (1982). Consensus values and weighting factors. J Res NBS 87:377-385. (PM)
Viechtbauer W et al. (2015). A comparison of procedures to test for moderators in mixed-effects
    meta-regression models. Psychol Methods 20:360-374. (PMM: the median-unbiased Paule-Mandel)
Reference implementation tested against: R package metafor 3.8, ``rma.uni``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError
from . import _wls


@dataclass(frozen=True)
class Tau2Estimator:
    """A registered tau² estimator."""

    name: str
    description: str
    iterative: bool
    function: Callable


@dataclass(frozen=True)
class Control:
    """Convergence settings for the iterative estimators (tighter than metafor's defaults)."""

    threshold: float = 1e-10
    maxiter: int = 1000
    tau2_init: float | None = None


@dataclass(frozen=True)
class Batch:
    """The data of a batch of meta-analyses: outcomes, variances, design and 0/1 mask."""

    y: np.ndarray
    v: np.ndarray
    X: np.ndarray
    mask: np.ndarray

    @property
    def k(self) -> np.ndarray:
        return self.mask.sum(axis=-1)

    @property
    def p(self) -> int:
        return self.X.shape[-1]

    def subset(self, rows: np.ndarray) -> Batch:
        """The meta-analyses in ``rows`` (a design broadcast over the batch stays a view)."""
        X = self.X[rows] if self.X.strides[0] else self.X[: rows.size]
        return Batch(self.y[rows], self.v[rows], X, self.mask[rows])


def _clip(t):
    return np.maximum(t, 0.0)


def fixed(b: Batch, control: Control):
    zero = np.zeros(b.y.shape[0])
    return zero, np.full_like(zero, np.nan)


def dersimonian_laird(b: Batch, control: Control):
    w = b.mask / b.v
    fit = _wls.wls(b.X, b.y, w)
    trP = _wls.trace_P(b.X, w, fit.A)
    tau2 = _clip((fit.rss - (b.k - b.p)) / trP)
    trPP = _wls.trace_PDPE(b.X, w, fit.A)
    se = np.sqrt((2 * (b.k - b.p) + 4 * tau2 * trP + 2 * tau2**2 * trPP) / trP**2)
    return tau2, se


def hedges(b: Batch, control: Control):
    w = b.mask.astype(float)
    fit = _wls.wls(b.X, b.y, w)
    trPV = _wls.trace_P(b.X, w, fit.A, b.v)
    dfree = b.k - b.p
    tau2 = _clip((fit.rss - trPV) / dfree)
    trPVPV = _wls.trace_PDPE(b.X, w, fit.A, b.v, b.v)
    se = np.sqrt((2 * trPVPV + 4 * tau2 * trPV + 2 * tau2**2 * dfree) / dfree**2)
    return tau2, se


def _hunter_schmidt(b: Batch, corrected: bool):
    w = b.mask / b.v
    fit = _wls.wls(b.X, b.y, w)
    sw = w.sum(axis=-1)
    factor = b.k / (b.k - b.p) if corrected else 1.0
    tau2 = _clip((factor * fit.rss - b.k) / sw)
    trP = _wls.trace_P(b.X, w, fit.A)
    trPP = _wls.trace_PDPE(b.X, w, fit.A)
    se = factor * np.sqrt((2 * (b.k - b.p) + 4 * tau2 * trP + 2 * tau2**2 * trPP) / sw**2)
    return tau2, se


def hunter_schmidt(b: Batch, control: Control):
    return _hunter_schmidt(b, corrected=False)


def hunter_schmidt_k(b: Batch, control: Control):
    return _hunter_schmidt(b, corrected=True)


def sidik_jonkman(b: Batch, control: Control):
    if control.tau2_init is not None:
        tau0 = np.full(b.y.shape[0], float(control.tau2_init))
    else:
        k = b.k
        mean = (b.mask * b.y).sum(axis=-1) / k
        tau0 = (b.mask * (b.y - mean[:, None]) ** 2).sum(axis=-1) / k
    w = b.mask / (b.v + tau0[:, None])
    fit = _wls.wls(b.X, b.y, w)
    dfree = b.k - b.p
    tau2 = tau0 * fit.rss / dfree
    trPVPV = _wls.trace_PDPE(b.X, w, fit.A, b.v, b.v)
    trPPV = _wls.trace_PDPE(b.X, w, fit.A, b.v, None)
    trPP = _wls.trace_PDPE(b.X, w, fit.A)
    se = np.sqrt(tau0**2 / dfree**2 * (2 * trPVPV + 4 * tau2 * trPPV + 2 * tau2**2 * trPP))
    return tau2, se


def _start(b: Batch, control: Control) -> np.ndarray:
    if control.tau2_init is not None:
        return np.full(b.y.shape[0], float(control.tau2_init))
    return hedges(b, control)[0]


def _score_info(b: Batch, tau2: np.ndarray, restricted: bool, observed: bool = False):
    """Score, Fisher (expected) information and, if asked, observed information in tau².

    REML: score ``(y'PPy - tr P)/2``, expected ``tr(PP)/2``, observed ``y'PPPy - tr(PP)/2``;
    ML: the same with ``sum w`` for ``tr P`` and ``sum w^2`` for ``tr(PP)`` (Viechtbauer 2005).
    With ``Py = W e``: ``y'PPy = sum w^2 e^2`` and ``y'PPPy = sum w^3 e^2 - g'Ag``, ``g = X'W^2 e``.
    """
    if b.p == 1 and _wls._is_ones(b.X):
        return _score_info_intercept(b, tau2, restricted, observed)
    w = b.mask / (b.v + tau2[:, None])
    fit = _wls.wls(b.X, b.y, w)
    we = w * fit.resid
    we2 = (we * we).sum(axis=-1)
    if restricted:
        score = 0.5 * (we2 - _wls.trace_P(b.X, w, fit.A))
        info = 0.5 * _wls.trace_PDPE(b.X, w, fit.A)
    else:
        score, info = 0.5 * (we2 - w.sum(axis=-1)), 0.5 * (w * w).sum(axis=-1)
    if not observed:
        return score, info
    g = _wls.crossvec(b.X, w * we)
    yPPPy = (w * we * we).sum(axis=-1) - np.einsum("np,npq,nq->n", g, fit.A, g)
    return score, info, yPPPy - info


def _dot(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.einsum("nk,nk->n", a, c)


def _score_info_intercept(b: Batch, tau2: np.ndarray, restricted: bool, observed: bool):
    """``_score_info`` for intercept-only models with a handful of passes over the data: with
    ``S_j = sum w^j`` and residuals ``r`` from the weighted mean, ``tr P = S1 - S2/S1`` and
    ``tr PP = S2 - 2 S3/S1 + S2^2/S1^2``."""
    w = b.mask / (b.v + tau2[:, None])
    s1 = w.sum(axis=-1)
    r = b.y - (_dot(w, b.y) / s1)[:, None]
    wr = w * r
    we2 = _dot(wr, wr)
    ww = w * w
    s2 = ww.sum(axis=-1)
    if restricted:
        s3 = _dot(ww, w)
        score = 0.5 * (we2 - (s1 - s2 / s1))
        info = 0.5 * (s2 - 2.0 * s3 / s1 + (s2 / s1) ** 2)
    else:
        score, info = 0.5 * (we2 - s1), 0.5 * s2
    if not observed:
        return score, info
    g = _dot(wr, w)
    yPPPy = _dot(wr * w, wr) - g * g / s1
    return score, info, yPPPy - info


def _fisher_scoring(b: Batch, control: Control, restricted: bool):
    """Safeguarded Newton / Fisher scoring for the (RE)ML estimate of tau² on [0, inf).

    Newton steps use the observed information where it is positive (quadratic convergence) and
    Fisher's expected information elsewhere (Viechtbauer 2005). Plain Fisher scoring can cycle near
    the boundary, so each step is kept inside
    a bracket [lo, hi] on which the score changes sign, and bisects when it would leave it or fails
    to halve the previous step (the safeguard of Press et al.'s ``rtsafe``). A row is done when its
    step is below ``threshold * (1 + tau2)``, or at tau² = 0 with a negative score. Only rows not
    yet done are computed at each iteration.
    """
    tau2 = _clip(_start(b, control))
    n = tau2.size
    lo, hi = np.zeros(n), np.full(n, np.inf)
    prev_step = np.full(n, np.inf)
    active = np.arange(n)
    sub = b
    for _ in range(control.maxiter):
        t = tau2[active]
        score, info, observed = _score_info(sub, t, restricted, observed=True)
        at_boundary = (t == 0) & (score <= 0)
        lo_a = np.where(score > 0, t, lo[active])
        hi_a = np.where(score <= 0, t, hi[active])
        # Newton (observed information) where the likelihood is locally concave, else Fisher
        curvature = np.where(observed > 0, observed, info)
        new = _clip(t + score / curvature)
        slow = np.abs(new - t) > 0.5 * prev_step[active]
        bisect = ((new <= lo_a) | (new >= hi_a) | slow) & np.isfinite(hi_a) & ~at_boundary
        new = np.where(bisect, 0.5 * (lo_a + hi_a), new)
        new = np.where(at_boundary, 0.0, new)
        converged = at_boundary | (np.abs(new - t) <= control.threshold * (1.0 + t))
        prev_step[active] = np.where(np.isfinite(hi_a), np.abs(new - t), np.inf)
        lo[active], hi[active], tau2[active] = lo_a, hi_a, new
        if converged.all():
            break
        if converged.any():
            keep = ~converged
            active = active[keep]
            sub = b.subset(active)
    else:
        raise ConvergenceError(
            f"the {'REML' if restricted else 'ML'} estimate of tau2 did not converge within "
            f"{control.maxiter} iterations (meta-analysis {(active[:5] + 1).tolist()}); "
            "try a larger maxiter, a different tau2_init, or method='PM' or 'DL'")
    # a bisection that closed in on the boundary stops just above it: snap to zero there
    tiny = (tau2 > 0) & (tau2 <= 100 * control.threshold)
    if tiny.any():
        tau2 = np.where(tiny & (_score_info(b, np.zeros(n), restricted)[0] <= 0), 0.0, tau2)
    return tau2, np.sqrt(1.0 / _score_info(b, tau2, restricted)[1])


def maximum_likelihood(b: Batch, control: Control):
    return _fisher_scoring(b, control, restricted=False)


def restricted_maximum_likelihood(b: Batch, control: Control):
    return _fisher_scoring(b, control, restricted=True)


def generalised_q(b: Batch, tau2: np.ndarray) -> np.ndarray:
    """The generalised Q statistic ``sum w_i(tau2) (y_i - x_i' beta(tau2))^2`` per row."""
    w = b.mask / (b.v + tau2[:, None])
    return _wls.wls(b.X, b.y, w).rss


def solve_generalised_q(b: Batch, target: np.ndarray, control: Control,
                        start: np.ndarray | None = None) -> np.ndarray:
    """Solve ``Q(tau2) = target`` for tau2 >= 0 (0 where ``Q(0) <= target``).

    Q is strictly decreasing in tau2, with ``dQ/dtau2 = -sum w^2 e^2`` (the coefficients are at their
    optimum, so their own derivative drops out). Newton steps are taken on ``1/Q``, which is nearly
    linear in tau2 (``Q ~ c / (v + tau2)``), so few are needed; each is kept inside a bracket and
    bisects (or, before an upper end is known, doubles) when it would leave it.
    """
    n = b.y.shape[0]
    target = np.broadcast_to(np.asarray(target, dtype=float), (n,)).copy()
    at_zero = generalised_q(b, np.zeros(n)) <= target
    scale = (b.mask * b.v).sum(axis=-1) / b.k
    x = np.maximum(start, 0.0) if start is not None else scale.copy()
    x = np.where(at_zero, 0.0, np.where(x > 0, x, scale))
    lo, hi = np.zeros(n), np.full(n, np.inf)
    done = at_zero.copy()
    active = np.flatnonzero(~done)
    sub = b.subset(active) if active.size < n else b
    for _ in range(control.maxiter):
        if active.size == 0:
            return x
        t, tgt = x[active], target[active]
        w = sub.mask / (sub.v + t[:, None])
        fit = _wls.wls(sub.X, sub.y, w)
        q = fit.rss
        slope = (w * w * fit.resid * fit.resid).sum(axis=-1)  # -dQ/dtau2
        lo_a = np.where(q > tgt, t, lo[active])
        hi_a = np.where(q <= tgt, t, hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = t - (1.0 / q - 1.0 / tgt) * q * q / slope
        inside = np.isfinite(newton) & (newton > lo_a) & (newton < hi_a)
        fallback = np.where(np.isfinite(hi_a), 0.5 * (lo_a + hi_a), 2.0 * np.maximum(t, scale[active]))
        new = np.where(inside, newton, fallback)
        converged = np.abs(new - t) <= control.threshold * (1.0 + np.abs(t))
        lo[active], hi[active], x[active] = lo_a, hi_a, new
        if converged.any():
            active = active[~converged]
            sub = b.subset(active)
    raise ConvergenceError(
        "could not solve the generalised Q equation for tau2 "
        f"within {control.maxiter} iterations; try a larger maxiter")


def _pm_se(b: Batch, tau2: np.ndarray) -> np.ndarray:
    """Standard error used for the PM, PMM and EB estimators: sqrt(2 k^2 / (k - p)) / sum(w)."""
    w = b.mask / (b.v + tau2[:, None])
    return np.sqrt(2.0 * b.k**2 / (b.k - b.p)) / w.sum(axis=-1)


def paule_mandel(b: Batch, control: Control):
    tau2 = solve_generalised_q(b, b.k - b.p, control)
    return tau2, _pm_se(b, tau2)


def paule_mandel_median(b: Batch, control: Control):
    from scipy import stats  # here, not at import: the other estimators do not need scipy.stats

    tau2 = solve_generalised_q(b, stats.chi2.median(b.k - b.p), control)
    return tau2, _pm_se(b, tau2)


def empirical_bayes(b: Batch, control: Control):
    """Morris's estimator solves k/(k-p) Q(tau2) = k: the same equation as Paule-Mandel."""
    return paule_mandel(b, control)


TAU2_ESTIMATORS: dict[str, Tau2Estimator] = {
    e.name: e
    for e in [
        Tau2Estimator("FE", "common (fixed) effect: tau2 = 0", False, fixed),
        Tau2Estimator("EE", "equal effects (same as FE)", False, fixed),
        Tau2Estimator("CE", "common effect (same as FE)", False, fixed),
        Tau2Estimator("DL", "DerSimonian-Laird method of moments", False, dersimonian_laird),
        Tau2Estimator("HE", "Hedges (unweighted method of moments)", False, hedges),
        Tau2Estimator("HS", "Hunter-Schmidt", False, hunter_schmidt),
        Tau2Estimator("HSk", "Hunter-Schmidt with small-sample correction", False,
                      hunter_schmidt_k),
        Tau2Estimator("SJ", "Sidik-Jonkman", False, sidik_jonkman),
        Tau2Estimator("ML", "maximum likelihood", True, maximum_likelihood),
        Tau2Estimator("REML", "restricted maximum likelihood", True,
                      restricted_maximum_likelihood),
        Tau2Estimator("EB", "empirical Bayes (Morris)", True, empirical_bayes),
        Tau2Estimator("PM", "Paule-Mandel", True, paule_mandel),
        Tau2Estimator("PMM", "median-unbiased Paule-Mandel", True, paule_mandel_median),
    ]
}

COMMON_EFFECT = frozenset({"FE", "EE", "CE"})
