"""Sensitivity analyses of a fitted meta-analysis: leave-one-out, influence, cumulative, Baujat.

Every function takes a fitted :class:`~whatworks.synthesis.MetaAnalysis` and refits the same model
(tau² estimator, test, level, convergence control) on subsets of its studies. The subsets are fitted
as one batch through the same vectorised code as ``meta_analysis`` (one row per subset, the left-out
studies masked), so ``k`` leave-one-out fits cost about as much as one fit with ``k`` times the data.

References
----------
Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for meta-analysis.
    Res Synth Methods 1:112-125. (externally standardised residuals, DFFITS, Cook's distance,
    covariance ratio, DFBETAS, leave-one-out tau² and Q)
Belsley DA, Kuh E, Welsch RE (1980). Regression Diagnostics. Wiley.
Cook RD, Weisberg S (1982). Residuals and Influence in Regression. Chapman and Hall.
Lau J, Antman EM, Jimenez-Silva J, et al. (1992). Cumulative meta-analysis of therapeutic trials
    for myocardial infarction. N Engl J Med 327:248-254. (cumulative meta-analysis)
Baujat B, Mahe C, Pignon J-P, Hill C (2002). A graphical method for exploring heterogeneity in
    meta-analyses. Stat Med 21:2641-2652; generalised to random- and mixed-effects models as in
    Viechtbauer W (2021), Model checking in meta-analysis, Handbook of Meta-Analysis, CRC Press.
Reference implementation tested against: metafor 3.8 ``leave1out``, ``influence``, ``cumul``,
``baujat`` (tests/reference/make_bias_sensitivity.R).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from .._results import FrozenResult, fmt
from ..errors import InputError
from . import _wls
from .model import MetaAnalysis, _fit, meta_analysis
from .tau2 import COMMON_EFFECT, Batch

CHUNK_VALUES = 2_000_000  # values per array in one batch (about 16 MB): bounds memory for large k


def refit(fit: MetaAnalysis, yi, vi, X: np.ndarray | None = None, *, method: str | None = None,
          test: str | None = None, extra: dict[str, np.ndarray] | None = None,
          labels=None) -> MetaAnalysis:
    """Fit ``fit``'s model (method, test, level, control) to other data.

    ``X`` is a design with the same columns as ``fit.X`` (``fit.X`` itself when None); ``extra``
    adds named columns after them (the predictor of a regression test).
    """
    X = fit.X if X is None else X
    names = list(fit.names)
    has_intercept = names[:1] == ["intrcpt"]
    cols = {name: X[:, j] for j, name in enumerate(names) if not (j == 0 and has_intercept)}
    cols.update(extra or {})
    mods = pd.DataFrame(cols) if cols else None
    return meta_analysis(np.asarray(yi, float), np.asarray(vi, float), mods=mods,
                         method=method or fit.method, test=test or fit.test, level=fit.level,
                         intercept=has_intercept, labels=labels, control=fit.control)


def _is_intercept_only(fit: MetaAnalysis) -> bool:
    return fit.names == ("intrcpt",)


def fit_subsets(fit: MetaAnalysis, rows: np.ndarray, mask=None, *, X: np.ndarray | None = None,
                y: np.ndarray | None = None, with_cov: bool = True) -> dict[str, np.ndarray]:
    """Refit ``fit``'s model to many subsets or variants of its data, in memory-bounded batches.

    ``rows`` indexes the refits; ``mask(rows)`` returns their 0/1 study masks (all studies when
    None). ``X`` may give a design per refit ``(n, k, p)`` and ``y`` outcomes per refit ``(n, k)``
    (permutation tests); by default every refit uses the fit's own. Returns the arrays of
    ``model._fit`` plus ``vb`` (the coefficients' covariance matrices) and ``s2`` (the
    Knapp-Hartung factor; not with ``with_cov=False``), one row per refit. ML and REML start
    from the fit's tau².
    """
    rows = np.asarray(rows)
    k = fit.k
    control = fit.control
    if fit.method in ("ML", "REML") and control.tau2_init is None:
        control = replace(control, tau2_init=fit.tau2)
    parts: list[dict] = []
    chunk = max(1, CHUNK_VALUES // (k * fit.p))
    for start in range(0, rows.size, chunk):
        part = slice(start, min(start + chunk, rows.size))
        idx = rows[part]
        nb = idx.size
        m = np.ones((nb, k)) if mask is None else mask(idx)
        yy = np.broadcast_to(fit.yi, (nb, k)) if y is None else y[part]
        vv = np.broadcast_to(fit.vi, (nb, k))
        if X is not None:
            XX = X[part]
        elif _is_intercept_only(fit):
            XX = _wls.ones_design(nb, k)
        else:
            XX = np.broadcast_to(fit.X[None], (nb, k, fit.p))
        batch = Batch(np.ascontiguousarray(yy), np.ascontiguousarray(vv), XX, m)
        out = _fit(batch, fit.method, fit.test, fit.level, control, intercept=True,
                   q_profile=False)
        if with_cov:  # leave_one_out does not need them: one pass over the batch less
            out["vb"], out["s2"] = _coef_cov(batch, out, fit)
        parts.append(out)
    keys = [key for key in parts[0] if key != "qm_df"]
    return {key: np.concatenate([part[key] for part in parts]) for key in keys}


def _drop_one(k: int):
    """Masks for leaving out study ``i`` for each ``i`` in ``rows``."""
    def mask(rows: np.ndarray) -> np.ndarray:
        m = np.ones((rows.size, k))
        m[np.arange(rows.size), rows] = 0.0
        return m
    return mask


def _coef_cov(b: Batch, out: dict, fit: MetaAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Covariance matrices of the coefficients and the Knapp-Hartung factor (1 under test z)."""
    w = b.mask / (b.v + out["tau2"][:, None])
    wf = _wls.wls(b.X, b.y, w)
    s2 = np.ones(b.y.shape[0])
    if fit.test in ("knha", "adhoc"):
        s2 = wf.rss / (b.k - b.p)
        if fit.test == "adhoc":
            s2 = np.maximum(s2, 1.0)
    return wf.A * s2[:, None, None], s2


