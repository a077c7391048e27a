"""A screening session: records, the labels given so far, the model, the next records to show.

The reviewer labels records one at a time (or in batches); the session refits its classifier on
the labels so far and shows the highest-scoring unscreened records next. Refitting is cheap: the
features are extracted once, a refit trains a linear model on the labelled rows only, and scoring
is one sparse matrix-vector product over all records. With ``refit="auto"`` the model is refit
after every label early on and after every relevant label, and otherwise after a number of
irrelevant labels that grows with the labelled set (2% of it): an irrelevant label late in the
review moves the ranking little, and this keeps a refresh well under a second at 100,000 records.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from whatworks.errors import InputError, ParameterError

from .models import DEFAULT_BALANCE, MODELS, fit_scores, make_model

__all__ = ["ScreeningSession", "Step"]


@dataclass(frozen=True)
class Step:
    """One labelling decision in the session's history."""

    index: int
    label: int
    source: str  # "prior" (given before the model), "random" (no model yet) or "model"
    n_trained_on: int  # labels the model that proposed it was trained on (0: no model)


class ScreeningSession:
    """Active-learning screening over a fixed feature matrix.

    Parameters
    ----------
    X : sparse matrix, one row per record (see :func:`~whatworks.review.screening.features.extract`).
    model : a name in :data:`~whatworks.review.screening.models.MODELS`. The session's own default
        is ``"svm"``, which works on any features; the product's default
        (:data:`~whatworks.review.screening.registry.DEFAULT_MODEL`, ``svm-widen``) needs the
        ``tfidf-meaning`` features (:func:`~whatworks.review.screening.registry.default_features`),
        so callers that extract features for it pass it by name, as the CLI and the simulation do.
    balance : total weight of the relevant records relative to the irrelevant ones (1 = equal;
        default :data:`~whatworks.review.screening.models.DEFAULT_BALANCE`).
    refit : ``"auto"`` (see the module docstring) or a whole number: refit after that many labels.
    refit_share : with ``refit="auto"``, the share of the labelled set after which to refit.
    seed : seeds the random choice of records while there is no model yet (no relevant and
        irrelevant label yet), ties, and svm-select's interleaving.
    """

    def __init__(self, X, *, model: str = "svm", balance: float = DEFAULT_BALANCE, refit: str | int = "auto",
                 refit_share: float = 0.02, seed: int | None = None, C: float | None = None):
        if model not in MODELS:
            raise ParameterError("model", model, ", ".join(MODELS))
        if refit != "auto" and (isinstance(refit, bool) or not isinstance(refit, int) or refit < 1):
            raise ParameterError("refit", refit, "'auto' or a whole number of labels, 1 or more")
        if not balance > 0:
            raise ParameterError("balance", balance, "a positive number")
        self.X = X
        self.model_name, self.balance, self.refit, self.refit_share, self.seed = (
            model, float(balance), refit, float(refit_share), seed)
        self.model = make_model(model, C=C, seed=seed)
        if hasattr(self.model, "prepare"):  # work a model does once per matrix, before any refresh
            self.model.prepare(X)
        n = X.shape[0]
        self.labels_ = np.full(n, -1, dtype=np.int8)
        self.history_: list[Step] = []
        self.scores_: np.ndarray | None = None
        self.n_refits_ = 0
        self.stopping_: list[dict] = []
        self.refit_seconds_ = 0.0
        self._rng = np.random.default_rng(seed)
        self._order: np.ndarray | None = None
        self._cursor = 0
        self._since_fit = 0
        self._relevant_since_fit = False
        self._trained_on = 0

    # -- state -------------------------------------------------------------------------------
    @property
    def n_records(self) -> int:
        return self.X.shape[0]

    @property
    def labelled(self) -> np.ndarray:
        """Indices of the labelled records, in the order they were labelled."""
        return np.array([s.index for s in self.history_], dtype=np.int64)

    @property
    def n_relevant_found(self) -> int:
        return int((self.labels_ == 1).sum())

    # -- labelling ---------------------------------------------------------------------------
    def label(self, index: int, label: int, *, source: str | None = None) -> None:
        """Record the reviewer's decision on record ``index`` (1 relevant, 0 irrelevant)."""
        index = int(index)
        if not 0 <= index < self.n_records:
            raise ParameterError("index", index, f"a record index from 0 to {self.n_records - 1}")
        if label not in (0, 1):
            raise ParameterError("label", label, "1 (relevant) or 0 (irrelevant)")
        if self.labels_[index] != -1:
            raise InputError(f"record {index} is already labelled {int(self.labels_[index])}")
        self.labels_[index] = label
        if source is None:
            source = "model" if self.scores_ is not None else "random"
        self.history_.append(Step(index, int(label), source, self._trained_on))
        self._since_fit += 1
        self._relevant_since_fit |= bool(label)

    def _due(self) -> bool:
        if self._since_fit == 0 and self.scores_ is not None:
            return False
        labels = self.labels_[self.labels_ >= 0]
        if labels.min(initial=1) == 1 or labels.max(initial=0) == 0:
            return False  # need both classes to train
        if self.scores_ is None or self._relevant_since_fit:
            return True
        if self.refit == "auto":
            return self._since_fit >= max(1, math.floor(self.refit_share * len(self.history_)))
        return self._since_fit >= self.refit

    def refresh(self) -> bool:
        """Refit the model on every label so far and re-rank the unscreened records.

        Returns False (and changes nothing) while there is not yet a label of each class.
        """
        train = self.labelled
        y = self.labels_[train].astype(np.int64)
        if y.min(initial=1) == 1 or y.max(initial=0) == 0:
            return False
        start = time.perf_counter()
        scores = fit_scores(self.model, self.X, train, y, balance=self.balance)
        unlabelled = np.flatnonzero(self.labels_ < 0)
        # highest score first; ties broken by a seeded random key so no record order leaks in
        key = self._rng.random(len(unlabelled))
        self._order = unlabelled[np.lexsort((key, -scores[unlabelled]))]
        self._cursor = 0
        self.scores_ = scores
        self.refit_seconds_ += time.perf_counter() - start
        self.n_refits_ += 1
        self._since_fit = 0
        self._relevant_since_fit = False
        self._trained_on = len(train)
        return True

    # -- stopping ----------------------------------------------------------------------------
    def _order_labels(self) -> np.ndarray:
        return np.array([s.label for s in self.history_], dtype=np.int64)

    def recall_estimate(self, *, window: int | None = None, **kwargs):
        """Running estimate of recall and of relevant records unseen (see ``stopping.estimate_recall``).

        The default window is the estimator's (a fifth of the records screened, at least 50) cut
        to the records labelled after the priors: priors were chosen, not drawn, so they are never
        taken as part of the sample."""
        from .stopping import estimate_recall

        if window is None:
            screened = len(self.history_)
            after_priors = screened - sum(s.source == "prior" for s in self.history_)
            window = max(50, screened // 5)
            if after_priors > 0:
                window = min(window, after_priors)
        return estimate_recall(self._order_labels(), self.n_records, window=window, **kwargs)

    def check_stopping(self, rule):
        """Ask a stopping rule whether to stop now; the decision and the rule's description are kept
        in ``stopping_`` (for the methods section)."""
        n_prior = sum(s.source == "prior" for s in self.history_)
        decision = rule.check(self._order_labels(), self.n_records, n_prior=n_prior)
        self.stopping_.append({"screened": len(self.history_), "stop": decision.stop,
                               "rule": rule.describe(), "reason": decision.reason})
        return decision

    def next(self, n: int = 1) -> np.ndarray:
        """The next ``n`` records to show (refitting first when due)."""
        if self._due():
            self.refresh()
        out: list[int] = []
        if self._order is None:  # no model yet: a random unscreened record
            pool = np.flatnonzero(self.labels_ < 0)
            return self._rng.choice(pool, size=min(n, len(pool)), replace=False)
        while len(out) < n and self._cursor < len(self._order):
            i = int(self._order[self._cursor])
            self._cursor += 1
            if self.labels_[i] < 0:
                out.append(i)
        return np.array(out, dtype=np.int64)
