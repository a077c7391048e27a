"""When to stop screening: statistical estimates of recall, and stopping rules that can be combined.

A rule looks at the labels in the order they were given (priors first) and the number of records
``N``, and says whether to stop and why. Rules combine with :class:`AnyOf` / :class:`AllOf`, and
every rule describes itself in a sentence for the methods section (:meth:`Rule.describe`).

The statistics
--------------
Callaghan & Müller-Hansen (2020) test the null hypothesis that recall is below a target ``tau``.
Take a sample of ``n`` records drawn at random (without replacement) from the ``N_s`` records not
screened before the sample, in which ``k`` are relevant; ``r_AL`` relevant records were found before
the sample, so ``r = r_AL + k`` have been found in all. Recall is below ``tau`` exactly when the urn
held more than ``r / tau - r_AL`` relevant records, that is at least

    K_tar = floor(r / tau - r_AL) + 1,

and the p-value is the probability of seeing ``k`` or fewer relevant records in such a sample,
``P(X <= k)`` with ``X ~ Hypergeometric(N_s, K_tar, n)`` (fewer relevant in the urn only makes
small ``k`` likelier, so ``K_tar`` is the least favourable case under the null). Screening stops when
``p < 1 - confidence``.

- :class:`RandomSampleRule` is the test as published for a random sample drawn after a stopping
  point (screening switches from the ranking to random draws from the rest); the test is exact.
- :class:`RankedQuasiSampleRule` applies the same test while screening in ranked order, treating
  the last ``n`` records screened as if they were a random sample of the records not screened before
  them, for every ``n`` (the smallest p-value counts), as Callaghan & Müller-Hansen propose for
  prioritised screening: ranked records are richer in relevant ones than a random sample would be,
  which makes the test conservative in practice (checked by simulation in the benchmark: the
  recall target must be reached in at least 95% of stopped runs).

References
----------
Callaghan MW, Müller-Hansen F (2020). Statistical stopping criteria for automated screening in
systematic reviews. Systematic Reviews 9:273. doi:10.1186/s13643-020-01521-4
Boetje J, van de Schoot R (2024). The SAFE procedure: a practical stopping heuristic for active
learning-based screening in systematic reviews and meta-analyses. Systematic Reviews 13:81.
doi:10.1186/s13643-024-02502-7
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from whatworks.errors import InputError, ParameterError

__all__ = ["AllOf", "AnyOf", "ConsecutiveIrrelevantRule", "Decision", "MinimumScreenedRule",
           "RandomSampleRule", "RankedQuasiSampleRule", "RecallEstimate", "Rule", "estimate_recall",
           "first_stop", "k_target", "recall_p_value", "safe_phase2_rule"]


def _check_share(name: str, value: float) -> float:
    if not 0 < value < 1:
        raise ParameterError(name, value, "a share strictly between 0 and 1 (e.g. 0.95)")
    return float(value)


def k_target(found: int, found_before_sample: int, target: float) -> int:
    """Fewest relevant records the urn must hold for recall to be below ``target`` (K_tar)."""
    _check_share("target", target)
    return math.floor(found / target - found_before_sample + 1e-9) + 1


def recall_p_value(*, urn: int, sample: int, relevant_in_sample: int, found_before_sample: int,
                   target: float = 0.95) -> float:
    """p-value of H0 "recall < target" from a random sample of ``sample`` records out of ``urn``.

    ``urn`` is the number of records not screened before the sample (the sample included);
    ``relevant_in_sample`` the relevant records in the sample; ``found_before_sample`` those found
    before it. Returns ``P(X <= k)``, ``X ~ Hypergeometric(urn, K_tar, sample)``; 0 when the urn
    cannot hold ``K_tar`` relevant records (the null hypothesis is impossible).
    """
    return float(_p_values(np.asarray([urn]), np.asarray([sample]), np.asarray([relevant_in_sample]),
                           np.asarray([found_before_sample]), target)[0])


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> np.ndarray:
    """``log(i!)`` for ``i = 0 .. n``, each from :func:`math.lgamma` (correct to a few ulps); the
    array is shared between calls, so it is read-only."""
    lf = np.array([math.lgamma(i + 1.0) for i in range(int(n) + 1)])
    lf.flags.writeable = False
    return lf


def _log_pmf(i, urn, K, n, lf: np.ndarray) -> np.ndarray:
    """``log P(X = i)``, ``X ~ Hypergeometric(urn, K, n)``, for ``i`` within the support."""
    return (lf[K] - lf[i] - lf[K - i] + lf[urn - K] - lf[n - i] - lf[urn - K - n + i]
            - lf[urn] + lf[n] + lf[urn - n])


def _hypergeom_tail(lo, hi, urn, K, n, lf: np.ndarray) -> np.ndarray:
    """``P(lo <= X <= hi)`` for ``X ~ Hypergeometric(urn, K, n)``, one value per row of the arrays.

    The terms are summed in log space (largest term factored out), so a tail of 1e-300 keeps its
    relative precision; ``lo``/``hi`` are clipped to the support and an empty range gives 0.
    Written here instead of calling ``scipy.stats.hypergeom``: importing ``scipy.stats`` costs
    about a second of CPU, a third of a whole screening replay of a small review. Checked against
    scipy's hypergeometric (tests/review/test_screening_stopping.py).
    """
    urn, K, n = (np.asarray(a, dtype=np.int64) for a in (urn, K, n))
    lo = np.maximum(np.asarray(lo, dtype=np.int64), np.maximum(0, n - (urn - K)))
    hi = np.minimum(np.asarray(hi, dtype=np.int64), np.minimum(n, K))
    out = np.zeros(len(urn))
    width = hi - lo + 1
    todo = np.flatnonzero(width > 0)
    if len(todo) == 0:
        return out
    # rows by width, in chunks of at most 2**22 terms (or one row)
    todo = todo[np.argsort(width[todo], kind="stable")]
    start = 0
    while start < len(todo):
        stop = start + 1
        while stop < len(todo) and (stop + 1 - start) * int(width[todo[stop]]) <= 1 << 22:
            stop += 1
        rows = todo[start:stop]
        i = lo[rows, None] + np.arange(int(width[rows].max()))[None, :]
        inside = i <= hi[rows, None]
        i = np.where(inside, i, lo[rows, None])
        logp = np.where(inside, _log_pmf(i, urn[rows, None], K[rows, None], n[rows, None], lf), -np.inf)
        top = logp.max(axis=1)
        out[rows] = np.exp(top) * np.exp(logp - top[:, None]).sum(axis=1)
        start = stop
    return np.clip(out, 0.0, 1.0)


def _p_values(urn, sample, k, r_al, target: float) -> np.ndarray:
    urn, sample, k, r_al = (np.asarray(a, dtype=np.int64) for a in (urn, sample, k, r_al))
    if (sample > urn).any() or (k > sample).any() or (sample < 1).any():
        raise ParameterError("sample", sample.tolist(), "1 to urn records, with at most that many relevant")
    found = r_al + k
    k_tar = np.floor(found / target - r_al + 1e-9).astype(np.int64) + 1
    possible = k_tar <= urn - (sample - k)  # the urn's irrelevant records must cover the sample's
    p = np.zeros(len(urn))
    if possible.any():
        lf = _log_factorials(int(urn[possible].max()))
        p[possible] = _hypergeom_tail(np.zeros(int(possible.sum()), dtype=np.int64), k[possible],
                                      urn[possible], k_tar[possible], sample[possible], lf)
    return np.clip(p, 0.0, 1.0)


@dataclass(frozen=True)
class RecallEstimate:
    """Recall and relevant records still unseen, estimated with a confidence interval."""

    recall: float
    recall_lower: float
    recall_upper: float
    unseen_relevant: float
    unseen_relevant_upper: int
    found: int
    screened: int
    n_records: int
    window: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _sequence(labels, n_records: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise InputError("screening labels must be a sequence of 0 and 1")
    if n_records < len(y):
        raise ParameterError("n_records", n_records, f"at least the {len(y)} records labelled")
    return y.astype(np.int64)


def _bisect_first(lo: int, hi: int, ok, default: int) -> int:
    """The least ``K`` in ``lo..hi`` with ``ok(K)``, for ``ok`` false then true (``default``: none)."""
    if lo > hi or not ok(hi):
        return default
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _bisect_last(lo: int, hi: int, ok, default: int) -> int:
    """The largest ``K`` in ``lo..hi`` with ``ok(K)``, for ``ok`` true then false (``default``: none)."""
    if lo > hi or not ok(lo):
        return default
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def estimate_recall(labels, n_records: int, *, window: int | None = None,
                    confidence: float = 0.95) -> RecallEstimate:
    """Running estimate of recall from the last ``window`` records screened.

    The last ``window`` records (default: a fifth of those screened, at least 50) are treated as a
    random sample of the records not screened before them; the number ``K`` of relevant records in
    that urn is estimated by ``k * urn / n`` with an exact (Clopper-Pearson type) hypergeometric
    interval, and recall = found / (found before the window + K). In ranked screening the last
    records are richer in relevant ones than the rest, so the estimate of what is unseen errs high
    and the recall estimate errs low (conservative).
    """
    y = _sequence(labels, n_records)
    alpha = 1 - _check_share("confidence", confidence)
    screened, found = len(y), int(y.sum())
    if screened == 0:
        raise InputError("no records screened yet: recall cannot be estimated")
    n = window if window is not None else max(50, screened // 5)
    n = min(int(n), screened)
    k = int(y[screened - n:].sum())
    r_al = found - k
    urn = n_records - screened + n
    lf = _log_factorials(int(urn))

    def tail(K: int, lo: int, hi: int) -> float:
        return float(_hypergeom_tail(np.array([lo]), np.array([hi]), np.array([urn]), np.array([K]),
                                     np.array([n]), lf)[0])

    # The urn could hold K = k .. urn - (n - k) relevant records. P(X >= k) grows with K and
    # P(X <= k) falls with K (the hypergeometric is stochastically increasing in K), so the
    # interval's ends are found by bisection: the least K with P(X >= k) >= alpha/2, the largest
    # with P(X <= k) >= alpha/2.
    K_min, K_max = k, urn - (n - k)
    K_low = _bisect_first(K_min, K_max, lambda K: tail(K, k, n) >= alpha / 2, default=k)
    K_high = _bisect_last(K_min, K_max, lambda K: tail(K, 0, k) >= alpha / 2, default=k)
    K_hat = k * urn / n
    total = r_al + K_hat

    def rec(tot: float) -> float:
        return 1.0 if tot <= 0 else min(1.0, found / tot)

    return RecallEstimate(recall=rec(total), recall_lower=rec(r_al + K_high), recall_upper=rec(r_al + K_low),
                          unseen_relevant=max(0.0, K_hat - k), unseen_relevant_upper=K_high - k,
                          found=found, screened=screened, n_records=int(n_records), window=n,
                          confidence=confidence)


# -- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A rule's verdict at one point of the screening."""

    stop: bool
    rule: str
    reason: str
    statistic: dict[str, Any] = field(default_factory=dict)


