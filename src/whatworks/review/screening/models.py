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

import math

import numpy as np

from whatworks.errors import ParameterError

from .registry import MODELS

__all__ = ["DEFAULT_BALANCE", "MODELS", "LinearSVM", "SelectSVM", "WidenSVM", "balanced_weights",
           "fit_scores", "make_model"]


def make_model(name: str, *, C: float | None = None, seed: int | None = None):
    """A fresh estimator for ``name`` (see :data:`MODELS`); ``seed`` seeds svm-select's draft coin."""
    if name == "svm-widen":
        return WidenSVM(C=0.11 if C is None else C, seed=0 if seed is None else seed)
    if name == "svm-select":
        return SelectSVM(C=0.11 if C is None else C, seed=0 if seed is None else seed)
    if name == "svm":
        return LinearSVM(C=0.11 if C is None else C, tol=1e-3)
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0 if C is None else C, solver="liblinear", dual=True, tol=1e-3)
    if name == "nb":
        return WeightedMultinomialNB(alpha=0.1 if C is None else C)
    raise ParameterError("model", name, ", ".join(MODELS))


class LinearSVM:
    """A linear SVM (L2-regularised squared hinge loss), solved by LIBLINEAR through its own binding.

    The problem is scikit-learn's ``LinearSVC(loss="squared_hinge", dual=True)`` and ASReview's
    default classifier: ``min_w 1/2 |w|^2 + C sum_i c_i max(0, 1 - y_i w.x_i)^2`` with the
    intercept as a feature of value 1 (penalised too), solved by LIBLINEAR's dual coordinate
    descent (Hsieh et al. 2008) to the same tolerance. It is called through LIBLINEAR's official
    Python binding (``liblinear-official``, ctypes) rather than scikit-learn's copy of LIBLINEAR,
    because importing scikit-learn costs more CPU than a whole replay of a small review (about
    0.6 s of imports: scikit-learn imports scipy.stats and pandas), and because the binding lets
    every record be converted to LIBLINEAR's input once: a refit only points at the labelled rows
    (:meth:`fit_rows`) instead of copying them.

    Balanced training weighs each class (``c_i`` the same within a class), which LIBLINEAR takes as
    per-class weights on C; weights that differ within a class go to scikit-learn's ``LinearSVC``
    (same problem, per-record weights). LIBLINEAR shuffles the coordinates with the C library's
    ``rand()``; every fit first seeds it from ``seed`` and the number of training rows, so a fit
    is reproducible whatever ran before it in the process. Tests check the solution against
    LinearSVC's (same optimum within the tolerance) and the reproducibility.

    References
    ----------
    Hsieh CJ, Chang KW, Lin CJ, Keerthi SS, Sundararajan S (2008). A dual coordinate descent method
    for large-scale linear SVM. ICML 2008.
    """

    _SOLVER = 1  # LIBLINEAR's L2R_L2LOSS_SVC_DUAL

    def __init__(self, C: float = 0.11, tol: float = 1e-3, max_iter: int = 1000, seed: int = 0):
        self.C, self.tol, self.max_iter, self.seed = float(C), float(tol), int(max_iter), int(seed)
        self._problem: tuple | None = None  # (X, its LIBLINEAR rows) for fit_rows

    def fit(self, X, y, sample_weight=None):
        """Fit on the rows of ``X`` (labels 1 relevant, 0 irrelevant); sets ``coef_``, ``intercept_``."""
        from scipy import sparse

        X = sparse.csr_matrix(X)
        return self.fit_rows(X, np.arange(X.shape[0]), y, sample_weight, keep=False)

    def fit_rows(self, X, rows, y, sample_weight=None, *, keep: bool = True):
        """Fit on rows ``rows`` of the CSR matrix ``X``, whose every row is converted once and kept
        (``keep``) for the next call with the same ``X``."""
        y = np.asarray(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        per_class = [w[y == c] for c in (1, 0)]
        if any(len(v) == 0 for v in per_class) or any(np.ptp(v) > 1e-12 * v.max() for v in per_class):
            return self._fit_per_record(X[rows], y, w)
        from ._liblinear import Rows, train_l2_svm

        if keep and self._problem is not None and self._problem[0] is X:
            problem = self._problem[1]
        else:
            problem = Rows(X)
            self._problem = (X, problem) if keep else None
        seed = (self.seed * 1_000_003 + len(rows)) % 2**31
        w_full = train_l2_svm(problem, np.asarray(rows), y == 1, C=self.C,
                              class_weight=(per_class[0][0], per_class[1][0]), tol=self.tol,
                              seed=seed)
        self.coef_, self.intercept_ = w_full[None, :-1], w_full[-1:]
        return self

    def _fit_per_record(self, X, y, w):
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=self.C, loss="squared_hinge", dual=True, tol=self.tol,
                          max_iter=self.max_iter, random_state=self.seed)
        model.fit(X, y.astype(np.int64), sample_weight=w)
        self.coef_, self.intercept_ = model.coef_, model.intercept_
        return self