def _full_cov(fit: MetaAnalysis) -> np.ndarray:
    """The fitted model's coefficient covariance matrix."""
    w = 1.0 / (fit.vi + fit.tau2)
    A = np.linalg.inv((fit.X * w[:, None]).T @ fit.X)
    if fit.test in ("knha", "adhoc"):
        beta = np.array([c.estimate for c in fit.coefficients])
        s2 = float((w * (fit.yi - fit.X @ beta) ** 2).sum()) / (fit.k - fit.p)
        return A * (max(s2, 1.0) if fit.test == "adhoc" else s2)
    return A


def _deletable(fit: MetaAnalysis) -> np.ndarray:
    """Which single-study deletions leave an estimable model."""
    k, p = fit.k, fit.p
    random_or_t = fit.method not in COMMON_EFFECT or fit.test != "z"
    ok = np.full(k, k - 1 > p if random_or_t else k - 1 >= p)
    if p > 1:
        # deleting study i leaves X rank deficient exactly when its (unweighted) leverage is 1
        q, _ = np.linalg.qr(fit.X)
        ok &= (q * q).sum(axis=1) < 1 - 1e-8
    return ok


# -- leave-one-out -----------------------------------------------------------------------------

LOO_FIELDS = ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper", "q", "q_p_value",
              "tau2", "i2", "h2")


