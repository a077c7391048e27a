"""Randomisation for pilots and trials, reproducible from the recorded seed on any software version.

Methods (the registry :data:`METHODS`, read by the CLI and validation):

- ``simple``: each unit independently (a biased coin in the ratio).
- ``complete``: exactly the ratio over all units (a random permutation of the arm labels).
- ``blocks``: permuted blocks of randomly varying size, in enrolment (file) order, optionally within
  strata (Schulz & Grimes 2002).
- ``stratified``: complete randomisation within each stratum (one or more columns).
- ``cluster``: whole clusters (schools, teams) complete-randomised; units take their cluster's arm.
- ``block-cluster``: clusters complete-randomised within blocks (schools within local authorities).
- ``constrained``: covariate-constrained randomisation of clusters (Moulton 2004; Li et al. 2016):
  every allocation is enumerated (or, when there are too many, a sample of distinct ones is drawn),
  each gets a balance score over standardised cluster-level covariates, the allowed set is the
  best ``cutoff`` fraction, one is chosen at random, and pairs of clusters that the allowed set puts
  in the same arm too often or too rarely are flagged (as ``cvcrand``'s validity check).
- ``minimisation``: Pocock & Simon (1975) for units enrolled one at a time, with a random element.

Every random draw is a keyed hash of the seed and what is drawn (:mod:`._hashrng`), never a
generator stream, so the realised list can be re-derived from the seed, the method and the units.

References
----------
Pocock SJ, Simon R (1975). Sequential treatment assignment with balancing for prognostic factors
    in the controlled clinical trial. Biometrics 31:103-115.
Schulz KF, Grimes DA (2002). Generation of allocation sequences in randomised trials: chance, not
    choice. Lancet 359:515-519.
Moulton LH (2004). Covariate-based constrained randomization of group-randomized trials. Clin
    Trials 1:297-305.
Li F, Lokhnygina Y, Murray DM, Heagerty PJ, DeLong ER (2016). An evaluation of constrained
    randomization for the design and analysis of group-randomized trials. Stat Med 35:1565-1579.
Yu H, Li F, Gallis JA, Turner EL (2019). cvcrand: A package for covariate-constrained
    randomization and the clustered permutation test for cluster randomized trials. R J 11:191-209.
Austin PC (2009). Balance diagnostics for comparing the distribution of baseline covariates
    between treatment groups in propensity-score matched samples. Stat Med 28:3083-3107
    (standardised differences).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._results import Result
from ..errors import InputError, ParameterError
from . import _hashrng as hr
from ._hashrng import ALGORITHM


@dataclass(frozen=True)
class MethodSpec:
    name: str
    description: str
    needs: tuple[str, ...]   # options that must be given


METHODS: dict[str, MethodSpec] = {m.name: m for m in (
    MethodSpec("simple", "each unit independently, with probabilities in the ratio", ()),
    MethodSpec("complete", "exactly the ratio over all units", ()),
    MethodSpec("blocks", "permuted blocks of random size in file order (within --strata if given)",
               ()),
    MethodSpec("stratified", "complete randomisation within each stratum", ("strata",)),
    MethodSpec("cluster", "whole clusters, complete randomisation", ("cluster",)),
    MethodSpec("block-cluster", "clusters complete-randomised within blocks", ("block", "cluster")),
    MethodSpec("constrained", "covariate-constrained randomisation of clusters",
               ("cluster", "covariates")),
    MethodSpec("minimisation", "Pocock-Simon minimisation, units in file order", ("factors",)),
)}
METRICS = ("l2", "l1")


@dataclass(frozen=True, repr=False)
class Constrained(Result):
    """What covariate-constrained randomisation considered and chose."""

    metric: str
    cutoff: float
    enumerated: bool        # all allocations (True) or a sample of distinct ones
    n_allocations: int      # how many were scored
    n_allowed: int
    threshold: float        # the largest balance score allowed
    chosen_score: float
    chosen_index: int       # index of the chosen allocation within the allowed set
    covariates: tuple[str, ...]
    samearmhi: float
    samearmlo: float
    flagged_pairs: tuple[tuple[str, str, float], ...]   # (cluster, cluster, P(same arm))
    coassignment: pd.DataFrame = field(compare=False)   # clusters x clusters, P(same arm)
    scores: np.ndarray = field(compare=False)           # balance scores of all considered

    _skip_in_dict = ("coassignment", "scores")


@dataclass(frozen=True, repr=False)
class Allocation(Result):
    """A realised allocation: the list itself, the seed and everything needed to re-derive it."""

    method: str
    seed: int
    algorithm: str
    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    options: dict
    table: pd.DataFrame = field(compare=False)   # unit, arm, and the design columns used
    constrained: Constrained | None = None

    _skip_in_dict = ("table",)

    @property
    def counts(self) -> dict[str, int]:
        return {a: int((self.table["arm"] == a).sum()) for a in self.arms}

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary_text(self) -> str:
        lines = [f"{self.method} randomisation of {len(self.table)} units, seed {self.seed} "
                 f"({self.algorithm})",
                 "  " + ", ".join(f"{a}: {n}" for a, n in self.counts.items())]
        c = self.constrained
        if c is not None:
            lines.append(f"  constrained ({c.metric}): {c.n_allowed} allowed of {c.n_allocations} "
                         f"{'enumerated' if c.enumerated else 'sampled'} allocations; chosen "
                         f"score {c.chosen_score:.4g} (threshold {c.threshold:.4g})")
            for a, b, p in c.flagged_pairs[:10]:
                lines.append(f"  warning: clusters {a} and {b} share an arm in {100 * p:.0f}% of "
                             "the allowed set")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary_text()


def randomise(units: pd.DataFrame, *, method: str, seed: int, unit: str | None = None,
              block: str | None = None, cluster: str | None = None,
              strata: Sequence[str] | None = None, covariates: Sequence[str] | None = None,
              factors: Sequence[str] | None = None, arms: Sequence[str] = ("control", "treatment"),
              ratio: Sequence[int] | None = None, block_sizes: Sequence[int] | None = None,
              metric: str = "l2", cutoff: float = 0.1, max_enumerate: int = 100_000,
              n_candidates: int = 50_000, samearmhi: float = 0.75, samearmlo: float = 0.25,
              weights: Sequence[float] | None = None, p_best: float = 0.8,
              file: str | None = None) -> Allocation:
    """Allocate the units (rows of ``units``) to ``arms`` by ``method`` (see :data:`METHODS`).

    ``unit`` names the column of unit ids (default: the row number, from 1). ``ratio`` gives the
    allocation ratio (default equal). ``block_sizes`` are the block sizes for ``blocks``
    (multiples of the ratio's sum; default 1, 2 and 3 times it). ``metric``, ``cutoff``,
    ``max_enumerate``, ``n_candidates``, ``samearmhi``/``samearmlo`` control ``constrained``;
    ``weights`` are the factor weights and ``p_best`` the probability of the minimising arm for
    ``minimisation``. ``file`` is only used to name the file in error messages.
    """
    if method not in METHODS:
        raise ParameterError("method", method, f"one of {', '.join(METHODS)}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ParameterError("seed", seed, "a whole number")
    arms = tuple(str(a) for a in arms)
    if len(arms) < 2 or len(set(arms)) != len(arms):
        raise ParameterError("arms", arms, "two or more distinct arm names")
    ratio = tuple(int(r) for r in (ratio if ratio is not None else [1] * len(arms)))
    if len(ratio) != len(arms) or any(r < 1 for r in ratio):
        raise ParameterError("ratio", ratio, f"{len(arms)} whole numbers >= 1, one per arm")
    strata = [strata] if isinstance(strata, str) else list(strata or [])
    if method == "stratified" and not strata and block:
        strata = [block]
    given = {"block": block, "cluster": cluster, "strata": strata, "covariates": covariates,
             "factors": factors}
    for need in METHODS[method].needs:
        if not given[need]:
            raise InputError(f"method '{method}' needs --{need} (the {need} column(s) of the "
                             f"units file); it was not given", file=file)
    for col in [unit, block, cluster, *strata, *(covariates or []), *(factors or [])]:
        if col is not None and col not in units.columns:
            raise InputError(f"no such column; the columns are {', '.join(map(str, units.columns))}",
                             file=file, column=col)
    if len(units) == 0:
        raise InputError("has no units to randomise", file=file)
    ids = (_ids(units[unit], file=file, column=unit) if unit
           else pd.Series(range(1, len(units) + 1)).astype(str)).to_numpy()
    dup = pd.Series(ids).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"unit id {ids[i]!r} appears twice; unit ids must be unique",
                         file=file, row=i + 1, column=unit)
    seed = int(seed)
    table = pd.DataFrame({"unit": ids})
    for name, col in (("block", block), ("cluster", cluster)):
        if col:
            table[name] = (_ids if name == "cluster" else _labels)(units[col], file=file,
                                                                   column=col)
    if strata:
        table["stratum"] = _stratum_labels(units, strata, file)
    options: dict = {"unit": unit, "block": block, "cluster": cluster, "strata": strata or None}
    constrained = None
    if method == "simple":
        arm = _simple(ids, arms, ratio, seed)
    elif method == "complete":
        arm = _complete(ids, arms, ratio, seed, "complete")
    elif method == "stratified":
        arm = _within(table["stratum"], ids, arms, ratio, seed, "stratified")
    elif method == "blocks":
        sizes = _block_sizes(block_sizes, ratio)
        options["block_sizes"] = list(sizes)
        groups = table["stratum"] if "stratum" in table else pd.Series([""] * len(ids))
        arm = _permuted_blocks(groups, arms, ratio, sizes, seed)
    elif method in ("cluster", "block-cluster"):
        blocks = table["block"] if method == "block-cluster" else None
        arm = _cluster(table["cluster"], blocks, arms, ratio, seed, file=file, block_col=block)
    elif method == "constrained":
        if len(arms) != 2:
            raise ParameterError("arms", arms, "two arms for constrained randomisation")
        if metric not in METRICS:
            raise ParameterError("metric", metric, f"one of {', '.join(METRICS)}")
        if not 0 < cutoff <= 1:
            raise ParameterError("cutoff", cutoff, "a fraction in (0, 1]")
        x = cluster_covariates(units, cluster, list(covariates), file=file)
        blocks = (_labels(units[block], file=file, column=block).groupby(
            table["cluster"].to_numpy()).first() if block else None)
        arm, constrained = _constrained(table["cluster"], x, blocks, arms, ratio, seed,
                                        metric=metric, cutoff=cutoff, max_enumerate=max_enumerate,
                                        n_candidates=n_candidates, samearmhi=samearmhi,
                                        samearmlo=samearmlo)
        options.update(covariates=list(covariates), metric=metric, cutoff=cutoff,
                       max_enumerate=max_enumerate, n_candidates=n_candidates)
    else:  # minimisation
        levels = {f: _labels(units[f], file=file, column=f) for f in factors}
        for f, s in levels.items():
            table[f] = s
        minimiser = Minimiser(factors=list(factors), seed=seed, arms=arms, ratio=ratio,
                              weights=weights, p_best=p_best)
        arm = [minimiser.assign(u, {f: levels[f].iloc[i] for f in factors})
               for i, u in enumerate(ids)]
        options.update(factors=list(factors), weights=list(minimiser.weights), p_best=p_best)
    table["arm"] = list(arm)
    return Allocation(method=method, seed=seed, algorithm=ALGORITHM, arms=arms, ratio=ratio,
                      options={k: v for k, v in options.items() if v is not None}, table=table,
                      constrained=constrained)


def id_columns(*, unit: str | None = None, cluster: str | None = None, block: str | None = None,
               strata=None, factors=None, **_ignored) -> list[str]:
    """The columns of a units file that hold ids and labels (unit, cluster, block, strata,
    minimisation factors): a reader reads them as text, exactly as written (``101`` stays
    ``101``, ``007`` stays ``007``), e.g. ``whatworks._io.read_table(path, text=...)``."""
    strata = [strata] if isinstance(strata, str) else list(strata or [])
    factors = [factors] if isinstance(factors, str) else list(factors or [])
    return [c for c in (unit, cluster, block, *strata, *factors) if c]


def _ids(s: pd.Series, *, file, column) -> pd.Series:
    """Unit or cluster ids as text, exactly as given: text stays as it is, whole-number columns
    are written as whole numbers; a column of decimals is refused, because the reader already lost
    how the ids were written (``101`` read as ``101.0``, ``007`` as ``7.0``)."""
    if pd.api.types.is_float_dtype(s.dtype):
        raise InputError("holds ids read as decimal numbers (e.g. '101' as 101.0, '007' as 7.0), "
                         "which changes them; read the id column as text, exactly as written "
                         "(pandas: dtype=str; whatworks._io.read_table(path, text=[...]))",
                         file=file, column=column)
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError("is empty; every unit needs an id here", file=file, row=i + 1,
                         column=column)
    return s.astype(str).reset_index(drop=True)


def _labels(s: pd.Series, *, file, column) -> pd.Series:
    if s.isna().any():
        i = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError("is empty; every unit needs a value here", file=file, row=i + 1,
                         column=column)
    return s.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
                 ).reset_index(drop=True)


def _stratum_labels(units, strata, file) -> pd.Series:
    parts = [_labels(units[c], file=file, column=c) for c in strata]
    out = parts[0]
    for p in parts[1:]:
        out = out + "/" + p
    return out


def _simple(ids, arms, ratio, seed) -> list[str]:
    cum = np.cumsum(ratio) / sum(ratio)
    out = []
    for u in ids:
        x = hr.uniform(seed, "simple", u)
        out.append(arms[int(np.searchsorted(cum, x, side="right"))])
    return out


def _complete(ids, arms, ratio, seed, *context) -> list[str]:
    """A random permutation of exactly the ratio's counts (the remainder to random arms)."""
    counts = hr.arm_counts(len(ids), ratio, seed, *context)
    order = hr.shuffled(seed, list(ids), *context)
    labels = [a for a, c in zip(arms, counts, strict=True) for _ in range(c)]
    where = dict(zip(order, labels, strict=True))
    return [where[u] for u in ids]


def _within(groups: pd.Series, ids, arms, ratio, seed, name) -> list[str]:
    out = pd.Series(index=range(len(ids)), dtype=object)
    for g, idx in groups.groupby(groups.to_numpy()).groups.items():
        idx = list(idx)
        out.iloc[idx] = _complete([ids[i] for i in idx], arms, ratio, seed, name, g)
    return out.tolist()


def _block_sizes(block_sizes, ratio) -> tuple[int, ...]:
    total = sum(ratio)
    sizes = tuple(int(b) for b in (block_sizes or (total, 2 * total, 3 * total)))
    if not sizes or any(b < 1 or b % total for b in sizes):
        raise ParameterError("block_sizes", block_sizes,
                             f"positive multiples of the ratio's sum ({total})")
    return sizes


def _permuted_blocks(groups: pd.Series, arms, ratio, sizes, seed) -> list[str]:
    """Units of each stratum in file order fill consecutive blocks; each block's size is drawn at
    random from ``sizes`` and its labels are the ratio's multiple, permuted at random. The last
    block of a stratum may be incomplete (its first units take the permuted block's first labels)."""
    total = sum(ratio)
    out: list[str | None] = [None] * len(groups)
    for g, idx in groups.groupby(groups.to_numpy(), sort=False).groups.items():
        idx = sorted(idx)
        pos, b = 0, 0
        while pos < len(idx):
            size = sizes[hr.randbelow(seed, len(sizes), "block-size", g, b)]
            labels = [a for a, r in zip(arms, ratio, strict=True) for _ in range(r * size // total)]
            perm = hr.shuffled(seed, range(size), "block", g, b)
            for k, slot in enumerate(perm[: len(idx) - pos]):
                out[idx[pos + k]] = labels[slot]
            pos += size
            b += 1
    return out  # type: ignore[return-value]


def _cluster(clusters: pd.Series, blocks, arms, ratio, seed, *, file, block_col) -> list[str]:
    if blocks is not None:
        per = pd.DataFrame({"c": clusters, "b": blocks}).drop_duplicates()
        twice = per[per["c"].duplicated()]
        if len(twice):
            c = twice["c"].iloc[0]
            raise InputError(f"cluster {c!r} appears in more than one block "
                             f"({', '.join(per.loc[per['c'] == c, 'b'])}); clusters must be nested "
                             "in blocks", file=file, column=block_col)
        arm_of = {}
        for b, sub in per.groupby("b", sort=True):
            ids = sub["c"].tolist()
            arm_of.update(zip(ids, _complete(ids, arms, ratio, seed, "block-cluster", b),
                              strict=True))
    else:
        ids = list(dict.fromkeys(clusters))
        arm_of = dict(zip(ids, _complete(ids, arms, ratio, seed, "cluster"), strict=True))
    return [arm_of[c] for c in clusters]


def cluster_covariates(units: pd.DataFrame, cluster: str, covariates: list[str], *,
                       file: str | None = None) -> pd.DataFrame:
    """Cluster-level covariates: the cluster's mean of each numeric column (a text column becomes
    its levels' proportions), rows in the clusters' order of first appearance."""
    cl = _ids(units[cluster], file=file, column=cluster)
    cols = {}
    for c in covariates:
        s = units[c].reset_index(drop=True)
        if s.isna().any():
            i = int(np.flatnonzero(s.isna().to_numpy())[0])
            raise InputError("is empty; constrained randomisation needs every covariate",
                             file=file, row=i + 1, column=c)
        if pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
        else:
            levels = sorted(s.astype(str).unique())
            for lev in levels[1:]:
                cols[f"{c}={lev}"] = (s.astype(str) == lev).astype(float)
    frame = pd.DataFrame(cols)
    frame.index = cl.to_numpy()
    return frame.groupby(level=0, sort=False).mean()


def _balance_scores(A: np.ndarray, z: np.ndarray, metric: str) -> np.ndarray:
    """Balance scores of allocations ``A`` (m x clusters, 1 = first arm treated... 0/1) over
    standardised covariates ``z`` (clusters x K): sum_k d_k^2 (l2) or sum_k |d_k| (l1), with d_k
    the difference in cluster means of covariate k between the arms (Li et al. 2016)."""
    n1 = A.sum(axis=1, keepdims=True)
    n0 = A.shape[1] - n1
    diff = (A @ z) / n1 - ((1 - A) @ z) / n0
    return (diff ** 2).sum(axis=1) if metric == "l2" else np.abs(diff).sum(axis=1)


def _sample_allocations(n, groups, treated, seed, n_candidates) -> np.ndarray:
    """``n_candidates`` distinct allocations drawn at random (the ratio kept within each group),
    in the order drawn: candidate ``i`` treats, in each group, the clusters with the smallest keys
    ``splitmix64(seed, i * n + cluster index)``."""
    kept: list[np.ndarray] = []
    seen: set[bytes] = set()
    start = 0
    while len(kept) < n_candidates and start < 50 * n_candidates:
        batch = max(1000, n_candidates - len(kept) + n_candidates // 10)
        idx = np.arange(start, start + batch, dtype=np.uint64)
        keys = hr.splitmix64(seed, idx[:, None] * np.uint64(n) + np.arange(n, dtype=np.uint64),
                             "constrained-candidates")
        A = np.zeros((batch, n), dtype=np.int8)
        rows = np.arange(batch)[:, None]
        for g, t in zip(groups, treated, strict=True):
            cols = np.asarray(g)
            first = np.argsort(keys[:, cols], axis=1, kind="stable")[:, :t]
            A[rows, cols[first]] = 1
        for a in A:
            key = a.tobytes()
            if key not in seen:
                seen.add(key)
                kept.append(a)
                if len(kept) == n_candidates:
                    break
        start += batch
    return np.array(kept)


def _constrained(clusters: pd.Series, x: pd.DataFrame, blocks, arms, ratio, seed, *, metric,
                 cutoff, max_enumerate, n_candidates, samearmhi, samearmlo):
    ids = list(x.index)
    n = len(ids)
    sd = x.std(ddof=1).to_numpy()
    z = (x.to_numpy() - x.mean().to_numpy()) / np.where(sd > 0, sd, 1.0)
    groups = ([list(range(n))] if blocks is None
              else [[ids.index(c) for c in blocks.index[blocks == b]] for b in sorted(set(blocks))])
    treated = [hr.arm_counts(len(g), ratio, seed, "constrained", gi)[1]
               for gi, g in enumerate(groups)]
    total = math.prod(math.comb(len(g), t) for g, t in zip(groups, treated, strict=True))
    if total <= max_enumerate:
        enumerated = True
        combos = itertools.product(*[itertools.combinations(g, t)
                                     for g, t in zip(groups, treated, strict=True)])
        A = np.zeros((total, n), dtype=np.int8)
        for row, parts in enumerate(combos):
            for part in parts:
                A[row, list(part)] = 1
    else:
        enumerated = False
        A = _sample_allocations(n, groups, treated, seed, n_candidates)
    scores = _balance_scores(A.astype(float), z, metric)
    k = max(1, math.ceil(cutoff * len(scores)))
    threshold = float(np.sort(scores)[k - 1])
    allowed = np.flatnonzero(scores <= threshold + 1e-12 * max(1.0, abs(threshold)))
    pick = hr.randbelow(seed, len(allowed), "constrained", "choose")
    chosen = A[allowed[pick]]
    S = A[allowed].astype(float)
    same = (S.T @ S + (1 - S).T @ (1 - S)) / len(allowed)
    co = pd.DataFrame(same, index=ids, columns=ids)
    flagged = tuple((ids[i], ids[j], float(same[i, j])) for i in range(n) for j in range(i + 1, n)
                    if same[i, j] >= samearmhi or same[i, j] <= samearmlo)
    arm_of = {c: arms[int(chosen[i])] for i, c in enumerate(ids)}
    info = Constrained(metric=metric, cutoff=cutoff, enumerated=enumerated,
                       n_allocations=len(scores), n_allowed=len(allowed), threshold=threshold,
                       chosen_score=float(scores[allowed[pick]]), chosen_index=int(pick),
                       covariates=tuple(x.columns), samearmhi=samearmhi, samearmlo=samearmlo,
                       flagged_pairs=flagged, coassignment=co, scores=scores)
    return [arm_of[c] for c in clusters], info


class Minimiser:
    """Pocock-Simon minimisation for units enrolled one at a time.

    For a new unit and each arm, the imbalance if the unit joined that arm is the weighted sum over
    factors of the range, across arms, of the (ratio-scaled) counts of earlier units sharing the new
    unit's level of that factor. The arm with the least imbalance is chosen with probability
    ``p_best`` (ties broken at random), otherwise one of the other arms at random; the first unit
    and every tie are random. Draws are keyed hashes of the seed, the sequence number and the unit
    id, so replaying the same units in the same order gives the same arms.

    References: Pocock SJ, Simon R (1975). Biometrics 31:103-115.
    """

    def __init__(self, *, factors: Sequence[str], seed: int, arms=("control", "treatment"),
                 ratio=None, weights=None, p_best: float = 0.8):
        self.factors = list(factors)
        self.seed, self.arms = int(seed), tuple(arms)
        self.ratio = tuple(ratio or [1] * len(self.arms))
        self.weights = tuple(float(w) for w in (weights or [1.0] * len(self.factors)))
        if len(self.weights) != len(self.factors) or any(w < 0 for w in self.weights):
            raise ParameterError("weights", weights, f"{len(self.factors)} non-negative numbers, "
                                                     "one per factor")
        if not 0 < p_best <= 1:
            raise ParameterError("p_best", p_best, "a probability in (0, 1]")
        self.p_best = p_best
        self.counts: dict[tuple[str, str], np.ndarray] = {}
        self.n = 0

    def imbalance(self, levels: dict) -> np.ndarray:
        """The imbalance score for each arm if the next unit (with these levels) joined it."""
        k = len(self.arms)
        out = np.zeros(k)
        r = np.asarray(self.ratio, float)
        for f, w in zip(self.factors, self.weights, strict=True):
            base = self.counts.get((f, str(levels[f])), np.zeros(k))
            for a in range(k):
                c = base.copy()
                c[a] += 1
                scaled = c / r
                out[a] += w * (scaled.max() - scaled.min())
        return out

    def assign(self, unit: str, levels: dict) -> str:
        missing = [f for f in self.factors if f not in levels]
        if missing:
            raise ParameterError("levels", sorted(levels), f"a level for each factor {self.factors}")
        score = self.imbalance(levels)
        best = [a for a in range(len(self.arms)) if score[a] == score.min()]
        seq = self.n
        if len(best) == len(self.arms):
            a = best[hr.randbelow(self.seed, len(best), "minimise-tie", seq, unit)]
        elif hr.uniform(self.seed, "minimise", seq, unit) < self.p_best:
            a = best[hr.randbelow(self.seed, len(best), "minimise-tie", seq, unit)]
        else:
            others = [a for a in range(len(self.arms)) if a not in best]
            a = others[hr.randbelow(self.seed, len(others), "minimise-other", seq, unit)]
        for f in self.factors:
            key = (f, str(levels[f]))
            self.counts.setdefault(key, np.zeros(len(self.arms)))[a] += 1
        self.n += 1
        return self.arms[a]


def balance_table(data: pd.DataFrame, arm: Sequence[str] | pd.Series, covariates: Sequence[str],
                  *, arms: Sequence[str] | None = None) -> pd.DataFrame:
    """Baseline balance: for each covariate (each level of a text one), the mean (or proportion)
    and SD in each arm and the standardised difference between the last arm and the first,
    ``(m1 - m0) / sqrt((s1^2 + s0^2) / 2)`` (Austin 2009)."""
    arm = pd.Series(list(arm), index=data.index)
    arms = list(arms or sorted(arm.unique()))
    if len(arms) < 2:
        raise ParameterError("arms", arms, "two or more arms present in the allocation")
    rows = []
    for c in covariates:
        if c not in data.columns:
            raise InputError(f"no such column; the columns are {', '.join(data.columns)}", column=c)
        s = data[c]
        if pd.api.types.is_numeric_dtype(s):
            parts = [(c, s.astype(float))]
        else:
            parts = [(f"{c}={lev}", (s.astype(str) == lev).astype(float))
                     for lev in sorted(s.dropna().astype(str).unique())]
        for name, v in parts:
            row: dict = {"covariate": name}
            for a in arms:
                va = v[arm == a].dropna()
                row[f"n_{a}"] = len(va)
                row[f"mean_{a}"] = float(va.mean()) if len(va) else np.nan
                row[f"sd_{a}"] = float(va.std(ddof=1)) if len(va) > 1 else np.nan
            m0, m1 = row[f"mean_{arms[0]}"], row[f"mean_{arms[-1]}"]
            pooled = math.sqrt((row[f"sd_{arms[0]}"] ** 2 + row[f"sd_{arms[-1]}"] ** 2) / 2)
            row["std_diff"] = (m1 - m0) / pooled if pooled > 0 else (0.0 if m1 == m0 else np.nan)
            rows.append(row)
    return pd.DataFrame(rows)