class Rule(ABC):
    """A stopping rule: ``check(labels, n_records)`` -> :class:`Decision`."""

    name = "rule"

    @abstractmethod
    def check(self, labels, n_records: int, **context) -> Decision:
        """The rule's verdict on the labels so far."""

    @abstractmethod
    def describe(self) -> str:
        """The rule in words, for the methods section."""

    def __or__(self, other: Rule) -> AnyOf:
        return AnyOf(self, other)

    def __and__(self, other: Rule) -> AllOf:
        return AllOf(self, other)


class ConsecutiveIrrelevantRule(Rule):
    """Stop after ``n`` irrelevant records in a row (a heuristic: no statistical guarantee)."""

    name = "consecutive_irrelevant"

    def __init__(self, n: int = 50):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError("n", n, "a whole number of records, 1 or more")
        self.n = n

    def _run(self, y: np.ndarray) -> int:
        ones = np.flatnonzero(y)
        return len(y) - (int(ones[-1]) + 1 if len(ones) else 0)

    def check(self, labels, n_records: int, **context) -> Decision:
        y = _sequence(labels, n_records)
        run = self._run(y)
        return Decision(run >= self.n, self.name, f"{run} irrelevant records in a row (stop at {self.n})",
                        {"run": run})

    def describe(self) -> str:
        return f"{self.n} consecutive irrelevant records (a heuristic without a statistical guarantee)"


