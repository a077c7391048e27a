"""Many intercept-only meta-analyses fitted in one vectorised call.

For simulation studies and for re-rating a whole evidence store: ``yi`` and ``vi`` are ``(n, k)``
arrays (one row per meta-analysis); rows may hold fewer studies, padded with NaN. Every estimator runs
on the whole batch at once (the same code as ``meta_analysis``), so results agree with it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._results import FrozenResult
from ..errors import InputError
from . import _wls
from .model import _fit, check_method, check_test
from .tau2 import Batch, Control

FIELDS = ("k", "estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper", "pi_lower",
          "pi_upper", "tau2", "tau2_se", "i2", "h2", "q", "q_p_value")


@dataclass(frozen=True, repr=False)
class BatchMetaAnalysis(FrozenResult):
    """Results of ``n`` meta-analyses as arrays of length ``n``."""

    method: str
    test: str
    level: float
    k: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    tau2: np.ndarray
    tau2_se: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    q: np.ndarray
    q_p_value: np.ndarray

    def __len__(self) -> int:
        return int(self.k.size)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({f: getattr(self, f) for f in FIELDS})

    def summary_text(self) -> str:
        return (f"{len(self)} meta-analyses ({self.method}, test {self.test}); "
                f"median k = {np.median(self.k):g}, median tau^2 = {np.nanmedian(self.tau2):.4g}")


def meta_analysis_batch(yi, vi, *, method: str = "REML", test: str = "z", level: float = 95,
                        control: Control | None = None, q_profile: bool = False
                        ) -> BatchMetaAnalysis:
    """Fit ``n`` intercept-only models at once; ``yi`` and ``vi`` are ``(n, k)`` arrays.

    Missing entries (NaN in ``yi`` or ``vi``) are left out of their row. Same methods, tests and
    results as :func:`whatworks.synthesis.meta_analysis` (tested equal to it).
    """
    method = check_method(method)
    test = check_test(test)
    y = np.atleast_2d(np.asarray(yi, dtype=float))
    v = np.atleast_2d(np.asarray(vi, dtype=float))
    if y.shape != v.shape:
        raise InputError(f"yi has shape {y.shape} but vi has shape {v.shape}", column="vi")
    if np.any(v < 0):
        row, col = np.argwhere(v < 0)[0]
        raise InputError("sampling variances must be >= 0", row=int(row) + 1, column=f"vi[{col}]")
    mask = (np.isfinite(y) & np.isfinite(v)).astype(float)
    k = mask.sum(axis=-1)
    if np.any(k < 2) and method not in ("FE", "EE", "CE"):
        raise InputError(f"meta-analysis {int(np.argmax(k < 2)) + 1} has fewer than 2 studies")
    y = np.where(mask > 0, y, 0.0)
    v = np.where(mask > 0, v, 1.0)
    n, kk = y.shape
    if test != "z" and np.any(k <= 1):
        raise InputError("test='knha' needs at least 2 studies in every meta-analysis")
    out = _fit(Batch(y, v, _wls.ones_design(n, kk), mask), method, test, level,
               control or Control(), intercept=True, q_profile=q_profile)
    return BatchMetaAnalysis(
        method=method, test=test, level=level, k=k.astype(int), estimate=out["beta"][:, 0],
        se=out["se"][:, 0], statistic=out["statistic"][:, 0], p_value=out["p_value"][:, 0],
        ci_lower=out["ci_lower"][:, 0], ci_upper=out["ci_upper"][:, 0],
        pi_lower=out["pi_lower"], pi_upper=out["pi_upper"], tau2=out["tau2"],
        tau2_se=out["tau2_se"], i2=out["i2"], h2=out["h2"], q=out["q"], q_p_value=out["q_p_value"])
