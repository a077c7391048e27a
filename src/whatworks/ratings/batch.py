"""Re-rating a whole evidence store in one pass (when a scheme version changes).

``rate_evidence_batch(findings, outcomes=..., scheme=...)`` takes one long findings table with
``intervention`` and ``outcome`` columns and returns the same :class:`EvidenceRating` for every
intervention x outcome as :func:`rate_evidence` would, but fits all the one-effect-per-study
syntheses together: they are grouped by the model the scheme gives their number of studies (the
single study, 2 studies with the small-k test, 3 or more with the main test), padded into
``(n, k_max)`` arrays and fitted by :func:`whatworks.synthesis.batch.meta_analysis_batch` in one
vectorised call per group; Egger's small-study tests are one vectorised meta-regression fit.
Syntheses with several effects per study (three-level model and CR2) are fitted one by one (the
synthesis engine has no batched multilevel model). The rating rules themselves are
pure Python and cheap.

Tested equal to :func:`rate_evidence` on every demo intervention and on generated stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from .framework import Outcome, get_outcome
from .pipeline import EvidenceRating, _check_study_facts, _rows, finish, fit_prepared, prepare
from .rate import _resolve_scheme
from .schemes import Scheme

__all__ = ["rate_evidence_batch"]


@dataclass(frozen=True)
class BatchFit:
    """One meta-analysis of a batch, with the fields the rating reads (intercept-only)."""

    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    i2: float
    p: int = 1


def _fit_group(members, p, method: str, test: str) -> dict:
    """Fit a group of syntheses with the same model in one vectorised call."""
    from ..synthesis.batch import meta_analysis_batch

    k_max = max(len(prep.pooled) for _, prep in members)
    Y = np.full((len(members), k_max), np.nan)
    V = np.full((len(members), k_max), np.nan)
    for row, (_, prep) in enumerate(members):
        y = [prep.effects[s][0] for s in prep.pooled]
        v = [prep.effects[s][1] for s in prep.pooled]
        Y[row, :len(y)], V[row, :len(v)] = y, v
    out = meta_analysis_batch(Y, V, method=method, test=test)
    fits = {}
    for row, (key, _) in enumerate(members):
        fits[key] = BatchFit(method=method, test=test, level=float(out.level), k=int(out.k[row]),
                             estimate=float(out.estimate[row]), se=float(out.se[row]),
                             ci_lower=float(out.ci_lower[row]), ci_upper=float(out.ci_upper[row]),
                             pi_lower=float(out.pi_lower[row]), pi_upper=float(out.pi_upper[row]),
                             tau2=float(out.tau2[row]), i2=float(out.i2[row]))
    return fits


def _egger_group(members, p) -> dict:
    """Egger's regression test for many syntheses in one vectorised meta-regression fit.

    The same model as :func:`whatworks.synthesis.bias.egger_test` (metafor ``regtest``, model
    "rma": the synthesis's own estimator and test with the standard error as moderator), fitted
    by the synthesis engine's batch code path; tested equal to the one-by-one check.
    """
    from ..synthesis.model import _fit
    from ..synthesis.tau2 import Batch, Control

    k_max = max(len(prep.pooled) for _, prep in members)
    n = len(members)
    Y, V, M = np.zeros((n, k_max)), np.ones((n, k_max)), np.zeros((n, k_max))
    for row, (_, prep) in enumerate(members):
        k = len(prep.pooled)
        Y[row, :k] = [prep.effects[s][0] for s in prep.pooled]
        V[row, :k] = [prep.effects[s][1] for s in prep.pooled]
        M[row, :k] = 1.0
    X = np.stack([np.ones_like(Y), np.sqrt(V) * M], axis=-1)
    out = _fit(Batch(Y, V, X, M), p.estimator, p.test, 95.0, Control(), intercept=True,
               q_profile=False)
    results = {}
    for row, (key, prep) in enumerate(members):
        pv, stat = float(out["p_value"][row, 1]), float(out["statistic"][row, 1])
        results[key] = {"test": "egger", "k": len(prep.pooled), "alpha": p.small_study_alpha,
                        "statistic": stat, "p_value": pv, "suspected": bool(pv < p.small_study_alpha),
                        "not_run": None}
    return results


def rate_evidence_batch(findings: pd.DataFrame, *, outcomes: Mapping[str, Outcome | str] | None = None,
                        scheme: Scheme | str | None = None,
                        review_amstar2: Mapping[str, str | None] | None = None,
                        file: str | None = None) -> dict[tuple[str, str], EvidenceRating]:
    """Rate every intervention x outcome of a long findings table in one pass.

    Parameters
    ----------
    findings : the columns of :func:`rate_evidence` plus ``intervention`` and ``outcome``.
    outcomes : outcome slug -> :class:`Outcome` (or a slug of the framework); slugs not given are
        looked up in the outcomes framework.
    scheme : as for :func:`rate_evidence`.
    review_amstar2 : intervention -> the AMSTAR 2 rating of its source review.

    Returns
    -------
    dict mapping (intervention, outcome) to its :class:`EvidenceRating`.
    """
    scheme = _resolve_scheme(scheme)
    p = scheme.parameters
    for column in ("intervention", "outcome"):
        if column not in findings.columns:
            raise InputError("no such column; a store-wide findings table needs intervention and "
                             "outcome columns", file=file, column=column)
    rows = _rows(findings, file, check=False)     # study labels are per intervention x outcome
    keys = list(zip(findings["intervention"].astype(str), findings["outcome"].astype(str),
                    strict=True))
    grouped: dict[tuple[str, str], list] = {}
    for key, row in zip(keys, rows, strict=True):
        grouped.setdefault(key, []).append(row)
    for group in grouped.values():
        _check_study_facts(group, file)
    outcomes = dict(outcomes or {})
    resolved: dict[str, Outcome] = {}
    for _, slug in grouped:
        if slug not in resolved:
            given = outcomes.get(slug, slug)
            resolved[slug] = get_outcome(given) if isinstance(given, str) else given
    prepared = {key: prepare(rs, p) for key, rs in grouped.items()}

    # one vectorised fit per model; the three-level fits one by one
    fits: dict[tuple[str, str], object] = {}
    notes: dict[tuple[str, str], str | None] = {}
    classes: dict[tuple[str, str], list] = {}
    for key, prep in prepared.items():
        if not prep.poolable:
            continue
        k = len(prep.pooled)
        if prep.several and k >= 2:
            fits[key], notes[key] = fit_prepared(prep, p)
            continue
        y = [prep.effects[s][0] for s in prep.pooled]
        if k >= 2 and max(y) == min(y):
            # identical effects: Knapp-Hartung is undefined; fitted alone so the reason is
            # reported exactly as rate_evidence reports it
            fits[key], notes[key] = fit_prepared(prep, p)
            continue
        if k == 1:
            model = (p.single_study_model, "z")
        else:
            model = (p.estimator, p.test if k >= p.knha_min_studies else p.test_small_k)
        classes.setdefault(model, []).append((key, prep))
    for (method, test), members in classes.items():
        try:
            batch = _fit_group(members, p, method, test)
        except np.linalg.LinAlgError:      # a degenerate member: fit each alone (same results)
            batch = {key: fit_prepared(prep, p) for key, prep in members}
            for key, (fit, note) in batch.items():
                fits[key], notes[key] = fit, note
            continue
        fits.update(batch)
    # Egger's test for every synthesis with enough studies, one vectorised fit per batch
    small: dict = {}
    if p.small_study_test == "egger":
        members = []
        for key, prep in prepared.items():
            fit = fits.get(key)
            k = len(prep.pooled)
            if fit is None or k < max(2, p.small_study_min_studies):
                continue
            sei = np.sqrt([prep.effects[s][1] for s in prep.pooled])
            if np.ptp(sei) > 1e-9 * sei.max():       # else not run; the one-by-one check says why
                members.append((key, prep))
        if members:
            try:
                small = _egger_group(members, p)
            except (np.linalg.LinAlgError, InputError):
                small = {}                             # the one-by-one check in finish() instead
    amstar = dict(review_amstar2 or {})
    out = {}
    for key, prep in prepared.items():
        extra = {"small_study": small[key]} if key in small else {}
        out[key] = finish(prep, fits.get(key), notes.get(key), outcome=resolved[key[1]],
                          scheme=scheme, review_amstar2=amstar.get(key[0]), **extra)
    return out