class MinimumScreenedRule(Rule):
    """Stop only once at least ``share`` of the records (and ``records`` of them) were screened."""

    name = "minimum_screened"

    def __init__(self, share: float = 0.10, records: int = 0):
        if not 0 <= share <= 1:
            raise ParameterError("share", share, "a share from 0 to 1")
        self.share, self.records = float(share), int(records)

    def check(self, labels, n_records: int, **context) -> Decision:
        y = _sequence(labels, n_records)
        need = max(math.ceil(self.share * n_records), self.records)
        return Decision(len(y) >= need, self.name, f"{len(y)} of {need} records needed screened",
                        {"screened": len(y), "needed": need})

    def describe(self) -> str:
        parts = [f"{100 * self.share:g}% of the records"] if self.share else []
        if self.records:
            parts.append(f"{self.records} records")
        return "at least " + " and ".join(parts) + " screened"


class RankedQuasiSampleRule(Rule):
    """Callaghan & Müller-Hansen's test applied to the records screened in ranked order.

    For every ``n``, the last ``n`` records screened (after ``n_prior`` prior records, which never
    count as a sample) are treated as a random sample of the records not screened before them; stop
    when the smallest p-value is below ``1 - confidence``.
    """

    name = "callaghan_ranked"

    def __init__(self, target: float = 0.95, confidence: float = 0.95):
        self.target = _check_share("target", target)
        self.confidence = _check_share("confidence", confidence)

    def p_values(self, labels, n_records: int, *, n_prior: int = 0) -> np.ndarray:
        """The p-value for every window ``n = 1 .. screened - n_prior`` (index ``n - 1``)."""
        y = _sequence(labels, n_records)
        screened, found = len(y), int(y.sum())
        n = np.arange(1, screened - n_prior + 1)
        k = np.cumsum(y[::-1])[: len(n)]
        return _p_values(n_records - screened + n, n, k, found - k, self.target)

    def min_p(self, labels, n_records: int, *, n_prior: int = 0) -> tuple[float, int]:
        """Smallest p-value and its window, checking only the windows that can attain it.

        For a fixed number ``k`` of relevant records in the window, a longer window has a smaller
        p-value (one more irrelevant draw from an urn with one more irrelevant record), so the
        smallest p-value is at a window that starts just after a relevant record or at the first
        record after the priors (tested against all windows in tests/review/test_stopping.py).
        """
        y = _sequence(labels, n_records)
        screened = len(y)
        ones = np.flatnonzero(y[n_prior:]) + n_prior
        starts = np.unique(np.concatenate([[n_prior], ones + 1]))
        starts = starts[starts < screened]
        if len(starts) == 0:
            return 1.0, 0
        n = screened - starts
        k = np.cumsum(y[::-1])[n - 1]  # relevant among the last n
        found = int(y.sum())
        p = _p_values(n_records - screened + n, n, k, found - k, self.target)
        i = int(np.argmin(p))
        return float(p[i]), int(n[i])

    def first_stop(self, labels, n_records: int, *, n_prior: int = 0, start: int = 1) -> int | None:
        """The first number of records screened at which the rule stops (None: not within labels).

        The same answer as :func:`first_stop` with this rule, computed for every step at once. Every
        (window start, step) pair is screened first with two bounds that cost no cumulative sum:
        ``P(X <= k) >= P(X = k)`` (so a pair whose probability of exactly ``k`` is at least
        ``1 - confidence`` cannot reject), and ``P(X <= k) >= 1/2`` once ``k`` reaches the
        hypergeometric mean rounded up (the median is within one of the mean); the exact p-value
        is computed only for the remaining pairs, in order of steps, until one rejects.
        """
        y = _sequence(labels, n_records)
        L = len(y)
        alpha = 1 - self.confidence
        cum = np.concatenate([[0], np.cumsum(y)])
        starts = np.unique(np.concatenate([[n_prior], np.flatnonzero(y[n_prior:]) + n_prior + 1]))
        m = np.arange(max(start, n_prior + 1, 1), L + 1)
        if len(m) == 0:
            return None
        ss, mm = np.meshgrid(starts, m, indexing="ij")
        keep = mm > ss
        ss, mm = ss[keep], mm[keep]
        n = mm - ss
        k = cum[mm] - cum[ss]
        urn = n_records - mm + n
        found = cum[mm]
        r_al = found - k
        k_tar = np.floor(found / self.target - r_al + 1e-9).astype(np.int64) + 1
        possible = k_tar <= urn - (n - k)
        cand = possible & (k < np.ceil(n * k_tar / urn))
        # log P(X = k) = log C(K, k) + log C(urn - K, n - k) - log C(urn, n)
        K, U, nn, kk = k_tar[cand], urn[cand], n[cand], k[cand]

        log_pmf = _log_pmf(kk, U, K, nn, _log_factorials(int(n_records)))
        small = log_pmf < math.log(alpha) + 1e-9
        idx = np.flatnonzero(cand)[small]
        # a pair the null hypothesis cannot hold for (p = 0) rejects at once
        certain = mm[~possible]
        first = int(certain.min()) if len(certain) else None
        if len(idx):
            idx = idx[np.argsort(mm[idx], kind="stable")]
            if first is not None:
                idx = idx[mm[idx] < first]
            for lo in range(0, len(idx), 4096):
                chunk = idx[lo:lo + 4096]
                p = _p_values(urn[chunk], n[chunk], k[chunk], r_al[chunk], self.target)
                hit = np.flatnonzero(p < alpha)
                if len(hit):
                    at = int(mm[chunk][hit].min())
                    first = at if first is None else min(first, at)
                    break
        return first

    def check(self, labels, n_records: int, *, n_prior: int = 0, **context) -> Decision:
        p, window = self.min_p(labels, n_records, n_prior=n_prior)
        alpha = 1 - self.confidence
        return Decision(p < alpha, self.name,
                        f"p = {p:.3g} that recall is below {100 * self.target:g}% (last {window} records "
                        f"as a sample; stop when p < {alpha:g})", {"p": p, "window": window})

    def describe(self) -> str:
        return (f"the stopping criterion of Callaghan & Müller-Hansen (2020) applied to the ranked "
                f"records: stop when the hypothesis that recall is below {100 * self.target:g}% is "
                f"rejected at the {100 * self.confidence:g}% confidence level (hypergeometric test, "
                "previously screened records treated as a random sample)")


