"""The correlated-and-hierarchical-effects (CHE) model with cluster-robust (CR2) inference.

Pustejovsky & Tipton (2022) recommend this working model for meta-analyses in which studies
contribute several effect sizes: the sampling errors of a study's effects are correlated with an
assumed constant ``rho`` (:func:`.covariance.constant_correlation`), the true effects vary between
studies and between effects within a study (``random = ~ 1 | study/es``), and inference is
cluster-robust by study (CR2 with Satterthwaite degrees of freedom; HTZ for several moderators),
so it stays valid when ``rho`` or the random-effects structure is wrong.

References
----------
Pustejovsky JE, Tipton E (2022). Meta-analysis with robust variance estimation: expanding the range
    of working models. Prevention Science 23:425-438.
Reference implementations tested against: metafor 3.8 ``vcalc`` + ``rma.mv(yi, V, random = ~ 1 |
study/es)`` and clubSandwich 0.5.8 ``coef_test(vcov = "CR2")``, ``Wald_test(test = "HTZ")``
(tests/reference/make_random.R).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._results import FrozenResult
from ..errors import InputError, WhatWorksWarning
from .covariance import constant_correlation
from .multilevel import MultilevelResult, _column, _numeric, label_array, multilevel
from .robust import RobustResult, robust


@dataclass(frozen=True, repr=False)
class CHEResult(FrozenResult):
    """A CHE fit: the multilevel model with the imputed covariance, and its CR2 inference.

    ``estimate`` .. ``ci_upper`` are the cluster-robust values for the first coefficient.
    """

    rho: float
    estimate: float
    se: float
    df: float
    p_value: float
    ci_lower: float
    ci_upper: float
    model: MultilevelResult
    robust: RobustResult

    def to_dict(self) -> dict:
        return {"rho": self.rho, "estimate": self.estimate, "se": self.se, "df": self.df,
                "p_value": self.p_value, "ci_lower": self.ci_lower, "ci_upper": self.ci_upper,
                "model": self.model.to_dict(), "robust": self.robust.to_dict()}

    def summary_text(self) -> str:
        return (f"Correlated and hierarchical effects (CHE) model, rho = {self.rho:g}\n\n"
                f"{self.model.summary_text()}\n\n{self.robust.summary_text()}")


def che(yi, vi, *, study, rho: float, es=None, mods=None, data: pd.DataFrame | None = None,
        method: str = "REML", level: float = 95, intercept: bool = True, adjust: str = "CR2",
        start=None) -> CHEResult:
    """Fit the CHE working model and test its coefficients with CR2 (clustered by study).

    Parameters
    ----------
    yi, vi : effect sizes and sampling variances (arrays, or column names in ``data``).
    study : the study (cluster) of each effect size.
    rho : the assumed correlation between the sampling errors of one study's effects.
    es : the effect within its study (defaults to one per row).
    mods, method, level, intercept, start : as for :func:`.multilevel.multilevel`.
    adjust : "CR2" (default, Satterthwaite df and HTZ) or "CR1".

    Rows with a missing effect, variance, moderator or label are left out with a warning before
    the covariance is built.

    References
    ----------
    Pustejovsky JE, Tipton E (2022). Prevention Science 23:425-438. Tested against metafor 3.8
    and clubSandwich 0.5.8.
    """
    y = _numeric(_column(yi, data, "yi"), "yi")
    v = _numeric(_column(vi, data, "vi"), "vi")
    k = y.size
    if v.size != k:
        raise InputError(f"yi has {k} values but vi has {v.size}", column="vi")
    s_name = study if isinstance(study, str) else "study"
    e_name = es if isinstance(es, str) else "es"
    if e_name == s_name:
        raise InputError("study and es must be different columns", column=str(es))
    s_lab = label_array(_column(study, data, "study"))
    e_lab = np.arange(k).astype(object) if es is None else label_array(_column(es, data, "es"))
    if s_lab.size != k or e_lab.size != k:
        raise InputError(f"study and es need {k} labels each (one per effect size)",
                         column=s_name)
    frame = pd.DataFrame({"_y": y, "_v": v, s_name: s_lab, e_name: e_lab})
    if isinstance(mods, str):
        mods = [mods]
    if isinstance(mods, (list, tuple)) and mods and all(isinstance(m, str) for m in mods):
        if data is None:
            raise InputError("moderators are named as columns but no data was given", column="mods")
        mods = data[list(mods)]
    mod_frame = None
    if mods is not None:
        mod_frame = pd.DataFrame(mods) if not isinstance(mods, pd.DataFrame) else mods
        mod_frame = mod_frame.reset_index(drop=True)
        if len(mod_frame) != k:
            raise InputError(f"the moderators have {len(mod_frame)} rows but yi has {k}",
                             column="mods")
    keep = (np.isfinite(y) & np.isfinite(v) & frame[s_name].notna().to_numpy()
            & frame[e_name].notna().to_numpy())
    if mod_frame is not None:
        keep &= mod_frame.notna().all(axis=1).to_numpy()
    if not keep.all():
        warnings.warn(f"{int((~keep).sum())} effect sizes with missing values were left out",
                      WhatWorksWarning, stacklevel=2)
        frame = frame[keep].reset_index(drop=True)
        if mod_frame is not None:
            mod_frame = mod_frame[keep].reset_index(drop=True)
    V = constant_correlation(frame["_v"].to_numpy(), frame[s_name].to_numpy(), rho)
    model = multilevel(frame["_y"].to_numpy(), V=V, random=[f"{s_name}/{e_name}"], data=frame,
                       mods=mod_frame, method=method, level=level, intercept=intercept,
                       start=start)
    rob = robust(model, adjust=adjust, level=level)
    return CHEResult(float(rho), rob.estimate, rob.se, rob.df, rob.p_value, rob.ci_lower,
                     rob.ci_upper, model, rob)
