"""Permutation tests for meta-analysis and meta-regression models.

Without moderators the signs of the effects are flipped (under H0: mu = 0 with effects symmetric
about zero every sign pattern is equally likely; Follmann & Proschan 1999); with moderators the
rows of the design matrix are permuted against the effects (Higgins & Thompson 2004). Every
permuted data set is refitted with the model's tau² estimator and test, as one vectorised batch.
The two-sided p-value of a coefficient is the share of permutations with ``|z*| >= |z|``; that of
the omnibus test the share with ``QM* >= QM`` (a tolerance of ``sqrt(machine eps)`` absorbs rounding).

References
----------
Follmann DA, Proschan MA (1999). Valid inference in random effects meta-analysis. Biometrics
    55:732-737.
Higgins JPT, Thompson SG (2004). Controlling the risk of spurious findings from meta-regression.
    Stat Med 23:1663-1682.
Viechtbauer W, Lopez-Lopez JA, Sanchez-Meca J, Marin-Martinez F (2015). A comparison of procedures
    to test for moderators in mixed-effects meta-regression models. Psychol Methods 20:360-374.
Reference implementation tested against: metafor 3.8 ``permutest(exact = TRUE)``
(tests/reference/make_bias_sensitivity.R).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._results import FrozenResult, fmt, fmt_p
from ..errors import InputError, ParameterError
from .model import MetaAnalysis
from .sensitivity import fit_subsets

COMPTOL = np.finfo(float).eps ** 0.5
MAX_EXACT = 10_000_000


@dataclass(frozen=True, repr=False)
class PermutationTest(FrozenResult):
    """Permutation p-values for each coefficient and for the omnibus test of moderators."""

    names: tuple[str, ...]
    statistic: np.ndarray
    p_value: np.ndarray
    qm: float
    qm_p_value: float
    exact: bool
    n_permutations: int
    seed: int | None
    statistic_permuted: np.ndarray = field(repr=False, compare=False)
    qm_permuted: np.ndarray = field(repr=False, compare=False)

    _skip_in_dict = ("statistic_permuted", "qm_permuted")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"statistic": self.statistic, "permutation_p_value": self.p_value},
                            index=pd.Index(self.names, name="name"))

    def summary_text(self) -> str:
        how = ("exact" if self.exact else f"{self.n_permutations} random permutations, "
               f"seed {self.seed}")
        lines = [f"Permutation test ({how})",
                 self.to_frame().to_string(float_format=lambda x: fmt(x))]
        if len(self.names) > 1:
            lines.append(f"omnibus test: QM = {fmt(self.qm)}, permutation p = "
                         f"{fmt_p(self.qm_p_value)}")
        return "\n".join(lines)


def permutation_test(fit: MetaAnalysis, *, iterations: int = 1000, seed: int | None = None,
                     exact: bool | None = None, progress=None,
                     chunk: int = 2000) -> PermutationTest:
    """Permutation test of a fitted model's coefficients (and omnibus test of moderators).

    ``exact=None`` runs the exact test (every sign pattern, or every distinct permutation of the
    design rows) when it needs no more than ``iterations`` fits, as metafor does; otherwise
    ``iterations`` random permutations, the first being the observed data (so p >= 1/iterations).
    ``seed`` seeds the random permutations; when None a seed is drawn and recorded in the result.
    The permuted models are fitted as batches of ``chunk``; ``progress(n)`` is called after each.

    References
    ----------
    Follmann DA, Proschan MA (1999). Biometrics 55:732-737.
    Higgins JPT, Thompson SG (2004). Stat Med 23:1663-1682.
    Tested against metafor 3.8 ``permutest(exact = TRUE)``.
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ParameterError("iterations", iterations, "a whole number of permutations >= 1")
    intercept_only = fit.names == ("intrcpt",)
    k = fit.k
    if intercept_only:
        n_exact = 2**k
    else:
        classes = _row_classes(fit.X)
        n_exact = math.factorial(k)
        for count in np.bincount(classes):
            n_exact //= math.factorial(int(count))
    if exact is None:
        exact = n_exact <= iterations
    if exact and n_exact > MAX_EXACT:
        raise InputError(f"an exact test needs {n_exact:,} model fits; use exact=False with a "
                         "number of random permutations (iterations=)")
    used_seed = None
    if exact:
        if intercept_only:
            signs = 1 - 2 * ((np.arange(n_exact)[:, None] >> np.arange(k)[None, :]) & 1)
        else:
            perms = _unique_permutations(classes)
    else:
        used_seed = int(seed) if seed is not None else int(
            np.random.SeedSequence().entropy % (2**63))
        rng = np.random.default_rng(used_seed)
        if intercept_only:
            signs = rng.choice(np.array([-1, 1]), size=(iterations, k))
            signs[0] = 1
        else:
            perms = np.argsort(rng.random((iterations, k)), axis=1)
            perms[0] = np.arange(k)
    if not intercept_only and exact:
        # perms holds class labels per position: map each to a representative design row
        reps = np.array([np.flatnonzero(classes == c)[0] for c in range(classes.max() + 1)])
    n = signs.shape[0] if intercept_only else perms.shape[0]
    z_parts, qm_parts = [], []
    for start in range(0, n, max(1, int(chunk))):
        stop = min(n, start + max(1, int(chunk)))
        rows = np.arange(stop - start)
        if intercept_only:
            out = fit_subsets(fit, rows, y=signs[start:stop] * fit.yi[None, :])
        else:
            X = fit.X[reps][perms[start:stop]] if exact else fit.X[perms[start:stop]]
            out = fit_subsets(fit, rows, X=X)
        z_parts.append(out["statistic"])
        qm_parts.append(np.atleast_1d(out["qm"]))
        if progress is not None:
            progress(stop - start)
    z_obs = np.array([c.statistic for c in fit.coefficients])
    qm_obs = float(fit.qm)
    z_perm = np.concatenate(z_parts, axis=0)
    qm_perm = np.concatenate(qm_parts, axis=0)
    p = np.mean(np.abs(z_perm) >= np.abs(z_obs)[None, :] - COMPTOL, axis=0)
    qm_p = float(np.mean(qm_perm >= qm_obs - COMPTOL))
    return PermutationTest(names=fit.names, statistic=z_obs, p_value=p, qm=qm_obs,
                           qm_p_value=qm_p, exact=bool(exact), n_permutations=int(n),
                           seed=used_seed, statistic_permuted=z_perm, qm_permuted=qm_perm)


def _row_classes(X: np.ndarray) -> np.ndarray:
    """Label identical design rows alike (0, 1, ... in order of first appearance)."""
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    relabel = np.argsort(np.argsort(first))
    return relabel[inverse.ravel()]


def _unique_permutations(labels: np.ndarray) -> np.ndarray:
    """Every distinct arrangement of a multiset of labels, in lexicographic order."""
    a = np.sort(labels).tolist()
    k = len(a)
    out = [a.copy()]
    while True:
        i = k - 2
        while i >= 0 and a[i] >= a[i + 1]:
            i -= 1
        if i < 0:
            return np.array(out)
        j = k - 1
        while a[j] <= a[i]:
            j -= 1
        a[i], a[j] = a[j], a[i]
        a[i + 1:] = reversed(a[i + 1:])
        out.append(a.copy())