class RandomSampleRule(Rule):
    """Callaghan & Müller-Hansen's test on records drawn at random after a switch point.

    ``check`` takes the labels in order and ``switch_at``: the number of records screened in ranked
    order before random draws began; the records after it are the random sample.
    """

    name = "callaghan_random"

    def __init__(self, target: float = 0.95, confidence: float = 0.95):
        self.target = _check_share("target", target)
        self.confidence = _check_share("confidence", confidence)

    def check(self, labels, n_records: int, *, switch_at: int | None = None, **context) -> Decision:
        y = _sequence(labels, n_records)
        if switch_at is None or not 0 <= switch_at <= len(y):
            raise ParameterError("switch_at", switch_at, f"the records screened before random "
                                 f"sampling began, 0 to {len(y)}")
        n = len(y) - switch_at
        if n == 0:
            return Decision(False, self.name, "no random sample screened yet", {"p": 1.0})
        k = int(y[switch_at:].sum())
        p = recall_p_value(urn=n_records - switch_at, sample=n, relevant_in_sample=k,
                           found_before_sample=int(y[:switch_at].sum()), target=self.target)
        alpha = 1 - self.confidence
        return Decision(p < alpha, self.name, f"p = {p:.3g} that recall is below {100 * self.target:g}% "
                        f"({k} relevant in a random sample of {n}; stop when p < {alpha:g})",
                        {"p": p, "sample": n, "relevant_in_sample": k})

    def describe(self) -> str:
        return (f"the stopping criterion of Callaghan & Müller-Hansen (2020): after the ranked "
                f"screening, records drawn at random from the rest until the hypothesis that recall is "
                f"below {100 * self.target:g}% is rejected at the {100 * self.confidence:g}% level "
                "(hypergeometric test)")


