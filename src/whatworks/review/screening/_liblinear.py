"""LIBLINEAR's L2-loss SVM through its official binding, with the records converted once.

LIBLINEAR reads each training row as an array of ``feature_node`` (1-based feature index, value),
ended by the bias node and a terminator. :class:`Rows` lays out every record of a CSR matrix that
way once (vectorised); a fit builds LIBLINEAR's ``problem`` from pointers to the labelled rows, so
refitting after each screening decision copies nothing but the labels. Only ``liblinear-official``
(Fan et al. 2008; BSD licence), numpy and the C library are imported.

References
----------
Fan RE, Chang KW, Hsieh CJ, Wang XR, Lin CJ (2008). LIBLINEAR: a library for large linear
classification. JMLR 9:1871-1874.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

import numpy as np
from liblinear import liblinear as _ll

__all__ = ["Rows", "train_l2_svm"]

_ll.liblinear.set_print_string_function(_ll.ctypes_print_null)  # LIBLINEAR prints progress otherwise
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_LOCK = threading.Lock()  # the C library's rand() state is one per process
_L2R_L2LOSS_SVC_DUAL = 1
_NODE = ctypes.sizeof(_ll.feature_node)


class Rows:
    """Rows of a CSR matrix as LIBLINEAR feature nodes (with a bias feature of value 1), each row
    converted the first time a fit needs it and kept: memory grows with the labelled rows only."""

    def __init__(self, X):
        from scipy import sparse

        self.X = X if sparse.isspmatrix_csr(X) else sparse.csr_matrix(X)
        self.n_features = self.X.shape[1]
        self._pointers = np.zeros(self.X.shape[0], dtype=np.uint64)  # 0: not converted yet
        self._chunks: list[np.ndarray] = []  # the node arrays the pointers point into

    def pointers(self, which: np.ndarray) -> np.ndarray:
        """The address of each row's first node, converting the rows not seen before."""
        new = np.unique(which[self._pointers[which] == 0])
        if len(new):
            part = self.X[new]
            if not part.has_sorted_indices:
                part.sort_indices()
            n, nnz = len(new), np.diff(part.indptr)
            space = np.empty(part.nnz + 2 * n, dtype=_ll.feature_node)
            start = part.indptr[:-1] + 2 * np.arange(n, dtype=np.int64)
            at = np.arange(part.nnz, dtype=np.int64) + 2 * np.repeat(np.arange(n, dtype=np.int64), nnz)
            space["index"][at] = part.indices + 1
            space["value"][at] = part.data
            end = start + nnz
            space["index"][end], space["value"][end] = self.n_features + 1, 1.0  # the bias feature
            space["index"][end + 1], space["value"][end + 1] = -1, 0.0  # end of the row
            self._chunks.append(space)
            self._pointers[new] = (start * _NODE + space.ctypes.data).astype(np.uint64)
        return self._pointers[which]


def train_l2_svm(rows: Rows, which: np.ndarray, positive: np.ndarray, *, C: float,
                 class_weight: tuple[float, float], tol: float, seed: int) -> np.ndarray:
    """Weights (features, then the intercept) of the L2-loss SVM on rows ``which`` of ``rows``.

    ``positive`` marks the rows of class 1 (scored positive); ``class_weight`` multiplies C for
    (class 1, class 0); LIBLINEAR's coordinate order is shuffled by ``rand()`` seeded with ``seed``.
    """
    l = len(which)
    prob = _ll.problem.__new__(_ll.problem)  # filled here: the binding's constructor copies rows
    prob.l, prob.n, prob.bias = l, rows.n_features + 1, 1.0
    y = (ctypes.c_double * l)()
    np.ctypeslib.as_array(y, (l,))[:] = np.where(positive, 1.0, -1.0)
    x = (ctypes.POINTER(_ll.feature_node) * l)()
    np.ctypeslib.as_array(ctypes.cast(x, ctypes.POINTER(ctypes.c_uint64)), (l,))[:] = rows.pointers(which)
    prob.y, prob.x = y, x
    param = _ll.parameter.__new__(_ll.parameter)
    param.solver_type, param.eps, param.C = _L2R_L2LOSS_SVC_DUAL, float(tol), float(C)
    labels = (ctypes.c_int * 2)(1, -1)
    weights = (ctypes.c_double * 2)(float(class_weight[0]), float(class_weight[1]))
    param.nr_weight, param.weight_label, param.weight = 2, labels, weights
    param.p, param.nu, param.init_sol, param.regularize_bias, param.w_recalc = 0.1, 0.5, None, 1, False
    with _LOCK:
        _LIBC.srand(ctypes.c_uint(seed))
        model = _ll.liblinear.train(prob, param)
    try:
        w = np.ctypeslib.as_array(model.contents.w, (rows.n_features + 1,)).copy()
        first = model.contents.label[0]
    finally:
        _ll.liblinear.free_and_destroy_model(ctypes.pointer(model))
    return w if first == 1 else -w  # LIBLINEAR scores its first label positive
