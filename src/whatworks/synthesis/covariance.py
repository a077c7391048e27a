"""Block-diagonal sampling covariance matrices for dependent effect sizes.

Effect sizes from the same study (the same participants, several outcomes or time points) have
correlated sampling errors. When the correlations are not reported, the correlated-and-
hierarchical-effects (CHE) working model of Pustejovsky & Tipton (2022) imputes a constant
correlation ``rho`` within each study:

    V[i, j] = rho * sqrt(v_i * v_j)   for i != j in the same cluster,   V[i, i] = v_i,

and zero between clusters. ``V`` is block-diagonal: :class:`BlockCovariance` stores only the blocks
(grouped by size so that algebra on them is batched), never the ``k x k`` matrix.

The result feeds ``multilevel(yi, V=..., random=["study/es"])`` and then ``robust()`` (CR2), or
:func:`whatworks.synthesis.che` in one call.

References
----------
Pustejovsky JE, Tipton E (2022). Meta-analysis with robust variance estimation: expanding the range
    of working models. Prevention Science 23:425-438.
Reference implementations tested against: clubSandwich 0.5.8 ``impute_covariance_matrix(vi,
cluster, r)`` and metafor 3.8 ``vcalc`` (tests/reference/make_random.R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError, ParameterError


def _codes(labels, name: str, k: int) -> np.ndarray:
    series = pd.Series(list(labels), dtype=object)
    if len(series) != k:
        raise InputError(f"{name} has {len(series)} labels but there are {k} effect sizes",
                         column=name)
    missing = np.flatnonzero(series.isna().to_numpy())
    if missing.size:
        raise InputError(f"the {name} label is missing", row=int(missing[0]) + 1, column=name)
    return pd.factorize(series)[0].astype(np.intp)


def size_groups(codes: np.ndarray, n_blocks: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Blocks grouped by size: a list of ``(block ids, rows (m, n))``, rows in original order."""
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_blocks)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = []
    for n in np.unique(sizes):
        if n == 0:
            continue
        ids = np.flatnonzero(sizes == n)
        out.append((ids, order[starts[ids][:, None] + np.arange(n)[None, :]]))
    return out


