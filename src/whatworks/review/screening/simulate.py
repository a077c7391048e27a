"""Replaying a labelled review: how early would active learning have shown the relevant records?

Each seed draws its prior records (``prior_relevant`` relevant and ``prior_irrelevant``
irrelevant ones, at random), then the session shows one record at a time and the known label is
given back, until every relevant record has been found (the rest would all be irrelevant, so the
metrics and the stopping rules need no more). Seeds run in parallel through
:func:`whatworks.compute.map_tasks` with per-seed seeds from :func:`whatworks.compute.task_seeds`,
so the results are identical on every backend.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from whatworks.errors import InputError, ParameterError

from . import metrics
from .data import Records
from .features import extract
from .models import DEFAULT_BALANCE
from .registry import DEFAULT_MODEL, resolve_features
from .session import ScreeningSession
from .stopping import ConsecutiveIrrelevantRule, RankedQuasiSampleRule, first_stop

__all__ = ["SimulationResult", "choose_priors", "default_rules", "evaluate_stopping", "simulate",
           "simulate_one"]


def choose_priors(labels, seed: int, prior_relevant: int = 1, prior_irrelevant: int = 1) -> list[int]:
    """The prior records of one simulation run: indices drawn at random with ``seed``."""
    y = np.asarray(labels)
    rel, irr = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if prior_relevant > len(rel) - 1 or prior_irrelevant > len(irr) - 1 or min(
            prior_relevant, prior_irrelevant) < 0:
        raise ParameterError("prior_relevant/prior_irrelevant", (prior_relevant, prior_irrelevant),
                             f"at most {len(rel) - 1} relevant and {len(irr) - 1} irrelevant priors, "
                             "so records of each class remain to be found")
    rng = np.random.default_rng(seed)
    chosen = list(rng.choice(rel, prior_relevant, replace=False)) + list(
        rng.choice(irr, prior_irrelevant, replace=False))
    return sorted(int(i) for i in chosen)


def default_rules(target: float = 0.95, confidence: float = 0.95, consecutive: int = 50) -> dict:
    """The stopping rules every simulation evaluates, by name."""
    return {"callaghan_ranked": RankedQuasiSampleRule(target, confidence),
            "consecutive_irrelevant": ConsecutiveIrrelevantRule(consecutive)}


def evaluate_stopping(labels, n_records: int, *, n_prior: int, rules: dict | None = None) -> dict:
    """Where each rule would stop on a replayed sequence, the recall there and the work saved.

    ``labels`` are in screening order (priors first) up to the last relevant record; the records
    after it are irrelevant, so the sequence is padded with zeros to ``n_records``.
    """
    y = np.zeros(n_records, dtype=np.int64)
    y[:len(labels)] = labels
    total = int(y.sum())
    out = {}
    for name, rule in (rules or default_rules()).items():
        if isinstance(rule, RankedQuasiSampleRule):
            at = rule.first_stop(y, n_records, n_prior=n_prior)
        else:
            m, d = first_stop(rule, y, n_records, start=n_prior + 1)
            at = m if d.stop else None
        found = int(y[:at].sum()) if at is not None else total
        out[name] = {"stopped_at": at, "recall": found / total,
                     "work_saved": 0.0 if at is None else 1 - at / n_records, "rule": rule.describe()}
    return out


def simulate_one(task: dict[str, Any]) -> dict[str, Any]:
    """One run (a :func:`whatworks.compute.map_tasks` task): X, labels, seed and the options."""
    X, y, seed = task["X"], np.asarray(task["labels"]), int(task["seed"])
    start, cpu = time.perf_counter(), time.process_time()
    priors = choose_priors(y, seed, task["prior_relevant"], task["prior_irrelevant"])
    session = ScreeningSession(X, model=task["model"], seed=seed,
                               balance=task.get("balance", DEFAULT_BALANCE), refit=task.get("refit", "auto"))
    for i in priors:
        session.label(i, int(y[i]), source="prior")
    total_relevant = int(y.sum())
    order: list[int] = []
    while session.n_relevant_found < total_relevant:
        i = int(session.next(1)[0])
        session.label(i, int(y[i]))
        order.append(i)
    seq = y[order]
    n_after_priors = len(y) - len(priors)
    stopping = evaluate_stopping(np.concatenate([y[priors], seq]), len(y), n_prior=len(priors))
    return {
        "seed": seed, "priors": priors, "order": order, "labels": seq.tolist(),
        "n_records": n_after_priors,
        "wss_95": 100 * metrics.wss(seq, 0.95, n_total=n_after_priors),
        "rrf_10": 100 * metrics.rrf(seq, 10, n_total=n_after_priors),
        "atd": 100 * metrics.atd(seq, n_total=n_after_priors),
        "stopping": stopping, "n_refits": session.n_refits_,
        "followed": (getattr(session.model, "history_", None) or [{}])[-1].get("follows"),
        "found_by_meaning": getattr(session.model, "found_by_meaning_", None),
        "refit_seconds": session.refit_seconds_,
        "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
    }


@dataclass(frozen=True)
class SimulationResult:
    """Medians over seeds of WSS@95, RRF@10 and ATD (in %), with every run in ``per_seed``."""

    wss_95: float
    rrf_10: float
    atd: float
    per_seed: list[dict[str, Any]] = field(repr=False)
    settings: dict[str, Any] = field(repr=False)
    #: With ``safe=True``: the SAFE procedure replayed on the same seeds (:func:`summarise_safe`).
    safe: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self, *, orders: bool = False) -> dict[str, Any]:
        runs = []
        for r in self.per_seed:
            d = {k: v for k, v in r.items() if k not in ("order", "labels")}
            if orders:
                d["order"] = r["order"]
            runs.append(d)
        out = {"wss_95": self.wss_95, "rrf_10": self.rrf_10, "atd": self.atd, "units": "percent",
               "per_seed": runs, "settings": self.settings}
        if self.safe is not None:
            out["safe"] = self.safe
        return out

    def plot(self, ax=None):
        """Recall against records screened, one line per seed, with random screening's diagonal."""
        if ax is None:
            from whatworks.synthesis.plots import new_figure  # no pyplot: nothing kept

            ax = new_figure(6, 4.5).add_subplot()
        for r in self.per_seed:
            x, rec = metrics.recall_curve(r["labels"], n_total=r["n_records"])
            ax.plot(100 * x / x[-1], 100 * rec, lw=1, alpha=0.8, label=f"seed {r['seed']}")
        ax.plot([0, 100], [0, 100], ls="--", color="grey", lw=1, label="random order")
        ax.axhline(95, color="grey", lw=0.5)
        ax.set_xlabel("records screened (%)")
        ax.set_ylabel("relevant records found (%)")
        ax.set_title(f"{self.settings['model']}: WSS@95 {self.wss_95:.1f}%, RRF@10 {self.rrf_10:.1f}%, "
                     f"ATD {self.atd:.1f}%", fontsize=9)
        if len(self.per_seed) <= 10:
            ax.legend(fontsize=7, loc="lower right")
        return ax


