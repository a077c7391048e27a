"""How much screening work a ranking saves: WSS@r, RRF@x, ATD and the recall curve.

All functions take the labels in the order the records were screened (1 relevant, 0 not), for the
records whose order the model decided: the prior (training) records are left out, as ASReview's
``asreview-insights`` does by default, so ``N`` is the number of records after the priors.
A label sequence may stop early (after the last relevant record was found); the records not
listed are then irrelevant ones screened after it, and ``n_total`` gives their number.

Definitions (``../shared/data/screening/README.md``; Ferdinands et al. 2023):

- WSS@r = (records not screened when recall r is first reached) / N - (1 - r); recall r is reached
  when ceil(r * R) of the R relevant records have been found.
- RRF@x = recall after screening floor(x% * N) records.
- ATD = mean, over the relevant records, of the share of records screened before it was found
  (records before it / N).

References
----------
Cohen AM, Hersh WR, Peterson K, Yen PY (2006). Reducing workload in systematic review preparation
using automated citation classification. JAMIA 13(2):206-219 (WSS).
Ferdinands G, Schram R, de Bruin J, et al. (2023). Performance of active learning models for
screening prioritization in systematic reviews: a simulation study into the Average Time to
Discover relevant records. Systematic Reviews 12:100 (ATD, RRF).
"""

from __future__ import annotations

import math

import numpy as np

from whatworks.errors import InputError, ParameterError

__all__ = ["atd", "recall_curve", "rrf", "wss"]


def _sequence(labels, n_total: int | None) -> tuple[np.ndarray, int]:
    y = np.asarray(labels)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise InputError("screening labels must be a sequence of 0 and 1")
    y = y.astype(np.int64)
    n = len(y) if n_total is None else int(n_total)
    if n < len(y):
        raise ParameterError("n_total", n_total, f"at least the {len(y)} labels given")
    if y.sum() == 0:
        raise InputError("no relevant record among the screened labels: the metrics are undefined")
    return y, n


def _target(recall: float, n_relevant: int) -> int:
    if not 0 < recall <= 1:
        raise ParameterError("recall", recall, "a share between 0 (excluded) and 1")
    return max(1, math.ceil(recall * n_relevant - 1e-9))


def wss(labels, recall: float = 0.95, *, n_total: int | None = None) -> float:
    """Work saved over sampling at ``recall`` (a share, e.g. 0.95), as a share of N (x100 for %)."""
    y, n = _sequence(labels, n_total)
    found = np.cumsum(y)
    screened = int(np.searchsorted(found, _target(recall, int(y.sum())))) + 1
    return (n - screened) / n - (1.0 - recall)


def rrf(labels, percent: float = 10.0, *, n_total: int | None = None) -> float:
    """Relevant records found after screening ``percent`` % of the records, as a share of them."""
    y, n = _sequence(labels, n_total)
    if not 0 <= percent <= 100:
        raise ParameterError("percent", percent, "a percentage between 0 and 100")
    k = math.floor(percent / 100.0 * n + 1e-9)
    return float(y[:k].sum() / y.sum())


def atd(labels, *, n_total: int | None = None) -> float:
    """Average time to discovery: mean share of records screened before each relevant one."""
    y, n = _sequence(labels, n_total)
    before = np.flatnonzero(y)  # 0-based position = records screened before it
    return float(before.mean() / n)


def recall_curve(labels, *, n_total: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(records screened, recall) after each record, 0..N, padded with irrelevant records to N."""
    y, n = _sequence(labels, n_total)
    full = np.zeros(n, dtype=np.int64)
    full[:len(y)] = y
    found = np.concatenate([[0], np.cumsum(full)])
    return np.arange(n + 1), found / found[-1]