class AnyOf(Rule):
    """Stop when any of the rules says stop."""

    name = "any_of"

    def __init__(self, *rules: Rule):
        if not rules:
            raise ParameterError("rules", rules, "one or more stopping rules")
        self.rules = rules

    def check(self, labels, n_records: int, **context) -> Decision:
        ds = [r.check(labels, n_records, **context) for r in self.rules]
        hits = [d for d in ds if d.stop]
        chosen = hits[0] if hits else ds[0]
        return Decision(bool(hits), chosen.rule if hits else self.name,
                        "; ".join(d.reason for d in ds), {d.rule: d.statistic for d in ds})

    def describe(self) -> str:
        return "the first of: " + "; ".join(r.describe() for r in self.rules)


class AllOf(Rule):
    """Stop when every rule says stop."""

    name = "all_of"

    def __init__(self, *rules: Rule):
        if not rules:
            raise ParameterError("rules", rules, "one or more stopping rules")
        self.rules = rules

    def check(self, labels, n_records: int, **context) -> Decision:
        ds = [r.check(labels, n_records, **context) for r in self.rules]
        return Decision(all(d.stop for d in ds), self.name, "; ".join(d.reason for d in ds),
                        {d.rule: d.statistic for d in ds})

    def describe(self) -> str:
        return "all of: " + "; ".join(r.describe() for r in self.rules)