def simulate(records: Records, *, seeds: int = 5, seed: int = 0, model: str = DEFAULT_MODEL,
             features: str | None = None, prior_relevant: int = 1, prior_irrelevant: int = 1,
             balance: float = DEFAULT_BALANCE, refit: str | int = "auto", backend: str | None = None,
             workers: int | None = None, scheduler: str | None = None,
             progress: bool | None = None, safe: bool = False,
             safe_model: str | None = None, safe_features: str | None = None) -> SimulationResult:
    """Replay a labelled review ``seeds`` times and summarise WSS@95, RRF@10 and ATD.

    The per-run seeds come from ``task_seeds(seed, seeds)``; features are extracted once. With
    ``safe``, the SAFE procedure (:func:`~.safe.simulate_safe`: a random 1% sample, ``model``, then
    ``safe_model``, default ``logistic``, on ``safe_features``, default the model's own) is also
    replayed on the same seeds and summarised in ``safe`` (where it stopped, the recall there and
    the work saved).
    """
    from whatworks.compute import map_tasks, plan, task_seeds

    if records.labels is None:
        raise InputError("a simulation needs the reviewers' labels (column label_included)",
                         file=records.source, column="label_included")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ParameterError("seeds", seeds, "a whole number of runs, 1 or more")
    features = resolve_features(model, features)
    y = np.asarray(records.labels)
    if y.sum() < 2:
        raise InputError(f"{int(y.sum())} included record(s): a simulation needs at least 2 (one "
                         "prior and one to find)", file=records.source, column="label_included")
    choose_priors(y, 0, prior_relevant, prior_irrelevant)  # validate before starting workers
    if safe:
        from .safe import DEFAULT_PHASE3_MODEL, phase3_features

        safe_model = safe_model or DEFAULT_PHASE3_MODEL
        safe_features = phase3_features(safe_model, model, features, safe_features,
                                        option="safe_model")
    elif safe_model is not None or safe_features is not None:
        raise ParameterError("safe_model" if safe_model is not None else "safe_features",
                             safe_model or safe_features, "given only with safe (the SAFE "
                             "procedure's phase-3 model and features)")
    t0 = time.perf_counter()
    X = extract(records.texts, features)
    feature_seconds = time.perf_counter() - t0
    run_seeds = task_seeds(seed, seeds)
    tasks = [{"X": X, "labels": y, "seed": s, "model": model, "prior_relevant": prior_relevant,
              "prior_irrelevant": prior_irrelevant, "balance": balance, "refit": refit}
             for s in run_seeds]
    chosen = plan(len(tasks), backend=backend, workers=workers, scheduler=scheduler)
    runs = map_tasks(simulate_one, tasks, backend=backend, workers=workers, scheduler=scheduler,
                     progress=progress, description="simulations")
    settings = {"model": model, "features": features, "seeds": seeds, "seed": seed,
                "prior_relevant": prior_relevant, "prior_irrelevant": prior_irrelevant,
                "balance": balance, "refit": refit, "n_records": len(y), "n_included": int(y.sum()),
                "feature_seconds": feature_seconds, "seconds": time.perf_counter() - t0,
                "compute": chosen.to_dict(), "source": records.source}
    safe_summary = None
    if safe:
        from .safe import simulate_safe

        X3 = X if safe_features == features else extract(records.texts, safe_features)
        safe_runs = map_tasks(simulate_safe, [{"X": X, "X_phase3": X3, "labels": y, "seed": s,
                                               "model": model, "model_phase3": safe_model}
                                              for s in run_seeds],
                              backend=backend, workers=workers, scheduler=scheduler,
                              progress=progress, description="SAFE replays")
        safe_summary = summarise_safe(safe_runs, model, safe_model)
        safe_summary["features"], safe_summary["features_phase3"] = features, safe_features
        settings["seconds"] = time.perf_counter() - t0
    med = {k: float(np.median([r[k] for r in runs])) for k in ("wss_95", "rrf_10", "atd")}
    return SimulationResult(per_seed=runs, settings=settings, safe=safe_summary, **med)


def summarise_safe(runs: list[dict[str, Any]], model: str, model_phase3: str,
                   target: float = 0.95) -> dict[str, Any]:
    """SAFE replays over seeds: medians of recall and work saved, the share of runs whose recall
    reached ``target``, the lowest recall, and every run."""
    recall = np.array([r["recall"] for r in runs])
    return {"model": model, "model_phase3": model_phase3, "target": target,
            "recall_median": float(np.median(recall)), "recall_min": float(recall.min()),
            "reached_target": float(np.mean(recall >= target - 1e-12)),
            "work_saved_median": float(np.median([r["work_saved"] for r in runs])),
            "rule": runs[0]["rule"],
            "per_seed": [{k: r[k] for k in ("seed", "stopped_at", "recall", "work_saved",
                                            "phase_starts", "n_random")} for r in runs]}