@dataclass(frozen=True, repr=False)
class LeaveOneOut(FrozenResult):
    """The model refitted with each study left out in turn (row ``i``: study ``i`` omitted)."""

    method: str
    test: str
    labels: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    q: np.ndarray
    q_p_value: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    h2: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per omitted study."""
        frame = pd.DataFrame({f: getattr(self, f) for f in LOO_FIELDS})
        frame.insert(0, "omitted", list(self.labels))
        return frame

    def to_dict(self) -> list[dict]:  # type: ignore[override]
        """A list with one JSON-ready dict per omitted study (keys ``omitted``, ``estimate``, ...)."""
        from .._results import jsonable

        return jsonable(self.to_frame().to_dict(orient="records"))

    def summary_text(self) -> str:
        lines = [f"Leave-one-out analysis ({self.method}, test {self.test})"]
        lines.append(self.to_frame().to_string(index=False, float_format=lambda x: fmt(x)))
        return "\n".join(lines)


def leave_one_out(fit: MetaAnalysis) -> LeaveOneOut:
    """Refit an intercept-only model ``k`` times, leaving out one study each time.

    Returns the pooled estimate, its test and interval, Q, tau², I² and H² without each study, as
    metafor's ``leave1out``. For meta-regression models use :func:`influence`.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Res Synth Methods 1:112-125.
    Tested against metafor 3.8 ``leave1out``.
    """
    if not _is_intercept_only(fit):
        raise InputError("leave-one-out is for models without moderators; use influence() for "
                         "a meta-regression", column="mods")
    if fit.k < 2 or (fit.test != "z" and fit.k < 3):
        raise InputError(f"leave-one-out needs at least {2 if fit.test == 'z' else 3} studies "
                         f"(k = {fit.k})")
    out = fit_subsets(fit, np.arange(fit.k), _drop_one(fit.k), with_cov=False)
    return LeaveOneOut(
        method=fit.method, test=fit.test, labels=fit.study_labels,
        estimate=out["beta"][:, 0], se=out["se"][:, 0], statistic=out["statistic"][:, 0],
        p_value=out["p_value"][:, 0], ci_lower=out["ci_lower"][:, 0],
        ci_upper=out["ci_upper"][:, 0], q=out["q"], q_p_value=out["q_p_value"], tau2=out["tau2"],
        i2=out["i2"], h2=out["h2"])


# -- influence diagnostics ---------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Influence(FrozenResult):
    """Outlier and influence diagnostics, one value per study (Viechtbauer & Cheung 2010)."""

    method: str
    test: str
    labels: tuple[str, ...]
    names: tuple[str, ...]
    rstudent: np.ndarray
    dffits: np.ndarray
    cook_d: np.ndarray
    cov_r: np.ndarray
    tau2_del: np.ndarray
    qe_del: np.ndarray
    hat: np.ndarray
    weight: np.ndarray
    dfbetas: np.ndarray
    influential: np.ndarray

    FIELDS = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight")

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({f: getattr(self, f) for f in self.FIELDS})
        for j, name in enumerate(self.names):
            frame[f"dfbetas_{name}"] = self.dfbetas[:, j]
        frame["influential"] = self.influential
        frame.insert(0, "study", list(self.labels))
        return frame

    def summary_text(self) -> str:
        flagged = [lab for lab, f in zip(self.labels, self.influential, strict=True) if f]
        head = (f"Influence diagnostics ({self.method}, test {self.test}); influential: "
                f"{', '.join(flagged) if flagged else 'none'}")
        return head + "\n" + self.to_frame().to_string(index=False, float_format=lambda x: fmt(x))


def influence(fit: MetaAnalysis) -> Influence:
    """Leave-one-out influence diagnostics for a (mixed-effects) meta-analysis model.

    For study ``i`` with the model refitted without it (subscript ``(-i)``), ``b`` the coefficients,
    ``V_b`` their covariance matrix, ``s²_(-i)`` the Knapp-Hartung factor of the refit (1 under
    test "z"), ``w_j = 1/(v_j + tau²)`` and ``h_i = w_i x_i'(X'WX)^-1 x_i`` the hat value:

    - ``rstudent = (y_i - x_i'b_(-i)) / sqrt((v_i + tau²_(-i)) s²_(-i) + x_i'V_b(-i) x_i)``
    - ``dffits = x_i'(b - b_(-i)) / sqrt(h_i (v_i + tau²_(-i)) s²_(-i))``
    - ``cook_d = (b - b_(-i))' V_b^-1 (b - b_(-i))``
    - ``cov_r = det V_b(-i) / det V_b``
    - ``dfbetas = (b - b_(-i)) / sqrt(diag (X'W_(-i)X)^-1 s²_(-i))``, where ``W_(-i)`` weights
      all ``k`` studies by ``1/(v_j + tau²_(-i))`` (metafor's choice; verified numerically).

    A study is flagged influential when ``|dffits| > 3 sqrt(p/(k-p))``, the chi-square(p) lower
    tail area at ``cook_d`` exceeds 0.5, ``h_i > 3p/k`` or any ``|dfbetas| > 1``.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Res Synth Methods 1:112-125.
    Belsley DA, Kuh E, Welsch RE (1980). Regression Diagnostics. Wiley.
    Tested against metafor 3.8 ``influence.rma.uni``.
    """
    k, p = fit.k, fit.p
    if k <= p:
        raise InputError(f"influence diagnostics need more studies than coefficients (k = {k}, "
                         f"p = {p}): with one study left out nothing can be refitted")
    ok = _deletable(fit)
    beta_del = np.full((k, p), np.nan)
    vb_del = np.full((k, p, p), np.nan)
    tau2_del, qe_del, s2_del = (np.full(k, np.nan) for _ in range(3))
    if ok.any():
        out = fit_subsets(fit, np.flatnonzero(ok), _drop_one(k))
        beta_del[ok], vb_del[ok], s2_del[ok] = out["beta"], out["vb"], out["s2"]
        tau2_del[ok], qe_del[ok] = out["tau2"], out["q"]
    beta = np.array([c.estimate for c in fit.coefficients])
    vb = _full_cov(fit)
    x = fit.X
    w = 1.0 / (fit.vi + fit.tau2)
    hat = w * np.einsum("ip,pq,iq->i", x, np.linalg.inv((x * w[:, None]).T @ x), x)
    pred_del = np.einsum("ip,ip->i", x, beta_del)
    var_pred_del = np.einsum("ip,ipq,iq->i", x, vb_del, x)
    rstudent = (fit.yi - pred_del) / np.sqrt((fit.vi + tau2_del) * s2_del + var_pred_del)
    diff = beta[None, :] - beta_del
    dffits = np.einsum("ip,ip->i", x, diff) / np.sqrt(hat * (tau2_del + fit.vi) * s2_del)
    cook = np.einsum("ip,pq,iq->i", diff, np.linalg.inv(vb), diff)
    with np.errstate(invalid="ignore"):
        cov_r = np.linalg.det(vb_del) / np.linalg.det(vb)
        dfbetas = diff / np.sqrt(_all_studies_var(fit, tau2_del) * s2_del[:, None])
        flagged = ((np.abs(dffits) > 3 * np.sqrt(p / (k - p)))
                   | (stats.chi2.cdf(cook, p) > 0.5) | (hat > 3 * p / k)
                   | (np.abs(dfbetas) > 1).any(axis=1))
    return Influence(
        method=fit.method, test=fit.test, labels=fit.study_labels, names=fit.names,
        rstudent=rstudent, dffits=dffits, cook_d=cook, cov_r=cov_r, tau2_del=tau2_del,
        qe_del=qe_del, hat=hat, weight=100 * w / w.sum(), dfbetas=dfbetas,
        influential=flagged & ok)


def _all_studies_var(fit: MetaAnalysis, tau2: np.ndarray) -> np.ndarray:
    """``diag (X'W X)^-1`` over all ``k`` studies with weights ``1/(v + tau2[i])``, per row ``i``."""
    out = np.full((tau2.size, fit.p), np.nan)
    finite = np.flatnonzero(np.isfinite(tau2))
    chunk = max(1, CHUNK_VALUES // (fit.k * fit.p))
    for start in range(0, finite.size, chunk):
        rows = finite[start:start + chunk]
        w = 1.0 / (fit.vi[None, :] + tau2[rows, None])
        M = np.einsum("kp,nk,kq->npq", fit.X, w, fit.X)
        out[rows] = np.einsum("npp->np", np.linalg.inv(M))
    return out


# -- cumulative meta-analysis ------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Cumulative(FrozenResult):
    """Cumulative meta-analysis: row ``j`` pools the first ``j + 1`` studies in ``order``."""

    method: str
    test: str
    labels: tuple[str, ...]
    order: np.ndarray
    k: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    q: np.ndarray
    q_p_value: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    h2: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({f: getattr(self, f) for f in ("k",) + LOO_FIELDS})
        frame.insert(0, "added", list(self.labels))
        return frame

    def summary_text(self) -> str:
        return (f"Cumulative meta-analysis ({self.method}, test {self.test})\n"
                + self.to_frame().to_string(index=False, float_format=lambda x: fmt(x)))


def cumulative(fit: MetaAnalysis, order=None) -> Cumulative:
    """Cumulative meta-analysis: add the studies one at a time and refit (as metafor ``cumul``).

    ``order`` is a variable to sort the studies by (a publication year, say; ties keep the data
    order), or None for the data order. The first row holds a single study: its estimate with a
    normal-theory test, tau² = 0, as metafor reports it.

    References
    ----------
    Lau J, et al. (1992). N Engl J Med 327:248-254.
    Tested against metafor 3.8 ``cumul``.
    """
    if not _is_intercept_only(fit):
        raise InputError("a cumulative meta-analysis is for models without moderators",
                         column="mods")
    k = fit.k
    if order is None:
        idx = np.arange(k)
    else:
        values = np.asarray(order)
        if values.shape != (k,):
            raise InputError(f"order has {values.size} values for {k} studies", column="order")
        idx = np.argsort(values, kind="stable")
    rank = np.argsort(idx)  # position of each study in the order

    def first_studies(rows: np.ndarray) -> np.ndarray:  # row j: the first j + 1 studies
        return (rank[None, :] <= rows[:, None]).astype(float)

    out = {key: np.full(k, np.nan) for key in LOO_FIELDS}
    if k > 1:
        res = fit_subsets(fit, np.arange(1, k), first_studies)
        for key, src in zip(LOO_FIELDS, ("beta", "se", "statistic", "p_value", "ci_lower",
                                         "ci_upper", "q", "q_p_value", "tau2", "i2", "h2"), strict=True):
            val = res[src]
            out[key][1:] = val[:, 0] if val.ndim == 2 else val
    first = idx[0]
    y1, se1 = fit.yi[first], np.sqrt(fit.vi[first])
    crit = stats.norm.ppf(1 - (1 - fit.level / 100) / 2)
    for key, value in dict(estimate=y1, se=se1, statistic=y1 / se1,
                           p_value=2 * stats.norm.sf(abs(y1 / se1)), ci_lower=y1 - crit * se1,
                           ci_upper=y1 + crit * se1, q=0.0, q_p_value=1.0, tau2=0.0, i2=0.0,
                           h2=1.0).items():
        out[key][0] = value
    labels = tuple(fit.study_labels[i] for i in idx)
    return Cumulative(method=fit.method, test=fit.test, labels=labels, order=idx,
                      k=np.arange(1, k + 1), **out)


# -- Baujat plot -------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Baujat(FrozenResult):
    """Baujat plot coordinates: ``x`` contribution to heterogeneity, ``y`` influence on the fit."""

    labels: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"study": list(self.labels), "x": self.x, "y": self.y})

    def summary_text(self) -> str:
        return "Baujat plot values\n" + self.to_frame().to_string(
            index=False, float_format=lambda x: fmt(x))


def baujat(fit: MetaAnalysis) -> Baujat:
    """Baujat et al. (2002) diagnostics, generalised to random- and mixed-effects models.

    ``x_i = (y_i - x_i'b)² / (v_i + tau²)`` is study ``i``'s squared Pearson residual (its share of
    Q in a common-effect model); ``y_i = (x_i'b - x_i'b_(-i))² / (x_i'V_b(-i) x_i)`` the squared
    change in its fitted value when it is left out, standardised by the variance of the
    leave-one-out fitted value.

    References
    ----------
    Baujat B, Mahe C, Pignon J-P, Hill C (2002). Stat Med 21:2641-2652.
    Viechtbauer W (2021). Model checking in meta-analysis. Handbook of Meta-Analysis. CRC Press.
    Tested against metafor 3.8 ``baujat``.
    """
    ok = _deletable(fit)
    beta = np.array([c.estimate for c in fit.coefficients])
    x = fit.X
    pred = x @ beta
    resid_x = (fit.yi - pred) ** 2 / (fit.vi + fit.tau2)
    y = np.full(fit.k, np.nan)
    if ok.any():
        out = fit_subsets(fit, np.flatnonzero(ok), _drop_one(fit.k))
        xo = x[ok]
        pred_del = np.einsum("ip,ip->i", xo, out["beta"])
        var_del = np.einsum("ip,ipq,iq->i", xo, out["vb"], xo)
        y[ok] = (pred[ok] - pred_del) ** 2 / var_del
    return Baujat(labels=fit.study_labels, x=resid_x, y=y)