class _WordsBlock:
    """The words' block of a ``tfidf-meaning`` matrix, rows back to unit length (exactly the
    ``tfidf`` matrix), computed once per matrix."""

    def __init__(self, meaning_dim: int | None = None):
        from .features import MEANING_DIM

        self.meaning_dim = MEANING_DIM if meaning_dim is None else int(meaning_dim)
        self._cached: tuple | None = None  # (X, its words' block)

    def words(self, X):
        if self._cached is None or self._cached[0] is not X:
            from scipy import sparse

            X = X if sparse.isspmatrix_csr(X) else sparse.csr_matrix(X)
            # the meaning block is dense (every text with a token has all its columns); the last
            # columns of a TF-IDF matrix are rare word pairs
            first = X.shape[1] - self.meaning_dim
            texts = int((np.diff(X.indptr) > 0).sum())
            if first <= 0 or int((X.indices >= first).sum()) < 0.5 * self.meaning_dim * texts:
                raise ParameterError("features", "not tfidf-meaning",
                                     "tfidf-meaning (this model needs its meaning block)")
            W = X[:, :X.shape[1] - self.meaning_dim].tocsr()
            norms = np.sqrt(np.asarray(W.multiply(W).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            W = sparse.csr_matrix(sparse.diags(1 / norms) @ W, dtype=X.dtype)
            W.sort_indices()
            self._cached = (X, W)
        return self._cached[1]


class SelectSVM:
    """Two rankers compared by team-draft interleaving; once one is shown to find more, only it.

    One linear SVM reads the words (the TF-IDF block of ``tfidf-meaning`` features, rows back to
    unit length: exactly the ``tfidf`` matrix); the other reads words and meaning (the whole matrix:
    TF-IDF plus the WordLlama embedding block, :mod:`.features`). Meaning helps where reviews
    describe the same thing in different words (in the benchmark, animal models of depression) and
    hurts where relevance turns on particular words (nudging), so neither is better everywhere.

    Until one is shown better, the records are shown in team-draft interleaved order (Radlinski,
    Kurup & Joachims 2008): in each round a seeded coin says which ranker picks first, and each
    picks its highest-ranked record not yet picked; a relevant record credits the ranker that
    picked it. Both rankers pick equally often, so the credits compare them without the bias of
    judging each on records the other chose. When the credits differ by more than chance (a
    two-sided exact binomial test of equal shares at ``alpha``), the leader is followed alone from
    then on and the other is no longer fitted. ``history_`` records the credits and the ranker
    followed after each refit (for the methods section).

    References
    ----------
    Radlinski F, Kurup M, Joachims T (2008). How does clickthrough data reflect retrieval quality?
    CIKM 2008, 43-52 (team-draft interleaving).
    Teijema JJ, Hofstee L, Brouwer M, et al. (2023). Active learning-based systematic reviewing
    using switching classification models. Frontiers in Research Metrics and Analytics 8:1178181.
    """

    NAMES = ("words", "words+meaning")

    def __init__(self, C: float = 0.11, seed: int = 0, meaning_dim: int | None = None,
                 alpha: float = 0.2, depth: int = 200):
        self.C, self.seed, self.alpha, self.depth = float(C), int(seed), float(alpha), int(depth)
        self.rankers = (LinearSVM(C=C), LinearSVM(C=C))  # as the plain svm model fits them
        self._blocks = _WordsBlock(meaning_dim)
        self.credits = np.zeros(2, dtype=np.int64)
        self.decided: int | None = None  # the ranker followed alone, once shown better
        self.history_: list[dict] = []
        self._team: dict[int, int] = {}  # record -> the ranker that picked it in the last draft
        self._rng = np.random.default_rng(seed)
        self._n_previous = 0

    def prepare(self, X) -> None:
        """Derive the words' block once, when the session starts (not in the first refresh)."""
        self._blocks.words(X)

    def _settle(self) -> None:
        a, b = (int(c) for c in self.credits)
        n = a + b
        if n == 0 or self.decided is not None:
            return
        # two-sided exact binomial test of equal shares: 2 P(X >= max(a, b)), X ~ Bin(n, 1/2)
        k = max(a, b)
        tail = sum(math.comb(n, j) for j in range(k, n + 1)) / 2.0 ** n
        if min(1.0, 2 * tail) < self.alpha:
            self.decided = int(b > a)

    def rank_scores(self, X, rows: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Refit on ``rows`` and return scores whose descending order is the order to show."""
        rows, y = np.asarray(rows), np.asarray(y)
        for r in rows[self._n_previous:][y[self._n_previous:] == 1]:  # relevant since the last refit
            team = self._team.get(int(r))
            if team is not None:
                self.credits[team] += 1
        self._n_previous = len(rows)
        self._settle()
        matrices = (self._blocks.words(X), X)
        fitted = [self.decided] if self.decided is not None else [0, 1]
        scores: list = [None, None]
        for k in fitted:
            self.rankers[k].fit_rows(matrices[k], rows, y, weights)
            coef = np.asarray(self.rankers[k].coef_, dtype=np.float32).ravel()
            scores[k] = matrices[k] @ coef + float(self.rankers[k].intercept_[0])
        self._team = {}
        if self.decided is not None:
            out = scores[self.decided]
        else:
            out = self._interleave(scores, rows)
        self.history_.append({"labels": len(rows), "credits": dict(zip(self.NAMES, self.credits.tolist(),
                                                                     strict=True)),
                              "follows": "interleaved" if self.decided is None else self.NAMES[self.decided]})
        return out

    def _interleave(self, scores, rows) -> np.ndarray:
        """The first ``depth`` records of a team draft, scored above the rest (which follow the
        words' ranking), recording which ranker picked each."""
        labelled = np.zeros(len(scores[0]), dtype=bool)
        labelled[rows] = True
        free = np.flatnonzero(~labelled)
        depth = min(self.depth, len(free))
        tops = [free[np.argsort(-s[free], kind="stable")[:depth]] for s in scores]
        picked: list[int] = []
        taken: set[int] = set()
        cursor = [0, 0]
        while len(picked) < depth:
            order = (0, 1) if self._rng.random() < 0.5 else (1, 0)
            for k in order:
                while cursor[k] < depth and int(tops[k][cursor[k]]) in taken:
                    cursor[k] += 1
                if cursor[k] < depth and len(picked) < depth:
                    r = int(tops[k][cursor[k]])
                    taken.add(r)
                    picked.append(r)
                    self._team[r] = k
            if cursor[0] >= depth and cursor[1] >= depth:
                break
        base = scores[0]
        out = base - base.max() - 1.0 if len(base) else base.copy()  # the rest: below every pick
        out[np.asarray(picked, dtype=np.int64)] = np.arange(len(picked), 0, -1, dtype=out.dtype)
        return out


class WidenSVM:
    """The words' SVM; when it runs dry, an SVM on words and meaning proposes a share of the records.

    Screening follows the linear SVM on the words (the plain ``svm`` model, on the TF-IDF block of
    ``tfidf-meaning`` features at unit length) while it keeps finding relevant records. A *dry
    spell* is a run of irrelevant labels since the last relevant one at least ``dry_factor`` times
    the mean gap between relevant records so far (labels / relevant found) and at least
    ``min_dry`` long. During a dry spell the second SVM (words plus meaning: the whole matrix) is
    fitted too, and each record shown comes from its ranking with probability ``share`` (a seeded
    coin per record) and from the words' otherwise, each ranker giving its best record not yet
    picked. When the words stop finding relevant records, the records the meaning ranker rates
    highest are mostly ones described in other words (in the benchmark, animal models of
    depression: WSS@95 about 12 points above ASReview's); while the words find relevant records,
    nothing changes. Outside dry spells, the ranking is the plain ``svm``'s.

    ``history_`` records after each refit whether the search was widened, and
    ``found_by_meaning_`` counts the relevant records the meaning ranker proposed (for the methods
    section). The rule and its three numbers were chosen on the benchmark's six reviews
    (``docs/methods/screening.md`` lists the variants and their results).
    """

    NAMES = ("words", "widened")

    def __init__(self, C: float = 0.11, seed: int = 0, share: float = 0.15, dry_factor: float = 2.0,
                 min_dry: int = 20, depth: int = 200, meaning_dim: int | None = None):
        if not 0 < share < 1:
            raise ParameterError("share", share, "a share strictly between 0 and 1 (e.g. 0.15)")
        self.C, self.seed, self.share = float(C), int(seed), float(share)
        self.dry_factor, self.min_dry, self.depth = float(dry_factor), int(min_dry), int(depth)
        # the meaning ranker only proposes a share of the records: LIBLINEAR's default tolerance
        # (0.1) ranks as well as 1e-3 there at a fraction of the CPU (benchmark, 2026-12-01)
        self.rankers = (LinearSVM(C=C), LinearSVM(C=C, tol=0.1))
        self._blocks = _WordsBlock(meaning_dim)
        self.history_: list[dict] = []
        self.found_by_meaning_ = 0
        self._proposed: set[int] = set()  # records the meaning ranker picked in the last refit
        self._rng = np.random.default_rng(seed)
        self._n_previous = 0

    def prepare(self, X) -> None:
        """Derive the words' block once, when the session starts (not in the first refresh)."""
        self._blocks.words(X)

    def _score(self, k: int, M, rows, y, weights) -> np.ndarray:
        self.rankers[k].fit_rows(M, rows, y, weights)
        coef = np.asarray(self.rankers[k].coef_, dtype=np.float32).ravel()
        return M @ coef + float(self.rankers[k].intercept_[0])

    def dry_spell(self, y: np.ndarray) -> bool:
        """Whether the labels so far (in the order given) end in a dry spell."""
        found = np.flatnonzero(y == 1)
        dry = len(y) - 1 - (int(found[-1]) if len(found) else -1)
        return dry >= max(self.min_dry, self.dry_factor * len(y) / max(1, len(found)))

    def rank_scores(self, X, rows: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Refit on ``rows`` (in labelling order) and return scores whose descending order is the
        order to show."""
        rows, y = np.asarray(rows), np.asarray(y)
        new = rows[self._n_previous:][y[self._n_previous:] == 1]
        self.found_by_meaning_ += sum(int(r) in self._proposed for r in new)
        self._n_previous = len(rows)
        self._proposed = set()
        words = self._score(0, self._blocks.words(X), rows, y, weights)
        widen = self.dry_spell(y)
        out = self._mix(words, self._score(1, X, rows, y, weights), rows) if widen else words
        self.history_.append({"labels": len(rows), "follows": self.NAMES[int(widen)],
                              "found_by_meaning": self.found_by_meaning_})
        return out

    def _mix(self, words: np.ndarray, meaning: np.ndarray, rows) -> np.ndarray:
        """The first ``depth`` records, each from the meaning ranker with probability ``share``,
        scored above the rest (which follow the words' ranking)."""
        free = np.ones(len(words), dtype=bool)
        free[rows] = False
        free = np.flatnonzero(free)
        depth = min(self.depth, len(free))
        tops = [free[np.argsort(-s[free], kind="stable")[:depth]] for s in (words, meaning)]
        coins = self._rng.random(depth) < self.share
        picked: list[int] = []
        taken: set[int] = set()
        cursor = [0, 0]
        for meaning_turn in coins:
            for k in ((1, 0) if meaning_turn else (0, 1)):  # the other ranker if one runs out
                while cursor[k] < depth and int(tops[k][cursor[k]]) in taken:
                    cursor[k] += 1
                if cursor[k] < depth:
                    r = int(tops[k][cursor[k]])
                    taken.add(r)
                    picked.append(r)
                    if k == 1:
                        self._proposed.add(r)
                    break
        out = words - words.max() - 1.0  # the rest: below every pick
        out[np.asarray(picked, dtype=np.int64)] = np.arange(len(picked), 0, -1, dtype=out.dtype)
        return out


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
    weights = balanced_weights(y, balance)
    if hasattr(model, "rank_scores"):  # a model that chooses between rankers (SelectSVM)
        return model.rank_scores(X, np.asarray(train_idx), y, weights)
    if hasattr(model, "fit_rows"):  # converts X once, then points at the labelled rows
        model.fit_rows(X, np.asarray(train_idx), y, sample_weight=weights)
    else:
        Xt = X[train_idx]
        if Xt.dtype != np.float64:
            # LIBLINEAR needs float64; converting here (the labelled rows only) with the rows' sorted
            # column order declared spares scikit-learn's conversion, which re-sorts every row's
            # indices on each refit
            sorted_rows = bool(getattr(X, "has_sorted_indices", False))
            Xt = Xt.astype(np.float64)
            if sorted_rows:
                Xt.has_sorted_indices = True
        model.fit(Xt, y, sample_weight=weights)
    if hasattr(model, "feature_log_prob_"):  # naive Bayes: log P(x|1) - log P(x|0)
        diff = (model.feature_log_prob_[1] - model.feature_log_prob_[0]).astype(np.float32)
        return X @ diff + float(model.class_log_prior_[1] - model.class_log_prior_[0])
    coef = np.asarray(model.coef_, dtype=np.float32).ravel()
    return X @ coef + float(np.ravel(model.intercept_)[0])
