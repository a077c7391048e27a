"""The classifiers that rank unscreened records, trained with balanced class weights.

Each model is fit on the records labelled so far and scores every record; the next record shown is
the highest-scoring unscreened one ("certainty-based" or "max" querying). Relevant records are rare
(1-15%), so training is balanced: the relevant records together carry ``balance`` times the total
weight of the irrelevant ones (``balance = 1``: equal totals), and the weights are scaled to a
mean of 1, so the penalty ``C`` means the same whatever the number of labels. This is the
"balanced" class weighting of King & Zeng (2001), tilted towards the rare class, rather than
ASReview's older "double" resampling, which draws relevant records with replacement: weighting gives
the same expected loss without the randomness. The default tilt, :data:`DEFAULT_BALANCE` = 9.8, is
the ratio ASReview 2-3's default model (ELAS u4) chose by optimisation on the SYNERGY datasets (the
relevant class counts 9.8 times as much as the irrelevant one); in our benchmark it beat equal
totals on four of six datasets and on the mean, and was chosen in every hold-one-dataset-out fold
(benchmarks/RESULTS.md).

References
----------
King G, Zeng L (2001). Logistic regression in rare events data. Political Analysis 9(2):137-163.
Rennie JDM, Shih L, Teevan J, Karger DR (2003). Tackling the poor assumptions of naive Bayes text
classifiers. ICML 2003 (naive Bayes on TF-IDF).
Fan RE, Chang KW, Hsieh CJ, Wang XR, Lin CJ (2008). LIBLINEAR: a library for large linear
classification. JMLR 9:1871-1874 (logistic regression and linear SVM solvers).
van de Schoot R, de Bruin J, Schram R, et al. (2021). An open source machine learning framework
for efficient and transparent systematic reviews. Nature Machine Intelligence 3:125-133.
"""

from __future__ import annotations

import numpy as np

from whatworks.errors import ParameterError

from .registry import MODELS

__all__ = ["DEFAULT_BALANCE", "MODELS", "balanced_weights", "fit_scores", "make_model"]


def make_model(name: str, *, C: float | None = None):
    """A fresh scikit-learn estimator for ``name`` (see :data:`MODELS`)."""
    if name == "svm":
        return LinearSVM(C=0.11 if C is None else C, tol=1e-3)
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0 if C is None else C, solver="liblinear", dual=True, tol=1e-3)
    if name == "nb":
        return WeightedMultinomialNB(alpha=0.1 if C is None else C)
    raise ParameterError("model", name, ", ".join(MODELS))


class LinearSVM:
    """scikit-learn's ``LinearSVC(loss="squared_hinge", dual=True)``, fit without its per-fit checks.

    The same problem and solver (LIBLINEAR's dual coordinate descent for the L2-regularised squared
    hinge loss, the intercept as a feature of value 1) and the same coefficients to the last bit
    as ``LinearSVC(random_state=seed)`` (tested), but called through scikit-learn's LIBLINEAR wrapper
    directly: a screening replay refits hundreds of times on inputs this module already checked,
    and the estimator's parameter validation, label encoding and copies cost more than a fifth of
    each fit. Should that private wrapper change in a later scikit-learn, the public estimator is
    used instead (same answer, slower). Unlike ``LinearSVC(random_state=None)``, which seeds
    LIBLINEAR's shuffling from numpy's global state, the order is seeded (``seed``), so a replay
    is reproducible to the bit.
    """

    _SOLVER = 1  # LIBLINEAR's L2R_L2LOSS_SVC_DUAL

    def __init__(self, C: float = 0.11, tol: float = 1e-3, max_iter: int = 1000, seed: int = 0):
        self.C, self.tol, self.max_iter, self.seed = float(C), float(tol), int(max_iter), int(seed)

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y, dtype=np.float64)
        w = (np.ones(len(y)) if sample_weight is None
             else np.ascontiguousarray(sample_weight, dtype=np.float64))
        # LinearSVC(random_state=s) hands LIBLINEAR RandomState(s).randint(2**31 - 1)
        seed = np.random.RandomState(self.seed).randint(np.iinfo("i").max)
        try:
            from scipy import sparse
            from sklearn.svm import _liblinear

            _liblinear.set_verbosity_wrap(0)  # LIBLINEAR prints its progress otherwise
            raw, _ = _liblinear.train_wrap(X, y, sparse.issparse(X), self._SOLVER, self.tol, 1.0, self.C,
                                           np.ones(2), self.max_iter, seed, 0.1, w)
            self.coef_, self.intercept_ = raw[:, :-1], raw[:, -1]
        except (ImportError, AttributeError, TypeError, ValueError):
            from sklearn.svm import LinearSVC

            model = LinearSVC(C=self.C, loss="squared_hinge", dual=True, tol=self.tol,
                              max_iter=self.max_iter, random_state=self.seed)
            model.fit(X, y.astype(np.int64), sample_weight=w)
            self.coef_, self.intercept_ = model.coef_, model.intercept_
        return self


