"""Batched weighted least squares and the trace identities the tau² estimators need.

Every array carries a leading batch axis ``n`` (one row per meta-analysis), so one code path fits a
single meta-analysis with a million studies or ten thousand small ones in one vectorised call.
Shapes: ``y, v, w`` are ``(n, k)``; ``X`` is ``(n, k, p)``; ``A = (X'WX)^-1`` is ``(n, p, p)``.

Missing studies are handled by a 0/1 ``mask`` folded into every weight, so no ``k x k`` matrix is
ever formed: with ``P = W - W X A X' W`` the traces reduce to ``p x p`` algebra,

    tr(P D)     = sum(w d) - tr(A X' W D W X)
    tr(P D P E) = sum(w^2 d e) - 2 tr(A X' W^3 D E X) + tr(A X' W^2 D X A X' W^2 E X)

for diagonal ``D`` and ``E`` (``V = diag(vi)`` or the identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def crossprod(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``X' diag(d) X`` for each row of the batch: ``(n,k,p),(n,k) -> (n,p,p)``."""
    if X.shape[-1] == 1 and _is_ones(X):
        return d.sum(axis=-1)[:, None, None]
    return np.matmul((X * d[:, :, None]).transpose(0, 2, 1), X)


def crossvec(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``X' d`` for each row of the batch: ``(n,k,p),(n,k) -> (n,p)``."""
    if X.shape[-1] == 1 and _is_ones(X):
        return d.sum(axis=-1)[:, None]
    return np.matmul(d[:, None, :], X)[:, 0, :]


def _is_ones(X: np.ndarray) -> bool:
    # An intercept-only design is passed as a broadcast view of a single 1.0 (stride 0).
    return X.strides[-2] == 0 and X.strides[0] == 0 and float(X.flat[0]) == 1.0


def ones_design(n: int, k: int) -> np.ndarray:
    """The intercept-only design as a zero-copy broadcast view."""
    return np.broadcast_to(np.ones((1, 1, 1)), (n, k, 1))


def inverse(M: np.ndarray) -> np.ndarray:
    """Inverse of a batch of small symmetric positive-definite matrices."""
    if M.shape[-1] == 1:
        return 1.0 / M
    return np.linalg.inv(M)


def predict(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    if X.shape[-1] == 1 and _is_ones(X):
        return np.broadcast_to(beta[:, :1], (X.shape[0], X.shape[1]))
    return np.matmul(X, beta[:, :, None])[:, :, 0]


@dataclass(frozen=True)
class WLSFit:
    """A weighted least-squares fit: coefficients, ``A = (X'WX)^-1``, residuals and ``sum(w e^2)``."""

    beta: np.ndarray
    A: np.ndarray
    resid: np.ndarray
    rss: np.ndarray


def wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> WLSFit:
    """Weighted least squares for each row of the batch (weights already include the mask)."""
    if X.shape[-1] == 1 and _is_ones(X):
        sw = w.sum(axis=-1)
        mu = (w * y).sum(axis=-1) / sw
        resid = y - mu[:, None]
        return WLSFit(mu[:, None], (1.0 / sw)[:, None, None], resid,
                      (w * resid * resid).sum(axis=-1))
    A = inverse(crossprod(X, w))
    beta = np.einsum("npq,nq->np", A, crossvec(X, w * y))
    resid = y - predict(X, beta)
    rss = (w * resid * resid).sum(axis=-1)
    return WLSFit(beta, A, resid, rss)


def tr_A_cross(A: np.ndarray, X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``tr(A X' diag(d) X)`` per row."""
    M = crossprod(X, d)
    return np.einsum("npq,nqp->n", A, M)


def trace_P(X: np.ndarray, w: np.ndarray, A: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
    """``tr(P D)`` with ``P = W - W X A X' W`` (``D`` the identity when ``d`` is None)."""
    wd = w if d is None else w * d
    if X.shape[-1] == 1 and _is_ones(X):
        return wd.sum(axis=-1) - (w * wd).sum(axis=-1) * A[:, 0, 0]
    return wd.sum(axis=-1) - tr_A_cross(A, X, w * wd)


def trace_PDPE(X: np.ndarray, w: np.ndarray, A: np.ndarray, d: np.ndarray | None = None,
               e: np.ndarray | None = None) -> np.ndarray:
    """``tr(P D P E)`` for diagonal ``D``, ``E`` (identity when None), without forming ``P``."""
    w2 = w * w
    w2d = w2 if d is None else w2 * d
    w2e = w2 if e is None else w2 * e
    w2de = w2d if e is None else w2d * e
    first = w2de.sum(axis=-1)
    if X.shape[-1] == 1 and _is_ones(X):
        a = A[:, 0, 0]
        return first - 2.0 * a * (w * w2de).sum(axis=-1) + a * a * (
            w2d.sum(axis=-1) * w2e.sum(axis=-1))
    second = tr_A_cross(A, X, w * w2de)
    MD = crossprod(X, w2d)
    ME = MD if w2e is w2d else crossprod(X, w2e)
    third = np.einsum("npq,nqr,nrs,nsp->n", A, MD, A, ME, optimize=True)
    return first - 2.0 * second + third