class _AtLeastRelevantMultiple(Rule):
    name = "screened_vs_estimated_relevant"

    def __init__(self, estimated_relevant: float, multiple: float = 2.0):
        self.estimated_relevant, self.multiple = float(estimated_relevant), float(multiple)

    def check(self, labels, n_records: int, **context) -> Decision:
        y = _sequence(labels, n_records)
        need = math.ceil(self.multiple * self.estimated_relevant)
        return Decision(len(y) >= need, self.name, f"{len(y)} screened of {need} "
                        f"({self.multiple:g} x the {self.estimated_relevant:.1f} relevant estimated)",
                        {"needed": need})

    def describe(self) -> str:
        return (f"at least {self.multiple:g} times the number of relevant records estimated from the "
                "random training sample screened")


def safe_phase2_rule(*, n_random: int, relevant_in_random: int, n_records: int,
                     consecutive: int = 50, min_share: float = 0.10) -> AllOf:
    """The SAFE procedure's rule for leaving active learning (phase 2, Boetje & van de Schoot 2024).

    All of: at least twice the estimated number of relevant records screened (estimated from the
    phase-1 random sample: ``relevant_in_random / n_random * n_records``), at least ``min_share``
    (10%) of the records screened, and ``consecutive`` (50) irrelevant records in a row. (SAFE's
    fourth condition, that all key papers were found, is for the reviewer to confirm.)
    """
    if n_random < 1:
        raise ParameterError("n_random", n_random, "the size of the phase-1 random sample, 1 or more")
    est = relevant_in_random / n_random * n_records
    return AllOf(_AtLeastRelevantMultiple(est, 2.0), MinimumScreenedRule(min_share),
                 ConsecutiveIrrelevantRule(consecutive))


def first_stop(rule: Rule, labels, n_records: int, *, start: int = 1, **context) -> tuple[int, Decision]:
    """The first number of records screened (from ``start``) at which ``rule`` says stop.

    Returns ``(screened, decision)``; ``screened == len(labels)`` with the last decision when the
    rule never stops within the labels given.
    """
    y = _sequence(labels, n_records)
    d = Decision(False, rule.name, "no records")
    for m in range(max(1, start), len(y) + 1):
        d = rule.check(y[:m], n_records, **context)
        if d.stop:
            return m, d
    return len(y), d