class WeightedMultinomialNB:
    """Multinomial naive Bayes with sample weights, fit with two sparse products (no dense copies).

    The same estimates as scikit-learn's ``MultinomialNB(alpha)`` fit with ``sample_weight`` (tested
    against it): per class, ``log((count_j + alpha) / (sum_j count_j + alpha * p))`` with weighted
    feature counts, and the weighted class shares as the prior. Written out because at 100,000
    records and millions of features scikit-learn's general fit (label binarising, validation) took
    twice as long as the refit itself needs.

    References
    ----------
    McCallum A, Nigam K (1998). A comparison of event models for naive Bayes text classification.
    AAAI-98 workshop on learning for text categorization.
    """

    def __init__(self, alpha: float = 0.1):
        self.alpha = alpha

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        XT = X.T  # a CSC view: no copy of the matrix
        logs = []
        for cls in (0, 1):
            count = XT @ (w * (y == cls))
            smoothed = count + self.alpha
            logs.append(np.log(smoothed) - np.log(smoothed.sum()))
        self.feature_log_prob_ = np.vstack(logs)
        class_weight = np.array([w[y == 0].sum(), w[y == 1].sum()])
        self.class_log_prior_ = np.log(class_weight) - np.log(class_weight.sum())
        return self


#: Total weight of the relevant records relative to the irrelevant ones (see the module docstring).
DEFAULT_BALANCE = 9.8


def balanced_weights(y: np.ndarray, balance: float = DEFAULT_BALANCE) -> np.ndarray:
    """Per-record weights, mean 1: the relevant records' total is ``balance`` times the irrelevant ones'."""
    y = np.asarray(y)
    n_rel = int(y.sum())
    n_irr = len(y) - n_rel
    w = np.ones(len(y), dtype=np.float64)
    if n_rel and n_irr:
        w[y == 1] = balance * n_irr / n_rel
        w *= len(y) / w.sum()
    return w


def fit_scores(model, X, train_idx: np.ndarray, y: np.ndarray, *,
               balance: float = DEFAULT_BALANCE) -> np.ndarray:
    """Fit ``model`` on rows ``train_idx`` of ``X`` with labels ``y``; return a score for every row.

    Higher is more likely relevant. Linear models score by ``X @ coef + intercept`` (one sparse
    product); naive Bayes by its log-odds.
    """
    Xt = X[train_idx]
    if Xt.dtype != np.float64:
        # LIBLINEAR needs float64; converting here (the labelled rows only) with the rows' sorted
        # column order declared spares scikit-learn's conversion, which re-sorts every row's indices
        # on each refit (a third of the replay's time before)
        sorted_rows = bool(getattr(X, "has_sorted_indices", False))
        Xt = Xt.astype(np.float64)
        if sorted_rows:
            Xt.has_sorted_indices = True
    model.fit(Xt, y, sample_weight=balanced_weights(y, balance))
    if hasattr(model, "feature_log_prob_"):  # naive Bayes: log P(x|1) - log P(x|0)
        diff = (model.feature_log_prob_[1] - model.feature_log_prob_[0]).astype(np.float32)
        return X @ diff + float(model.class_log_prior_[1] - model.class_log_prior_[0])
    coef = np.asarray(model.coef_, dtype=np.float32).ravel()
    return X @ coef + float(np.ravel(model.intercept_)[0])