@dataclass(frozen=True, repr=False)
class BlockCovariance:
    """A symmetric positive-definite ``k x k`` matrix that is zero outside blocks of rows.

    ``block`` gives the block of each row (codes ``0..n_blocks-1``); ``groups`` lists, for each
    block size ``n``, the block ids, their rows ``(m, n)`` and the values ``(m, n, n)``.
    Construct it with :func:`constant_correlation` or :meth:`from_blocks`.
    """

    k: int
    block: np.ndarray
    n_blocks: int
    groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]

    def __post_init__(self):
        self.block.setflags(write=False)
        for ids, rows, values in self.groups:
            for a in (ids, rows, values):
                a.setflags(write=False)

    def __repr__(self) -> str:
        sizes = sorted({int(rows.shape[1]) for _, rows, _ in self.groups})
        return (f"BlockCovariance(k={self.k}, blocks={self.n_blocks}, "
                f"block sizes {sizes[0]}..{sizes[-1]})")

    # ---- construction ----------------------------------------------------------------------

    @classmethod
    def from_blocks(cls, blocks, cluster) -> BlockCovariance:
        """From a list of square matrices, one per cluster in order of first appearance.

        Row ``i`` of the data is the next unused row of its cluster's block (as metafor's
        ``bldiag(..., order = cluster)`` and clubSandwich's lists arrange them).
        """
        codes = _codes(cluster, "cluster", len(cluster))
        n_blocks = int(codes.max()) + 1 if codes.size else 0
        blocks = [np.atleast_2d(np.asarray(b, dtype=float)) for b in blocks]
        if len(blocks) != n_blocks:
            raise InputError(f"{len(blocks)} blocks were given for {n_blocks} clusters",
                             column="V")
        sizes = np.bincount(codes, minlength=n_blocks)
        for j, b in enumerate(blocks):
            if b.shape != (sizes[j], sizes[j]):
                raise InputError(f"block {j + 1} is {b.shape[0]} x {b.shape[1]} but its cluster "
                                 f"has {sizes[j]} effect sizes", column="V")
        groups = []
        for ids, rows in size_groups(codes, n_blocks):
            values = np.stack([blocks[j] for j in ids])
            groups.append((ids, rows, (values + np.swapaxes(values, 1, 2)) / 2))
        out = cls(codes.size, codes, n_blocks, tuple(groups))
        out.check_positive_definite()
        return out

    @classmethod
    def from_matrix(cls, V) -> BlockCovariance:
        """From a dense or sparse ``k x k`` matrix: the blocks are its connected components."""
        from scipy.sparse import csgraph

        S = sparse.csr_matrix(V)
        k = S.shape[0]
        if S.shape != (k, k):
            raise InputError(f"V must be square; it is {S.shape[0]} x {S.shape[1]}", column="V")
        n_blocks, codes = csgraph.connected_components(S, directed=False)
        codes = pd.factorize(codes)[0].astype(np.intp)
        groups = []
        for ids, rows in size_groups(codes, n_blocks):
            dense = np.asarray(S[rows.ravel()][:, rows.ravel()].todense()) if rows.size else None
            n = rows.shape[1]
            m = rows.shape[0]
            values = np.empty((m, n, n))
            for j in range(m):
                values[j] = dense[j * n:(j + 1) * n, j * n:(j + 1) * n]
            groups.append((ids, rows, (values + np.swapaxes(values, 1, 2)) / 2))
        out = cls(k, codes, n_blocks, tuple(groups))
        out.check_positive_definite()
        return out

    @classmethod
    def diagonal(cls, v) -> BlockCovariance:
        v = np.asarray(v, dtype=float).ravel()
        k = v.size
        codes = np.arange(k, dtype=np.intp)
        group = (codes, codes[:, None], v[:, None, None].copy())
        return cls(k, codes, k, (group,) if k else ())

    def check_positive_definite(self) -> None:
        for ids, _, values in self.groups:
            if not np.all(np.isfinite(values)):
                raise InputError(f"the sampling covariance of cluster {int(ids[0]) + 1} has "
                                 "missing or infinite values", column="V")
            low = np.linalg.eigvalsh(values)[:, 0]
            bad = np.flatnonzero(low <= 0)
            if bad.size:
                raise InputError(f"the sampling covariance of cluster {int(ids[bad[0]]) + 1} is "
                                 "not positive definite (check the variances are > 0 and the "
                                 "correlation is below 1)", column="V")

    # ---- views -----------------------------------------------------------------------------

    @property
    def is_diagonal(self) -> bool:
        return all(rows.shape[1] == 1 for _, rows, _ in self.groups)

    def diag(self) -> np.ndarray:
        out = np.empty(self.k)
        for _, rows, values in self.groups:
            n = rows.shape[1]
            out[rows] = values[:, np.arange(n), np.arange(n)]
        return out

    def blocks(self) -> list[np.ndarray]:
        """The blocks as a list of matrices, in cluster order (clubSandwich's list form)."""
        out: list[np.ndarray] = [np.empty((0, 0))] * self.n_blocks
        for ids, _, values in self.groups:
            for j, b in zip(ids, values, strict=True):
                out[j] = b.copy()
        return out

    def to_sparse(self) -> sparse.csr_matrix:
        r, c, x = [], [], []
        for _, rows, values in self.groups:
            n = rows.shape[1]
            r.append(np.repeat(rows, n, axis=1).ravel())
            c.append(np.tile(rows, (1, n)).ravel())
            x.append(values.ravel())
        if not r:
            return sparse.csr_matrix((self.k, self.k))
        return sparse.csr_matrix((np.concatenate(x), (np.concatenate(r), np.concatenate(c))),
                                 shape=(self.k, self.k))

    def to_dense(self) -> np.ndarray:
        """The full ``k x k`` matrix (for small problems and tests)."""
        return self.to_sparse().toarray()

    def inverse(self) -> BlockCovariance:
        groups = tuple((ids, rows, np.linalg.inv(values)) for ids, rows, values in self.groups)
        return BlockCovariance(self.k, self.block, self.n_blocks, groups)

    def logdet(self) -> float:
        return float(sum(np.linalg.slogdet(values)[1].sum() for _, _, values in self.groups))

    def position(self) -> np.ndarray:
        """Position of each row inside its block."""
        pos = np.empty(self.k, dtype=np.intp)
        for _, rows, _ in self.groups:
            pos[rows] = np.arange(rows.shape[1])[None, :]
        return pos

    def entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``V[i, j]`` elementwise for index arrays of equal shape (zero across blocks)."""
        i = np.asarray(i)
        j = np.asarray(j)
        flat = []
        offset = 0
        sizes = np.empty(self.n_blocks, dtype=np.intp)
        starts = np.empty(self.n_blocks, dtype=np.intp)
        for ids, rows, values in self.groups:
            n = rows.shape[1]
            sizes[ids] = n
            starts[ids] = offset + np.arange(ids.size) * n * n
            flat.append(values.ravel())
            offset += values.size
        flat = np.concatenate(flat) if flat else np.empty(0)
        pos = self.position()
        bi, bj = self.block[i], self.block[j]
        same = bi == bj
        idx = starts[bi] + pos[i] * sizes[bi] + pos[j]
        return np.where(same, flat[np.where(same, idx, 0)], 0.0)

    def submatrix(self, rows: np.ndarray) -> np.ndarray:
        """``V[rows][:, rows]`` for a batch of row-index arrays ``(m, n) -> (m, n, n)``."""
        rows = np.asarray(rows)
        return self.entries(rows[:, :, None], rows[:, None, :])

    def subset(self, keep: np.ndarray) -> BlockCovariance:
        """The covariance of the rows where ``keep`` is true (other rows dropped)."""
        keep = np.asarray(keep, dtype=bool)
        idx = np.flatnonzero(keep)
        codes = pd.factorize(self.block[idx])[0].astype(np.intp)
        n_blocks = int(codes.max()) + 1 if idx.size else 0
        groups = []
        for ids, rows in size_groups(codes, n_blocks):
            groups.append((ids, rows, self.submatrix(idx[rows])))
        return BlockCovariance(idx.size, codes, n_blocks, tuple(groups))


def constant_correlation(vi, cluster, rho: float) -> BlockCovariance:
    """The CHE sampling covariance: correlation ``rho`` between effects of the same cluster.

    Parameters
    ----------
    vi : sampling variances, one per effect size (all > 0).
    cluster : the cluster (usually the study) of each effect size, any hashable labels. Effects in
        different clusters are independent.
    rho : the assumed correlation between the sampling errors of two effects of one cluster,
        ``-1/(n-1) < rho < 1`` (0.6 to 0.8 are usual choices; report a sensitivity analysis).

    Returns
    -------
    BlockCovariance with ``V[i, i] = vi[i]`` and ``V[i, j] = rho * sqrt(vi[i] * vi[j])`` within a
    cluster. ``.blocks()`` lists the blocks per cluster; ``.to_sparse()`` gives a sparse matrix.

    References
    ----------
    Pustejovsky JE, Tipton E (2022). Meta-analysis with robust variance estimation: expanding the
    range of working models. Prevention Science 23:425-438. Tested against clubSandwich 0.5.8
    ``impute_covariance_matrix(vi, cluster, r = rho)``.
    """
    try:
        rho = float(rho)
    except (TypeError, ValueError):
        raise ParameterError("rho", rho, "a correlation between -1 and 1, such as 0.6") from None
    if not -1 < rho < 1:
        raise ParameterError("rho", rho, "a correlation strictly between -1 and 1, such as 0.6")
    try:
        v = np.asarray(vi, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError("the sampling variances must be numeric", column="vi") from None
    bad = np.flatnonzero(~(v > 0) | ~np.isfinite(v))
    if bad.size:
        raise InputError(f"sampling variance {v[bad[0]]:g} is not a positive number",
                         row=int(bad[0]) + 1, column="vi")
    codes = _codes(cluster, "cluster", v.size)
    n_blocks = int(codes.max()) + 1 if codes.size else 0
    groups = []
    for ids, rows in size_groups(codes, n_blocks):
        n = rows.shape[1]
        s = np.sqrt(v[rows])
        values = rho * s[:, :, None] * s[:, None, :]
        values[:, np.arange(n), np.arange(n)] = v[rows]
        groups.append((ids, rows, values))
    out = BlockCovariance(v.size, codes, n_blocks, tuple(groups))
    out.check_positive_definite()
    return out
