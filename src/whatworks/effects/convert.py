"""Converting effect sizes between metrics: log odds ratio <-> SMD, correlation <-> SMD.

Each function takes estimates and (optionally) their sampling variances, vectorised over
studies, and returns an :class:`Effects` (``yi``, ``vi``), which unpacks as ``yi, vi = ...``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from whatworks._results import Result, fmt
from whatworks.errors import InputError

_LOGISTIC = np.sqrt(3) / np.pi


@dataclass(frozen=True, repr=False)
class Effects(Result):
    """Converted effect sizes ``yi`` and their sampling variances ``vi`` (NaN where not given)."""

    yi: np.ndarray
    vi: np.ndarray
    metric: str

    @classmethod
    def of(cls, yi, vi, metric: str) -> Effects:
        """Build from arrays; 0-d input gives float fields."""
        yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
        if yi.ndim == 0:
            return cls(float(yi), float(vi), metric)
        return cls(yi, vi, metric)

    def __iter__(self):
        return iter((self.yi, self.vi))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"yi": np.atleast_1d(self.yi), "vi": np.atleast_1d(self.vi)})

    def summary_text(self) -> str:
        yi, vi = np.atleast_1d(self.yi), np.atleast_1d(self.vi)
        rows = [f"  {fmt(y)}  (vi {fmt(v)})" for y, v in zip(yi[:10], vi[:10], strict=True)]
        more = [f"  ... {len(yi) - 10} more"] if len(yi) > 10 else []
        return "\n".join([f"Effects ({self.metric}), k = {len(yi)}", *rows, *more])


def _arrays(yi, vi, name):
    y = np.asarray(yi, dtype=float)
    v = np.full_like(y, np.nan) if vi is None else np.asarray(vi, dtype=float)
    if np.any(v < 0):
        i = int(np.flatnonzero(np.atleast_1d(v < 0))[0])
        raise InputError(f"a sampling variance cannot be negative (got {np.atleast_1d(v)[i]:g}); "
                         f"check the values passed with the {name}", row=i + 1, column="vi")
    return y, v


def lnor_to_smd(yi, vi=None) -> Effects:
    """Log odds ratio to standardised mean difference: d = ln(OR)·√3/π, v_d = v·3/π².

    Assumes the binary outcome dichotomises an underlying logistic variable.

    References
    ----------
    Chinn, S. (2000). A simple method for converting an odds ratio to effect size for use in
    meta-analysis. *Statistics in Medicine*, 19(22), 3127-3131.
    Hasselblad, V., & Hedges, L. V. (1995). Meta-analysis of screening and diagnostic tests.
    *Psychological Bulletin*, 117(1), 167-178.
    Tested against metafor 3.8 ``escalc(measure="OR2DL")``.
    """
    y, v = _arrays(yi, vi, "log odds ratios")
    return Effects.of(y * _LOGISTIC, v * _LOGISTIC**2, "SMD")


def smd_to_lnor(yi, vi=None) -> Effects:
    """Standardised mean difference to log odds ratio: ln(OR) = d·π/√3, v = v_d·π²/3.

    The inverse of :func:`lnor_to_smd`. metafor 3.8's ``D2ORL`` applies it to Cohen's d (not
    Hedges' g); pass whichever you intend to convert.

    References
    ----------
    Chinn (2000); Hasselblad & Hedges (1995), as for :func:`lnor_to_smd`.
    Tested against metafor 3.8 ``escalc(measure="D2ORL")``.
    """
    y, v = _arrays(yi, vi, "standardised mean differences")
    return Effects.of(y / _LOGISTIC, v / _LOGISTIC**2, "log OR")


def _a_factor(n1i, n2i):
    if (n1i is None) != (n2i is None):
        raise InputError("give both n1i and n2i, or neither (then equal group sizes are assumed)")
    if n1i is None:
        return 4.0
    n1, n2 = np.asarray(n1i, dtype=float), np.asarray(n2i, dtype=float)
    if np.any(n1 < 1) or np.any(n2 < 1):
        raise InputError("group sizes n1i and n2i must be at least 1")
    return (n1 + n2) ** 2 / (n1 * n2)


def r_to_smd(ri, vi=None, *, n1i=None, n2i=None) -> Effects:
    """Correlation (point-biserial) to standardised mean difference.

    With a = (n1 + n2)²/(n1 n2) (a = 4 for equal groups, the default when sizes are not
    given): d = r·√a / √(1 - r²), v_d = a·v_r / (1 - r²)³.

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009).
    *Introduction to meta-analysis*, chapter 7 ("Converting among effect sizes").
    Chichester: Wiley. Tested against an independent R implementation of these equations
    (``tests/reference/make_effects.R``) and by round trip with :func:`smd_to_r`.
    """
    r, v = _arrays(ri, vi, "correlations")
    if np.any(np.abs(r) >= 1):
        raise InputError("a correlation must lie strictly between -1 and 1 to convert to d")
    a = _a_factor(n1i, n2i)
    return Effects.of(r * np.sqrt(a) / np.sqrt(1 - r**2), a * v / (1 - r**2) ** 3, "SMD")


def smd_to_r(yi, vi=None, *, n1i=None, n2i=None) -> Effects:
    """Standardised mean difference to (point-biserial) correlation.

    r = d / √(d² + a), v_r = a²·v_d / (d² + a)³, with a as in :func:`r_to_smd`.

    References
    ----------
    Borenstein et al. (2009), chapter 7, as for :func:`r_to_smd`.
    Tested against an independent R implementation (``tests/reference/make_effects.R``).
    """
    d, v = _arrays(yi, vi, "standardised mean differences")
    a = _a_factor(n1i, n2i)
    return Effects.of(d / np.sqrt(d**2 + a), a**2 * v / (d**2 + a) ** 3, "COR")
