"""Design matrices for meta-regression, coded as R codes them.

Numeric columns enter as they are; text, boolean and categorical columns are dummy coded with the
alphabetically first level as the reference (R's treatment contrasts), named ``column + level``
(``allocrandom``), and the intercept, named ``intrcpt`` as metafor names it, comes first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError


def design_matrix(mods, *, intercept: bool = True, k: int | None = None
                  ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Build ``X`` and its column names from moderators (DataFrame, dict, array or None)."""
    if mods is None:
        if k is None:
            raise InputError("the number of studies is needed for an intercept-only design")
        return np.ones((k, 1)), ("intrcpt",)
    if isinstance(mods, pd.Series):
        mods = mods.to_frame()
    if isinstance(mods, dict):
        mods = pd.DataFrame(mods)
    if not isinstance(mods, pd.DataFrame):
        arr = np.asarray(mods, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        mods = pd.DataFrame(arr, columns=[f"mod{j + 1}" for j in range(arr.shape[1])])
    columns: list[np.ndarray] = []
    names: list[str] = []
    full_coding = not intercept  # without an intercept, R codes the first factor in full
    if intercept:
        columns.append(np.ones(len(mods)))
        names.append("intrcpt")
    for col in mods.columns:
        s = mods[col]
        if is_numeric(s):
            columns.append(s.to_numpy(dtype=float))
            names.append(str(col))
            continue
        levels = sorted({str(x) for x in s.dropna()}) if not isinstance(
            s.dtype, pd.CategoricalDtype) else [str(x) for x in s.cat.categories]
        text = s.astype("string")
        missing = s.isna().to_numpy()
        for level in levels if full_coding else levels[1:]:
            dummy = (text == level).to_numpy(dtype=float, na_value=0.0)
            dummy[missing] = np.nan
            columns.append(dummy)
            names.append(f"{col}{level}")
        full_coding = False
    if not columns:
        raise InputError("no moderators and no intercept: the model has nothing to estimate")
    return np.column_stack(columns), tuple(names)


def is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
