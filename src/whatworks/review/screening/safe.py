"""The SAFE procedure (Boetje & van de Schoot 2024): four phases of screening with active learning.

1. **Random**: screen a random sample of the records (default 1%, and until it holds a relevant and
   an irrelevant record) as training data; it also estimates how many relevant records there are.
2. **Active learning**: screen in the model's order until *all* of: at least twice the estimated
   number of relevant records screened, at least 10% of the records screened, and 50 irrelevant
   records in a row (:func:`~whatworks.review.screening.stopping.safe_phase2_rule`); SAFE also asks
   that every key paper known in advance was found, which the reviewer confirms.
3. **Different model**: re-rank the records not yet screened with a different classifier (SAFE
   suggests a heavier one) and screen until 50 irrelevant records in a row.
4. **Quality check**: a second screener checks the top-ranked excluded records and the reference
   lists; this is for people, so the procedure reports it as due and does not simulate it.

:class:`SafeProcedure` tracks the phase of a screening from its labels; :func:`simulate_safe` replays
a labelled review through phases 1-3 and reports where it stopped, the recall and the work saved.

References
----------
Boetje J, van de Schoot R (2024). The SAFE procedure: a practical stopping heuristic for active
learning-based screening in systematic reviews and meta-analyses. Systematic Reviews 13:81.
doi:10.1186/s13643-024-02502-7
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from whatworks.errors import ParameterError

from .session import ScreeningSession
from .stopping import ConsecutiveIrrelevantRule, safe_phase2_rule

__all__ = ["DEFAULT_PHASE3_MODEL", "PHASES", "SafeProcedure", "phase3_features", "safe_next",
           "simulate_safe"]

PHASES = {1: "random sample for training data", 2: "active learning", 3: "different model",
          4: "quality check by a second screener"}


@dataclass
class SafeProcedure:
    """Which SAFE phase a screening is in, from the labels given so far (in order)."""

    n_records: int
    random_share: float = 0.01
    consecutive: int = 50
    min_share: float = 0.10
    phase: int = 1
    n_random: int = 0
    relevant_in_random: int = 0
    phase_started_at: int = 0

    def __post_init__(self):
        if not 0 < self.random_share < 1:
            raise ParameterError("random_share", self.random_share, "a share between 0 and 1 (SAFE: 0.01)")
        self._labels: list[int] = []

    @property
    def random_sample_size(self) -> int:
        return max(1, math.ceil(self.random_share * self.n_records))

    def update(self, label: int) -> int:
        """Record the next label; returns the phase the *next* record belongs to."""
        self._labels.append(int(label))
        y = np.asarray(self._labels)
        if self.phase == 1:
            self.n_random += 1
            self.relevant_in_random += int(label)
            has_both = 0 < self.relevant_in_random < self.n_random
            if self.n_random >= self.random_sample_size and has_both:
                self._advance(2)
        elif self.phase == 2:
            rule = safe_phase2_rule(n_random=self.n_random, relevant_in_random=self.relevant_in_random,
                                    n_records=self.n_records, consecutive=self.consecutive,
                                    min_share=self.min_share)
            if rule.check(y, self.n_records).stop:
                self._advance(3)
        elif self.phase == 3:
            run = ConsecutiveIrrelevantRule(self.consecutive)
            if len(y) - self.phase_started_at >= self.consecutive and run.check(
                    y[self.phase_started_at:], self.n_records).stop:
                self._advance(4)
        return self.phase

    def _advance(self, phase: int) -> None:
        self.phase = phase
        self.phase_started_at = len(self._labels)

    def describe(self) -> str:
        return (f"the SAFE procedure (Boetje & van de Schoot 2024): a random {100 * self.random_share:g}% "
                f"of the records first; active learning until twice the estimated number of relevant "
                f"records, {100 * self.min_share:g}% of the records and {self.consecutive} irrelevant "
                f"records in a row were screened; then a different model until {self.consecutive} "
                "irrelevant records in a row; then a quality check by a second screener")


def simulate_safe(task: dict[str, Any]) -> dict[str, Any]:
    """Replay phases 1-3 of SAFE on a labelled review (a :func:`whatworks.compute.map_tasks` task).

    ``task``: ``X``, ``labels``, ``seed``, ``model`` (phase 2), ``model_phase3`` and, optionally,
    ``X_phase3`` (phase 3's own features; default ``X``).
    """
    X, y, seed = task["X"], np.asarray(task["labels"]), int(task["seed"])
    n = len(y)
    proc = SafeProcedure(n, random_share=task.get("random_share", 0.01))
    rng = np.random.default_rng(seed)
    session = ScreeningSession(X, model=task.get("model", "svm"), seed=seed)
    phase_at = {}
    random_order = rng.permutation(n)
    cursor = 0
    switched = False  # to phase 3's model (which may be the same model on other features)
    while proc.phase < 4 and len(session.history_) < n:
        if proc.phase == 1:
            while session.labels_[random_order[cursor]] >= 0:
                cursor += 1
            i = int(random_order[cursor])
        else:
            if proc.phase == 3 and not switched:
                switched = True
                old = session
                session = ScreeningSession(task.get("X_phase3", X),
                                           model=task.get("model_phase3", "logistic"), seed=seed)
                for step in old.history_:
                    session.label(step.index, step.label, source=step.source)
            i = int(session.next(1)[0])
        before = proc.phase
        session.label(i, int(y[i]), source="random" if before == 1 else "model")
        if proc.update(int(y[i])) != before:
            phase_at[proc.phase] = len(session.history_)
    screened = len(session.history_)
    found = session.n_relevant_found
    return {"seed": seed, "stopped_at": screened, "recall": found / int(y.sum()),
            "work_saved": 1 - screened / n, "phase_starts": phase_at,
            "n_random": proc.n_random, "rule": proc.describe()}


#: The classifier SAFE's phase 3 re-ranks with unless told otherwise (a different model from the
#: default's SVMs, on the same features).
DEFAULT_PHASE3_MODEL = "logistic"


def phase3_features(model_phase3: str, model: str, features: str | None = None,
                    features_phase3: str | None = None, *, option: str = "model_phase3") -> str:
    """The features phase 3's model reads: ``features_phase3`` if given, else the screening
    model's (one matrix then serves both). A phase-3 model that cannot read them, or that is the
    screening model on the same features, is a :class:`ParameterError` naming ``option``."""
    from .registry import resolve_features

    features = resolve_features(model, features)
    own = features_phase3 if features_phase3 is not None else features
    if model_phase3 == model and own == features:
        raise ParameterError(option, model_phase3, f"a model other than the one screening ({model}) "
                             "or other features: SAFE's phase 3 re-ranks with a different model")
    try:
        resolve_features(model_phase3, own)
    except ParameterError as exc:
        whose = "" if features_phase3 is not None else "the screening model's "
        raise ParameterError(option, model_phase3, f"a model that reads {whose}{own} features "
                             f"({exc.allowed})") from None
    return own


def safe_next(session: ScreeningSession, n: int, *, seed: int = 0, random_share: float = 0.01,
              consecutive: int = 50, min_share: float = 0.10,
              model_phase3: str = DEFAULT_PHASE3_MODEL,
              X_phase3=None) -> tuple[list[int], Any, dict[str, Any]]:
    """Where a screening in progress stands in the SAFE procedure, and the records it asks for next.

    ``session`` holds the decisions so far, in order (:func:`~.screen.replay`); priors (decisions
    labelled before the tool was used) are not part of the procedure and are left out of its count.
    The phase is worked out from the other decisions' labels, as :class:`SafeProcedure` tracks it.

    Returns the indices of up to ``n`` records to screen next, the scores they were ranked by (None
    for a random draw) and the standing (a dict for JSON):

    - phase 1: a seeded random draw (the same permutation of the records on every run, so the
      sample is random whatever the model would rank), no more than the sample still needs;
    - phase 2: the session's model order;
    - phase 3: ``model_phase3`` (a different classifier, on ``X_phase3`` if given, else on the
      session's features) fitted on every decision, its order;
    - phase 4: none: screening is over; ``quality_check`` lists the ``n`` excluded records that the
      phase-3 model ranks highest, for a second screener to check.
    """
    if model_phase3 == session.model_name and X_phase3 is None:
        raise ParameterError("model_phase3", model_phase3, "a model other than the one screening "
                             f"({session.model_name}): SAFE's phase 3 re-ranks with a different one")
    steps = [s for s in session.history_ if s.source != "prior"]
    proc = SafeProcedure(session.n_records, random_share=random_share, consecutive=consecutive,
                         min_share=min_share)
    starts: dict[int, int] = {}
    not_random = 0
    for k, step in enumerate(steps, start=1):
        not_random += proc.phase == 1 and step.source != "random"
        before = proc.phase
        if proc.update(step.label) != before:
            starts[proc.phase] = k
    unscreened = np.flatnonzero(session.labels_ < 0)
    standing: dict[str, Any] = {
        "phase": proc.phase, "phase_name": PHASES[proc.phase], "phase_starts": starts,
        "screened_in_procedure": len(steps),
        "priors_left_out": len(session.history_) - len(steps),
        "random_sample": {"size": proc.random_sample_size, "screened": proc.n_random,
                          "relevant": proc.relevant_in_random, "not_random_draws": int(not_random)},
        "estimated_relevant": None, "model_phase3": model_phase3, "quality_check": [],
        "procedure": proc.describe()}
    if proc.phase > 1:
        standing["estimated_relevant"] = proc.relevant_in_random / proc.n_random * session.n_records
    y = np.array([s.label for s in steps], dtype=np.int64)
    run = len(y) - (int(np.flatnonzero(y)[-1]) + 1 if y.any() else 0)
    if proc.phase == 1:
        order = np.random.default_rng(seed).permutation(session.n_records)
        still = max(1, proc.random_sample_size - proc.n_random)
        picked = [int(i) for i in order if session.labels_[i] < 0][:min(n, still)]
        standing["next_step"] = (f"screen a random sample: {proc.n_random} of at least "
                                 f"{proc.random_sample_size} random records screened"
                                 + ("" if 0 < proc.relevant_in_random < proc.n_random else
                                    ", and the sample needs a relevant and an irrelevant record"))
        if not_random:
            standing["next_step"] += (f"; {not_random} of its decisions were not random draws, so "
                                      "the estimate of relevant records from it is biased")
        return picked, None, standing
    if proc.phase == 2:
        est = standing["estimated_relevant"]
        need = math.ceil(2 * est)
        share = math.ceil(min_share * session.n_records)
        standing["phase2_progress"] = {"screened": len(y), "needed_for_twice_estimate": need,
                                       "needed_for_share": share, "irrelevant_in_a_row": run,
                                       "needed_in_a_row": consecutive}
        standing["next_step"] = (f"active learning until all of: {len(y)} of {need} screened (twice "
                                 f"the {est:.1f} relevant estimated), {len(y)} of {share} "
                                 f"({100 * min_share:g}% of the records), {run} of {consecutive} "
                                 "irrelevant records in a row; and confirm every key paper known "
                                 "in advance was found")
        return [int(i) for i in session.next(n)], session.scores_, standing
    other = ScreeningSession(session.X if X_phase3 is None else X_phase3, model=model_phase3,
                             seed=session.seed)
    for step in session.history_:
        other.label(step.index, step.label, source=step.source)
    other.refresh()
    if proc.phase == 3:
        in_phase = len(y) - starts.get(3, len(y))
        run = min(run, in_phase)  # the run counts from the start of phase 3
        standing["next_step"] = (f"a different model ({model_phase3}) re-ranks the rest: {run} of "
                                 f"{consecutive} irrelevant records in a row ({in_phase} screened in "
                                 "this phase)")
        return ([int(i) for i in other.next(n)] if unscreened.size else []), other.scores_, standing
    excluded = np.flatnonzero(session.labels_ == 0)
    if other.scores_ is not None and excluded.size:
        top = excluded[np.argsort(-other.scores_[excluded], kind="stable")[:n]]
        standing["quality_check"] = [{"index": int(i), "score": round(float(other.scores_[i]), 6)}
                                     for i in top]
    standing["next_step"] = ("screening is over: a second screener checks the excluded records the "
                             f"phase-3 model ranks highest (the {len(standing['quality_check'])} "
                             "listed) and the included records' reference lists")
    return [], other.scores_, standing
