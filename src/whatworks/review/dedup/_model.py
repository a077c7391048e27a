"""The match model: a logistic regression over the pair features, and its fitted coefficients.

The coefficients below were fitted by ``benchmarks/fit_dedup_model.py`` (penalised maximum
likelihood, :func:`fit_logistic`) on the candidate pairs of ``../shared/data/dedup/dedup_benchmark.csv``;
that script also reports the held-out (grouped five-fold cross-validated) sensitivity, specificity
and calibration, which are the figures to quote (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import numpy as np

from ._features import FEATURES

# fitted by `benchmarks/fit_dedup_model.py --l2 0.1` on all candidate pairs of dedup_benchmark.csv
# (refitted 2026-11-30 after mojibake repair and repeated-text removal changed the normalised text;
# held-out figures from the same script are in benchmarks/RESULTS.md)
INTERCEPT = -11.721558
COEFFICIENTS: dict[str, float] = {
    "title_sim": 0.824707,
    "title_token_sim": 0.463831,
    "title_missing": 0.000000,
    "abstract_sim": -1.311363,
    "abstract_missing": 5.304552,
    "doi_same": 0.229856,
    "doi_diff": -0.525282,
    "pmid_same": 0.000000,
    "pmid_diff": 0.000000,
    "year_same": -0.027459,
    "year_off_by_one": -0.000146,
    "year_diff": -0.075918,
    "author_same": -0.061638,
    "author_diff": -0.041885,
    "authors_sim": -0.076154,
    "journal_sim": 0.285529,
    "volume_same": 0.421706,
    "volume_diff": -0.513595,
    "page_same": 0.421619,
    "page_diff": -0.525141,
    "numbers_differ": -3.122270,
    "markers_differ": -3.436403,
    "title_ge_85": 1.445820,
    "title_ge_93": 2.407383,
    "title_ge_98": 5.633884,
    "abstract_ge_75": 0.108428,
    "abstract_ge_90": 1.333995,
    "abstract_ge_98": 4.488124,
}


def fit_logistic(X: np.ndarray, y: np.ndarray, *, l2: float = 1.0, max_iter: int = 100,
                 tol: float = 1e-9) -> tuple[float, np.ndarray]:
    """Penalised logistic regression by Newton-Raphson (ridge penalty ``l2/2 * |w|^2`` on the slopes,
    not on the intercept). Returns ``(intercept, slopes)``.

    References
    ----------
    Hastie T, Tibshirani R, Friedman J (2009). *The Elements of Statistical Learning*, 2nd ed.,
    section 4.4.1 (fitting logistic regression by iteratively reweighted least squares).
    """
    n, p = X.shape
    Z = np.column_stack([np.ones(n), X])
    beta = np.zeros(p + 1)
    penalty = np.full(p + 1, l2)
    penalty[0] = 0.0
    for _ in range(max_iter):
        eta = Z @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = np.clip(mu * (1 - mu), 1e-10, None)
        grad = Z.T @ (y - mu) - penalty * beta
        H = (Z * w[:, None]).T @ Z + np.diag(penalty)
        step = np.linalg.solve(H, grad)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    return float(beta[0]), beta[1:]


def match_probability(X: np.ndarray, intercept: float | None = None,
                      slopes: np.ndarray | None = None) -> np.ndarray:
    """The model's probability that each pair (a row of features) is the same work."""
    if intercept is None:
        intercept = INTERCEPT
    if slopes is None:
        slopes = np.array([COEFFICIENTS[name] for name in FEATURES])
    eta = intercept + X @ slopes
    return 1.0 / (1.0 + np.exp(-np.clip(eta, -60, 60)))
